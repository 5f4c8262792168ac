from django.contrib import admin

from .models import LessonStartReport


@admin.register(LessonStartReport)
class LessonStartReportAdmin(admin.ModelAdmin):
    """What teachers' phones reported as started, and what WeCom said: read only. A refused
    report names the reason (a made-up or foreign id, another host, an ended lesson)."""

    list_display = ["reported_at", "livingid", "teacher", "department", "state", "attempts"]
    list_filter = ["state"]
    search_fields = ["livingid", "teacher__userid", "teacher__name", "department__name"]
    date_hierarchy = "reported_at"
    readonly_fields = [
        "livingid",
        "teacher",
        "department",
        "theme",
        "reported_at",
        "state",
        "reason",
        "attempts",
        "checked_at",
    ]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
