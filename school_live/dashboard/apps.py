from django.apps import AppConfig


class DashboardConfig(AppConfig):
    name = "school_live.dashboard"
    label = "dashboard"
