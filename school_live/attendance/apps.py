from django.apps import AppConfig


class AttendanceConfig(AppConfig):
    name = "school_live.attendance"
    label = "attendance"
