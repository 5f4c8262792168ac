"""The warning thresholds in the admin: the school's row and each class's override, audited."""

from django.contrib import admin

from school_live.school.admin import AuditedAdmin
from school_live.school.tenancy import SchoolOwnedAdmin

from .models import FIELDS, WarningRules


@admin.register(WarningRules)
class WarningRulesAdmin(SchoolOwnedAdmin, AuditedAdmin):
    school_from = ("department",)
    list_display = ["__str__", *FIELDS]
    list_select_related = ["department"]
    search_fields = ["department__name"]

    def has_delete_permission(self, request, obj=None):
        # Deleting a class's row returns it to the school's defaults; the school row stays.
        return obj is None or obj.department_id is not None
