"""The install flow in the admin, for operators (superusers) only.

- 安装链接 (install links): "add" asks for a school's name, makes the pending school and WeCom's
  install link, and shows its QR code (drawn on the server), the link and when it expires; a
  pending school's expired link is replaced with the action "make a fresh link". Without the
  vendor settings the page says which to set.
- The command events WeCom sent, the schools' authorisations and the audit lines: read only.
"""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from school_live.school.models import School, is_operator
from school_live.wecom.errors import WeComError
from school_live.wecom.suite import SuiteSettings

from .links import LinkRefused, install_link_make, qr_data_uri
from .models import InstallLink, SchoolAudit, SchoolAuthorization, SuiteEvent
from .suite import SuiteNotConfigured, not_configured_message


class OperatorsOnly:
    def has_module_permission(self, request):
        return is_operator(request.user)

    def has_view_permission(self, request, obj=None):
        return is_operator(request.user)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class InstallLinkForm(forms.Form):
    name = forms.CharField(
        label=_("School name"),
        max_length=200,
        help_text=_("As its teachers know it. The school is pending until its admin scans."),
    )


@admin.register(InstallLink)
class InstallLinkAdmin(OperatorsOnly, admin.ModelAdmin):
    list_display = ["school", "school_status", "expires_at", "used_at", "created_at"]
    list_select_related = ["school"]
    fields = ["school", "qr_code", "link", "expiry", "used_at", "created_by", "created_at"]
    readonly_fields = fields
    actions = ["fresh_link"]

    def has_add_permission(self, request):
        return is_operator(request.user)

    @admin.display(description=_("school status"))
    def school_status(self, link):
        return link.school.get_status_display()

    @admin.display(description=_("QR code"))
    def qr_code(self, link):
        if link.used_at or link.expired:
            return _("scanned") if link.used_at else _("expired: make a fresh link")
        return format_html(
            '<img src="{}" alt="{}" width="240" height="240">',
            qr_data_uri(link.qrcode_url),
            _("The install QR code"),
        )

    @admin.display(description=_("install link"))
    def link(self, link):
        return format_html('<a href="{0}" rel="noopener noreferrer">{0}</a>', link.qrcode_url)

    @admin.display(description=_("expires at"))
    def expiry(self, link):
        days = (link.expires_at - timezone.now()).days
        when = timezone.localtime(link.expires_at).strftime("%Y-%m-%d %H:%M")
        if days < 0:
            return _("%(when)s (expired)") % {"when": when}
        return _("%(when)s (in %(days)s days)") % {"when": when, "days": days}

    def changelist_view(self, request, extra_context=None):
        if SuiteSettings.from_settings() is None and is_operator(request.user):
            messages.warning(request, not_configured_message())
        return super().changelist_view(request, extra_context)

    def add_view(self, request, form_url="", extra_context=None):
        if not is_operator(request.user):
            raise PermissionDenied
        configured = SuiteSettings.from_settings() is not None
        form = InstallLinkForm(request.POST or None)
        if request.method == "POST" and configured and form.is_valid():
            try:
                link = install_link_make(name=form.cleaned_data["name"], created_by=request.user)
            except (SuiteNotConfigured, LinkRefused) as error:
                form.add_error(None, str(error))
            except WeComError as error:
                form.add_error(None, _("WeCom refused the install link: %s") % error)
            else:
                messages.success(request, _("The install link is ready: show its QR code."))
                return redirect(reverse("admin:install_installlink_change", args=[link.pk]))
        context = {
            **self.admin_site.each_context(request),
            "title": _("New install link"),
            "opts": self.model._meta,
            "form": form,
            "configured": configured,
            "not_configured": "" if configured else not_configured_message(),
        }
        return TemplateResponse(request, "install/link_add.html", context)

    @admin.action(description=_("Make a fresh link for the selected pending schools"))
    def fresh_link(self, request, queryset):
        schools = {link.school for link in queryset if link.school.status == School.Status.PENDING}
        for school in schools:
            try:
                install_link_make(school=school, created_by=request.user)
            except (SuiteNotConfigured, LinkRefused, WeComError) as error:
                messages.error(request, f"{school}: {error}")
                return
        messages.success(request, _("%(count)s fresh links made.") % {"count": len(schools)})


@admin.register(SuiteEvent)
class SuiteEventAdmin(OperatorsOnly, admin.ModelAdmin):
    list_display = ["received_at", "kind", "school", "auth_corp_id", "status", "processed_at"]
    list_filter = ["kind", "status"]
    fields = ["kind", "school", "auth_corp_id", "state", "status", "error", "received_at",
              "processed_at", "suite_id"]  # fmt: skip
    readonly_fields = fields


@admin.register(SchoolAuthorization)
class SchoolAuthorizationAdmin(OperatorsOnly, admin.ModelAdmin):
    list_display = ["school", "corp_name", "publish_status", "installed_at", "cancelled_at"]
    fields = ["school", "corp_name", "corp_full_name", "agent_name", "privilege", "admin_userid",
              "admin_name", "publish_status", "installed_at", "refreshed_at", "cancelled_at",
              "welcome_sent_at", "welcome_error"]  # fmt: skip
    readonly_fields = fields


@admin.register(SchoolAudit)
class SchoolAuditAdmin(OperatorsOnly, admin.ModelAdmin):
    list_display = ["at", "school_name", "corp_id", "event", "by"]
    list_filter = ["event"]
    search_fields = ["school_name", "corp_id"]
    fields = ["at", "school_pk", "school_name", "corp_id", "event", "detail", "by"]
    readonly_fields = fields
