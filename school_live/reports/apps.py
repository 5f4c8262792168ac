from django.apps import AppConfig


class ReportsConfig(AppConfig):
    name = "school_live.reports"
    label = "reports"
