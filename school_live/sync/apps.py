from django.apps import AppConfig


class SyncConfig(AppConfig):
    name = "school_live.sync"
    label = "sync"
