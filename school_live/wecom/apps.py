from django.apps import AppConfig


class WecomConfig(AppConfig):
    name = "school_live.wecom"
    label = "wecom"
