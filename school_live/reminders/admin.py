from django.contrib import admin

from school_live.school.admin_autocomplete import SafeAutocomplete
from school_live.school.tenancy import SchoolOwnedAdmin

from .models import ClassReminderSetting, Reminder, ReminderStudent


@admin.register(ClassReminderSetting)
class ClassReminderSettingAdmin(SchoolOwnedAdmin, SafeAutocomplete, admin.ModelAdmin):
    school_from = ("department",)
    list_display = ["department", "auto_after_minutes"]
    list_editable = ["auto_after_minutes"]
    autocomplete_fields = ["department"]


class ReminderStudentInline(admin.TabularInline):
    model = ReminderStudent
    fields = ["student_userid", "name", "parent_userids"]
    readonly_fields = fields
    extra = 0
    can_delete = False


@admin.register(Reminder)
class ReminderAdmin(admin.ModelAdmin):
    """A record of what was sent: read only."""

    list_display = ["sent_at", "living", "department", "kind", "status", "sender", "errcode"]
    list_filter = ["kind", "status"]
    search_fields = ["living__livingid", "living__theme", "department__name"]
    date_hierarchy = "sent_at"
    inlines = [ReminderStudentInline]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
