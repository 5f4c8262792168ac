"""The admin's 企业微信连接检查 page (the check's changelist, replaced by a page per school
with its last result and a button that runs it now) and the domain verification files."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from school_live.school.models import School

from .describe import check_lines, failed_titles
from .models import (
    DOMAIN_FILE_MAX_CHARS,
    DomainVerificationFile,
    SchoolWeComState,
    SetupCheck,
)
from .schools import is_checker, schools_visible
from .services import setup_check_run

RECENT_RUNS = 10
# The check runs inside the admin's request: WeCom out of reach must not hold it for minutes
# (a probe gives up after 10 s, once; the probes after it are then skipped).
WEB_CLIENT = {"timeout": (3.05, 10), "http_retries": 0}


@admin.register(SetupCheck)
class SetupCheckAdmin(admin.ModelAdmin):
    """Read-only records: the page shows them; nobody adds, edits or deletes a run."""

    def has_module_permission(self, request):
        return is_checker(request.user)

    def has_view_permission(self, request, obj=None):
        if not is_checker(request.user):
            return False
        return obj is None or schools_visible(request.user).filter(pk=obj.school_id).exists()

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_urls(self):
        run = self.admin_site.admin_view(require_POST(self.run_view))
        return [
            path("run/<int:school_id>/", run, name="setup_check_setupcheck_run"),
            *super().get_urls(),
        ]

    def changelist_view(self, request, extra_context=None):
        if not self.has_view_permission(request):
            raise PermissionDenied
        states = {
            state.school_id: state
            for state in SchoolWeComState.objects.filter(
                school__in=schools_visible(request.user)
            ).select_related("last_check__school")
        }
        schools = []
        for school in schools_visible(request.user).order_by("-from_environment", "name"):
            state = states.get(school.pk)
            last = state.last_check if state is not None else None
            schools.append(
                {
                    "school": school,
                    "state": state,
                    "check": last,
                    "lines": check_lines(last) if last is not None else [],
                    "recent": [
                        {"run": run, "failed": failed_titles(run)}
                        for run in SetupCheck.objects.filter(school=school).select_related(
                            "school", "triggered_by"
                        )[:RECENT_RUNS]
                    ],
                }
            )
        context = {
            **self.admin_site.each_context(request),
            "title": _("WeCom connection check"),
            "opts": self.model._meta,
            "schools": schools,
            **(extra_context or {}),
        }
        return TemplateResponse(request, "admin/setup_check/check.html", context)

    def run_view(self, request, school_id):
        school = get_object_or_404(schools_visible(request.user), pk=school_id)
        check = setup_check_run(
            school=school,
            trigger=SetupCheck.Trigger.ADMIN,
            user=request.user,
            client_options=WEB_CLIENT,
        )
        failed = sum(1 for line in check.probe_lines() if line.failed)
        if failed:
            self.message_user(
                request,
                _("%(school)s: %(count)s line(s) failed; each says what to change.")
                % {"school": school.name, "count": failed},
                messages.WARNING,
            )
        else:
            self.message_user(
                request, _("%(school)s: every check passed.") % {"school": school.name}
            )
        return redirect(reverse("admin:setup_check_setupcheck_changelist") + f"#school-{school.pk}")


class DomainVerificationFileForm(forms.ModelForm):
    upload = forms.FileField(
        label=gettext_lazy("or upload the file"),
        required=False,
        help_text=gettext_lazy("The WW_verify_….txt file downloaded from WeCom's console."),
    )

    class Meta:
        model = DomainVerificationFile
        fields = ["school", "name", "content"]

    def __init__(self, *args, schools=None, **kwargs):
        super().__init__(*args, **kwargs)
        if schools is not None:
            self.fields["school"].queryset = schools
        self.fields["name"].required = False
        self.fields["content"].required = False
        self.fields["content"].strip = False  # served exactly as entered

    def clean(self):
        data = super().clean()
        upload = data.get("upload")
        if upload is not None:
            raw = upload.read(DOMAIN_FILE_MAX_CHARS * 4 + 1)
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:
                raise ValidationError(_("The uploaded file is not text.")) from None
            if len(text) > DOMAIN_FILE_MAX_CHARS:
                raise ValidationError(_("The uploaded file is too long for a WW_verify file."))
            data["name"], data["content"] = upload.name, text
        if not data.get("name") or not data.get("content"):
            raise ValidationError(_("Enter the file's name and content, or upload the file."))
        return data


@admin.register(DomainVerificationFile)
class DomainVerificationFileAdmin(admin.ModelAdmin):
    form = DomainVerificationFileForm
    list_display = ["name", "school", "updated_at", "served_at"]
    readonly_fields = ["served_at"]

    @admin.display(description=gettext_lazy("served at"))
    def served_at(self, obj):
        return reverse("wecom_domain_file", args=[obj.name]) if obj.pk else "—"

    def get_queryset(self, request):
        return super().get_queryset(request).filter(school__in=schools_visible(request.user))

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change, **kwargs)
        schools = schools_visible(request.user)

        class ScopedForm(form):
            def __init__(self, *args, **inner):
                super().__init__(*args, schools=schools, **inner)

        return ScopedForm

    def get_changeform_initial_data(self, request):
        initial = super().get_changeform_initial_data(request)
        default = School.objects.filter(from_environment=True).first()
        if default is not None and "school" not in initial:
            initial["school"] = default.pk
        return initial
