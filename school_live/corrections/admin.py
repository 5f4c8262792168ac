"""The admin of corrections: every excuse and every claimed WeChat nickname with its history
(who, when, what, why). Nothing is deleted here: an excuse is revoked on the student's page, a
nickname claim removed on the lesson's page, or either with the actions below."""

from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from school_live.school.admin_autocomplete import SafeAutocomplete
from school_live.school.history_admin import HistoryAdmin
from school_live.school.tenancy import SchoolOwnedAdmin

from .models import Excuse, NicknameClaim
from .nicknames import nickname_claim_revoke
from .services import excuse_revoke


@admin.register(Excuse)
class ExcuseAdmin(SchoolOwnedAdmin, SafeAutocomplete, HistoryAdmin):
    school_from = ("student",)
    list_display = [
        "student",
        "period_label",
        "kind",
        "reason",
        "created_by",
        "created_at",
        "revoked_at",
    ]
    list_filter = ["kind", ("revoked_at", admin.EmptyFieldListFilter)]
    search_fields = ["student__name", "student__student_userid", "reason"]
    list_select_related = ["student", "living", "created_by"]
    autocomplete_fields = ["student", "living"]
    readonly_fields = ["created_by", "created_at", "revoked_at", "revoked_by"]
    history_list_display = ["history_change_reason"]
    actions = ["revoke"]

    @admin.display(description=_("period"))
    def period_label(self, obj):
        return obj.period_label

    def has_delete_permission(self, request, obj=None):
        # Nothing is deleted, only reversed: revoke keeps the excuse and its history.
        return False

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
        obj._change_reason = str(_("changed in the admin")) if change else str(_("marked excused"))
        super().save_model(request, obj, form, change)

    @admin.action(description=_("Revoke the selected excuses"))
    def revoke(self, request, queryset):
        excuses = list(queryset.filter(revoked_at__isnull=True))
        for excuse in excuses:
            excuse_revoke(excuse=excuse, by=request.user, why=str(_("revoked in the admin")))
        self.message_user(
            request,
            ngettext("%(count)d excuse revoked.", "%(count)d excuses revoked.", len(excuses))
            % {"count": len(excuses)},
            messages.SUCCESS,
        )


@admin.register(NicknameClaim)
class NicknameClaimAdmin(SchoolOwnedAdmin, SafeAutocomplete, HistoryAdmin):
    school_from = ("department",)
    list_display = [
        "nickname",
        "student",
        "department",
        "created_by",
        "created_at",
        "revoked_at",
    ]
    list_filter = [("revoked_at", admin.EmptyFieldListFilter)]
    search_fields = ["nickname", "student__name", "student__student_userid", "department__name"]
    list_select_related = ["student", "department", "created_by"]
    autocomplete_fields = ["student", "department"]
    readonly_fields = ["created_by", "created_at", "revoked_at", "revoked_by"]
    history_list_display = ["history_change_reason"]
    actions = ["revoke"]

    def get_readonly_fields(self, request, obj=None):
        # Whose nickname it is never changes: a wrong claim is removed and claimed again.
        if obj is not None:
            return [*self.readonly_fields, "department", "nickname", "student"]
        return self.readonly_fields

    def has_delete_permission(self, request, obj=None):
        # Nothing is deleted, only reversed: removal keeps the claim and its history.
        return False

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
        obj._change_reason = (
            str(_("changed in the admin")) if change else str(_("nickname claimed"))
        )
        super().save_model(request, obj, form, change)

    @admin.action(description=_("Remove the selected nickname claims"))
    def revoke(self, request, queryset):
        claims = list(queryset.filter(revoked_at__isnull=True))
        for claim in claims:
            nickname_claim_revoke(claim=claim, by=request.user, why=str(_("removed in the admin")))
        self.message_user(
            request,
            ngettext(
                "%(count)d nickname claim removed.",
                "%(count)d nickname claims removed.",
                len(claims),
            )
            % {"count": len(claims)},
            messages.SUCCESS,
        )
