from django import forms

from school_live.reports.models import ReportPreference


class ReportPreferenceForm(forms.ModelForm):
    class Meta:
        model = ReportPreference
        fields = [
            "living_report",
            "xlsx_attachment",
            "wecom_message",
            "weekly_digest",
            "email_override",
            "language",
        ]
