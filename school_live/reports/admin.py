from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from school_live.reports.dispatch import delivery_resend
from school_live.reports.models import ReportDelivery, ReportPreference
from school_live.school.admin_autocomplete import SafeAutocomplete
from school_live.school.tenancy import SchoolOwnedAdmin


@admin.register(ReportPreference)
class ReportPreferenceAdmin(SchoolOwnedAdmin, SafeAutocomplete, admin.ModelAdmin):
    school_from = ("teacher",)
    list_display = [
        "teacher",
        "living_report",
        "weekly_digest",
        "xlsx_attachment",
        "wecom_message",
        "email_override",
        "language",
        "updated_at",
    ]
    list_editable = ["living_report", "weekly_digest", "xlsx_attachment", "wecom_message"]
    list_filter = ["living_report", "weekly_digest", "xlsx_attachment", "wecom_message"]
    search_fields = ["teacher__userid", "teacher__name", "teacher__email", "email_override"]
    autocomplete_fields = ["teacher"]


@admin.register(ReportDelivery)
class ReportDeliveryAdmin(admin.ModelAdmin):
    list_display = [
        "report",
        "period",
        "channel",
        "recipient",
        "address",
        "status",
        "attempts",
        "sent_at",
        "short_error",
    ]
    list_filter = ["status", "report", "channel"]
    search_fields = ["period", "recipient", "address", "subject", "error"]
    date_hierarchy = "created_at"
    readonly_fields = [
        "school",
        "report",
        "period",
        "channel",
        "recipient",
        "teacher",
        "user",
        "address",
        "subject",
        "status",
        "attempts",
        "error",
        "created_at",
        "claimed_at",
        "sent_at",
    ]
    actions = ["resend"]

    def has_add_permission(self, request):
        return False

    @admin.display(description=_("error"))
    def short_error(self, delivery: ReportDelivery) -> str:
        return delivery.error[:80]

    @admin.action(description=_("Send the selected reports again"), permissions=["change"])
    def resend(self, request, queryset):
        sent = failed = busy = 0
        for delivery in queryset:
            result = delivery_resend(delivery=delivery)
            if result is None:
                busy += 1
            elif result.status == ReportDelivery.Status.SENT:
                sent += 1
            else:
                failed += 1
        if sent:
            self.message_user(
                request,
                ngettext("%(count)d report sent.", "%(count)d reports sent.", sent)
                % {"count": sent},
                messages.SUCCESS,
            )
        if failed:
            self.message_user(
                request,
                ngettext(
                    "%(count)d report failed again; its error is on its row.",
                    "%(count)d reports failed again; their errors are on their rows.",
                    failed,
                )
                % {"count": failed},
                messages.ERROR,
            )
        if busy:
            self.message_user(
                request,
                ngettext(
                    "%(count)d report is being sent right now; try again in a few minutes.",
                    "%(count)d reports are being sent right now; try again in a few minutes.",
                    busy,
                )
                % {"count": busy},
                messages.WARNING,
            )
