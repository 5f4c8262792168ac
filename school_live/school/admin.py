"""Admin for the school as WeCom describes it.

Fields that WeCom owns are read-only here: the next sync would overwrite an edit, so the admin
must not invite one. What the school owns (thresholds, teachers' logins and email) stays editable.
The sync app adds its own actions (sync/admin.py): this app does not import it. The schools and
who belongs to them are in admin_schools.py.
"""

from django import forms
from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from school_live.school.admin_autocomplete import SafeAutocomplete

from . import (
    admin_schools,  # noqa: F401 - registers the schools and memberships
    synced_fields,
)
from .history_admin import HistoryAdmin
from .models import (
    AttendancePolicy,
    ClassAssignment,
    Department,
    Enrollment,
    Guardianship,
    Living,
    Parent,
    Student,
    StudentUnwatch,
    StudentWatch,
    SyncRun,
    Teacher,
    VisitorWatch,
)
from .tenancy import SchoolOwnedAdmin, SchoolOwnedInline, user_school


class ChangeReasonForm(forms.ModelForm):
    change_reason = forms.CharField(
        label=_("Why this change"),
        required=False,
        max_length=100,
        help_text=_("Kept in the history with your name and the values before and after."),
    )


class AuditedAdmin(HistoryAdmin):
    """Thresholds are corrections too: simple-history records who changed them (its
    middleware), when, and every value before and after; the form asks why."""

    form = ChangeReasonForm
    history_list_display = ["history_change_reason"]

    def save_model(self, request, obj, form, change):
        obj._change_reason = form.cleaned_data.get("change_reason", "")
        super().save_model(request, obj, form, change)


class WeComOwnedAdmin(admin.ModelAdmin):
    """Rows come from WeCom: they are viewed and searched here, not typed in."""

    wecom_fields: tuple[str, ...] = ()

    def get_readonly_fields(self, request, obj=None):
        # A synced row's school is the one whose WeCom it came from.
        return (*self.readonly_fields, "school", *self.wecom_fields)


class ClassAssignmentInline(admin.TabularInline):
    """Who teaches which class comes from WeCom's department_admins; the roster sync replaces it,
    so it is shown here, not edited (change it in WeCom's 家校通讯录)."""

    model = ClassAssignment
    extra = 0
    fields = readonly_fields = ["teacher", "department", "role", "subject"]
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Department)
class DepartmentAdmin(AuditedAdmin, WeComOwnedAdmin):
    list_display = [
        "name",
        "wecom_id",
        "type",
        "parent",
        "register_year",
        "graduated",
        "present_threshold",
        "is_active",
    ]
    list_filter = ["type", "graduated", "is_active"]
    search_fields = ["name", "=wecom_id"]
    list_select_related = ["parent"]
    wecom_fields = ("wecom_id", *synced_fields.DEPARTMENT)
    inlines = [ClassAssignmentInline]


@admin.register(Teacher)
class TeacherAdmin(SchoolOwnedAdmin, SafeAutocomplete, admin.ModelAdmin):
    """WeCom gives a teacher's userid, never a name (api.md §6: department_admins): the name is
    typed here, and the list says which teachers have none yet."""

    list_display = ["display_name", "userid", "email", "user", "is_active", "synced_at"]
    list_filter = ["is_active"]
    search_fields = ["userid", "name", "email"]
    list_select_related = ["user"]
    readonly_fields = ["userid", *synced_fields.TEACHER]
    autocomplete_fields = ["user"]
    inlines = [ClassAssignmentInline]

    @admin.display(description=_("name"), ordering="name")
    def display_name(self, teacher):
        return teacher.display_name


@admin.register(ClassAssignment)
class ClassAssignmentAdmin(SafeAutocomplete, admin.ModelAdmin):
    list_display = ["teacher", "department", "role", "subject"]
    list_filter = ["role", "subject"]
    search_fields = ["teacher__userid", "teacher__name", "department__name"]
    list_select_related = ["teacher", "department"]
    readonly_fields = ["school", "teacher", "department", "role", "subject"]

    def has_add_permission(self, request):
        # WeCom owns assignments (ClassAssignmentInline says why).
        return False


class EnrollmentInline(SchoolOwnedInline, SafeAutocomplete, admin.TabularInline):
    model = Enrollment
    extra = 0
    autocomplete_fields = ["department"]


class GuardianshipInline(SchoolOwnedInline, SafeAutocomplete, admin.TabularInline):
    model = Guardianship
    extra = 0
    autocomplete_fields = ["student", "parent"]


@admin.register(Student)
class StudentAdmin(WeComOwnedAdmin):
    list_display = ["name", "student_userid", "is_active", "synced_at"]
    list_filter = ["is_active", "classes"]
    search_fields = ["name", "student_userid"]
    wecom_fields = ("student_userid", *synced_fields.STUDENT)
    inlines = [EnrollmentInline, GuardianshipInline]


@admin.register(Parent)
class ParentAdmin(WeComOwnedAdmin):
    list_display = ["parent_userid", "mobile", "is_subscribed", "is_active"]
    list_filter = ["is_subscribed", "is_active"]
    search_fields = ["parent_userid", "mobile", "children__name"]
    wecom_fields = ("parent_userid", *synced_fields.PARENT)
    inlines = [GuardianshipInline]


@admin.register(Guardianship)
class GuardianshipAdmin(SchoolOwnedAdmin, SafeAutocomplete, admin.ModelAdmin):
    school_from = ("student",)
    list_display = ["student", "parent", "relation"]
    search_fields = ["student__name", "student__student_userid", "parent__parent_userid"]
    list_select_related = ["student", "parent"]
    autocomplete_fields = ["student", "parent"]


@admin.register(Enrollment)
class EnrollmentAdmin(SchoolOwnedAdmin, SafeAutocomplete, admin.ModelAdmin):
    school_from = ("student",)
    list_display = ["student", "department"]
    list_filter = ["department"]
    search_fields = ["student__name", "student__student_userid", "department__name"]
    list_select_related = ["student", "department"]
    autocomplete_fields = ["student", "department"]


@admin.register(Living)
class LivingAdmin(WeComOwnedAdmin):
    list_display = [
        "theme",
        "livingid",
        "living_start",
        "living_duration",
        "anchor_userid",
        "viewer_num",
        "stats_synced_at",
        "stats_complete",
    ]
    list_filter = ["stats_complete", "open_replay", "living_start"]
    search_fields = ["theme", "livingid", "anchor_userid"]
    date_hierarchy = "living_start"
    wecom_fields = (
        "livingid",
        "theme",
        "living_start",
        "living_duration",
        "anchor_userid",
        "range_partyids",
        "range_group_names",
        "viewer_num",
        "comment_num",
        "open_replay",
        "info_synced_at",
        "stats_synced_at",
        "stats_complete",
    )
    filter_horizontal = ["classes"]


class WatchRowAdmin(admin.ModelAdmin):
    """Watch rows are a snapshot of WeCom's answer: read-only, replaced whole by each sync."""

    list_select_related = ["living"]
    search_fields = ["living__livingid", "living__theme"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(StudentWatch)
class StudentWatchAdmin(WatchRowAdmin):
    list_display = [
        "living",
        "student_userid",
        "parent_userid",
        "watch_time",
        "enter_time",
        "leave_time",
        "is_comment",
    ]
    list_filter = ["is_comment"]
    search_fields = [*WatchRowAdmin.search_fields, "student_userid", "parent_userid"]


@admin.register(VisitorWatch)
class VisitorWatchAdmin(WatchRowAdmin):
    list_display = ["living", "nickname", "watch_time", "enter_time", "leave_time", "is_comment"]
    list_filter = ["is_comment"]
    search_fields = [*WatchRowAdmin.search_fields, "nickname"]


@admin.register(StudentUnwatch)
class StudentUnwatchAdmin(WatchRowAdmin):
    list_display = ["living", "student_userid", "parent_userid"]
    search_fields = [*WatchRowAdmin.search_fields, "student_userid", "parent_userid"]


@admin.register(AttendancePolicy)
class AttendancePolicyAdmin(SchoolOwnedAdmin, AuditedAdmin):
    list_display = [
        "__str__",
        "present_threshold",
        "late_grace_minutes",
        "early_leave_grace_minutes",
    ]

    def has_add_permission(self, request):
        # One policy per school: the row is created on first use.
        return not AttendancePolicy.objects.filter(school=user_school(request.user)).exists()

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(SyncRun)
class SyncRunAdmin(admin.ModelAdmin):
    list_display = [
        "created_at",
        "kind",
        "livingid",
        "status",
        "pages",
        "rows",
        "duration_display",
        "short_error",
    ]
    list_filter = ["status", "kind", "errcode", "created_at"]
    search_fields = ["livingid", "error", "task_id"]
    list_select_related = ["living", "requested_by"]
    date_hierarchy = "created_at"
    readonly_fields = [
        "school",
        "kind",
        "living",
        "livingid",
        "status",
        "task_id",
        "requested_by",
        "created_at",
        "started_at",
        "finished_at",
        "pages",
        "rows",
        "errcode",
        "error",
    ]

    def has_add_permission(self, request):
        return False

    @admin.display(description=_("duration"))
    def duration_display(self, obj):
        duration = obj.duration
        return f"{duration.total_seconds():.1f} s" if duration else "—"

    @admin.display(description=_("error"))
    def short_error(self, obj):
        return (obj.error[:80] + "…") if len(obj.error) > 80 else obj.error
