from django.apps import AppConfig


class SchoolConfig(AppConfig):
    name = "school_live.school"
    label = "school"
