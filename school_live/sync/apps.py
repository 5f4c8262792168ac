from django.apps import AppConfig, apps
from django.db.models.signals import post_migrate


class SyncConfig(AppConfig):
    name = "school_live.sync"
    label = "sync"

    def ready(self) -> None:
        from school_live.sync.schedule import schedule_seed_after_migrate

        # The one schedule step, once per migrate after every migration. post_migrate is sent
        # per app with models, which sync has not: listen to django-celery-beat's.
        post_migrate.connect(
            schedule_seed_after_migrate,
            sender=apps.get_app_config("django_celery_beat"),
            dispatch_uid="sync.schedule_seed",
        )
