"""The schools in the admin, and who belongs to which.

- Operators (superusers, models/tenant.py) see, add and change every school; a school admin (a
  staff user whose membership says so) sees and changes only their own school, read through the
  membership, and neither its corp id nor its status. Nobody deletes a school here: uninstalling
  and purging a school's data is its own procedure.
- Secrets are write-only password inputs that say 已设置 / 未设置 and never show the value; a
  blank input keeps the stored secret (models/encrypted.py).
- The default school's WeCom settings come from the environment (WECOM_*): shown, read-only.
"""

from django import forms
from django.conf import settings
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .admin_autocomplete import SafeAutocomplete
from .models import School, SchoolMembership, is_operator, is_school_admin
from .models.tenant import CORP_ID_PATTERN, encoding_aes_key_valid

admin.site.site_header = _("school_live administration")
admin.site.site_title = _("school_live administration")


def _admin_school_id(request) -> int | None:
    """The one school a non-operator may see in the admin: a school admin's own, else none."""
    user = request.user
    return user.school_membership.school_id if is_school_admin(user) else None


class SchoolForm(forms.ModelForm):
    class Meta:
        model = School
        fields = [
            "name",
            "status",
            "corp_id",
            "agent_id",
            "secret",
            "callback_token",
            "callback_aes_key",
        ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "corp_id" in self.fields:
            self.fields["corp_id"].required = True
        if "agent_id" in self.fields:
            self.fields["agent_id"].required = True

    def clean_name(self):
        name = self.cleaned_data["name"].strip()
        if not name:
            raise forms.ValidationError(_("Enter the school's name."))
        return name

    def clean_corp_id(self):
        corp_id = self.cleaned_data["corp_id"].strip()
        if not CORP_ID_PATTERN.fullmatch(corp_id):
            raise forms.ValidationError(
                _("Not a WeCom corp id: copy 企业ID from 管理后台 → 我的企业 (letters and digits).")
            )
        clash = School.objects.filter(corp_id=corp_id).exclude(pk=self.instance.pk).first()
        if clash is not None:
            raise forms.ValidationError(
                _(
                    "The school “%(name)s” (#%(id)s) already has this corp id: one corp is one school."
                )
                % {"name": clash.name, "id": clash.pk}
            )
        return corp_id

    def clean_callback_aes_key(self):
        key = self.cleaned_data.get("callback_aes_key", "")
        if key and not encoding_aes_key_valid(key):
            raise forms.ValidationError(
                _(
                    "Not an EncodingAESKey: copy its 43 characters again from the app's "
                    "接收消息 settings in WeCom's admin console."
                )
            )
        return key

    def clean(self):
        cleaned = super().clean()
        if self.instance.pk is None and "secret" in self.fields and not cleaned.get("secret"):
            self.add_error("secret", _("Enter the app's Secret (管理后台 → 应用管理 → the app)."))
        return cleaned


@admin.register(School)
class SchoolAdmin(admin.ModelAdmin):
    form = SchoolForm
    list_display = ["name", "shown_corp_id", "shown_agent_id", "status", "from_environment"]
    list_filter = ["status", "from_environment"]
    search_fields = ["name", "corp_id"]
    ordering = ["-from_environment", "name"]
    record_fields = ("created_at", "status_changed_at")
    environment_fields = (
        "shown_corp_id",
        "shown_agent_id",
        "environment_secret",
        "environment_callback",
    )

    # --- who may do what ---------------------------------------------------------------------

    def get_queryset(self, request):
        schools = super().get_queryset(request)
        if is_operator(request.user):
            return schools
        return schools.filter(pk=_admin_school_id(request))  # none for a user of no school

    def _may_see(self, request, obj) -> bool:
        if is_operator(request.user):
            return True
        own = _admin_school_id(request)
        return own is not None and (obj is None or obj.pk == own)

    def has_module_permission(self, request):
        return self._may_see(request, None)

    def has_view_permission(self, request, obj=None):
        return self._may_see(request, obj)

    def has_change_permission(self, request, obj=None):
        return self._may_see(request, obj)

    def has_add_permission(self, request):
        return is_operator(request.user)

    def has_delete_permission(self, request, obj=None):
        return False  # uninstalling and purging a school is its own procedure

    # --- the form ----------------------------------------------------------------------------

    def get_fieldsets(self, request, obj=None):
        if obj is not None and obj.from_environment:
            return [
                (None, {"fields": ["name", "status"]}),
                (
                    _("WeCom app (from the environment)"),
                    {
                        "fields": list(self.environment_fields),
                        "description": _(
                            "The default school's WeCom settings come from the server's WECOM_* "
                            "environment variables and are changed there, not here."
                        ),
                    },
                ),
                (_("Record"), {"fields": list(self.record_fields)}),
            ]
        fieldsets = [
            (None, {"fields": ["name", "status"]}),
            (_("WeCom app"), {"fields": ["corp_id", "agent_id", "secret"]}),
            (_("Callbacks (接收消息)"), {"fields": ["callback_token", "callback_aes_key"]}),
        ]
        if obj is not None:
            fieldsets.append((_("Record"), {"fields": list(self.record_fields)}))
        return fieldsets

    def get_readonly_fields(self, request, obj=None):
        readonly = list(self.record_fields)
        if obj is not None and obj.from_environment:
            readonly += self.environment_fields
            if getattr(settings, "SCHOOL_NAME", ""):
                readonly.append("name")  # SCHOOL_NAME names the default school at every migrate
        if not is_operator(request.user):
            readonly += ["status", "corp_id"]
        return readonly

    def save_model(self, request, obj, form, change):
        if "status" in form.changed_data:
            obj.status_changed_at = timezone.now()
        super().save_model(request, obj, form, change)

    # --- what is shown -----------------------------------------------------------------------

    @admin.display(description=_("WeCom corp id"), ordering="corp_id")
    def shown_corp_id(self, school):
        return school.wecom_corp_id or "—"

    @admin.display(description=_("WeCom agent id"))
    def shown_agent_id(self, school):
        agent_id = school.wecom_agent_id
        return "—" if agent_id is None else agent_id

    @admin.display(description=_("app secret"))
    def environment_secret(self, school):
        return _("set (WECOM_SECRET)") if settings.WECOM_SECRET else _("not set")

    @admin.display(description=_("callback Token and EncodingAESKey"))
    def environment_callback(self, school):
        token, key = settings.WECOM_CALLBACK_TOKEN, settings.WECOM_CALLBACK_AES_KEY
        if token and key:
            return _("set (WECOM_CALLBACK_TOKEN, WECOM_CALLBACK_AES_KEY)")
        return _("not set")


class OperatorOnly:
    """Memberships are the operators' to give: a school admin cannot make themselves one of
    another school, whatever permissions a group grants."""

    def has_module_permission(self, request):
        return is_operator(request.user)

    def has_view_permission(self, request, obj=None):
        return is_operator(request.user)

    def has_change_permission(self, request, obj=None):
        return is_operator(request.user)

    def has_add_permission(self, request, obj=None):
        return is_operator(request.user)

    def has_delete_permission(self, request, obj=None):
        return is_operator(request.user)


@admin.register(SchoolMembership)
class SchoolMembershipAdmin(OperatorOnly, SafeAutocomplete, admin.ModelAdmin):
    list_display = ["user", "school", "role", "created_at"]
    list_filter = ["role", "school"]
    search_fields = ["user__username", "user__first_name", "user__last_name", "school__name"]
    list_select_related = ["user", "school"]
    autocomplete_fields = ["user", "school"]


class SchoolMembershipInline(OperatorOnly, admin.StackedInline):
    model = SchoolMembership
    fields = ["school", "role"]
    can_delete = True
    extra = 0
    max_num = 1


User = get_user_model()
if admin.site.is_registered(User):
    admin.site.unregister(User)


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    """Django's user admin, with the school the user belongs to (operators only)."""

    inlines = [SchoolMembershipInline]
