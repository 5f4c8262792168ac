"""The live tick (sync/live.py): every SYNC_LIVE_TICK_SECONDS [20], day and night, queue syncs of
live lessons whose numbers are going stale and of lessons that just ended.

An interval, not a crontab: crontabs count in minutes. A tick left waiting in the queue longer
than its period is dropped (``expire_seconds``): the next one asks the same question afresh.
Created only when missing (matched by name), like 0001's schedule, so an admin's edits survive.
"""

from django.conf import settings
from django.db import migrations
from django.utils import timezone

NAME = "sync: live lessons tick (every 20 seconds)"
TASK = "sync.live_tick"


def seed(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTasks = apps.get_model("django_celery_beat", "PeriodicTasks")
    if PeriodicTask.objects.filter(task=TASK).exists():
        return
    seconds = int(getattr(settings, "SYNC_LIVE_TICK_SECONDS", 20))
    interval, _created = IntervalSchedule.objects.get_or_create(every=seconds, period="seconds")
    PeriodicTask.objects.create(
        name=NAME if seconds == 20 else f"sync: live lessons tick (every {seconds} seconds)",
        task=TASK,
        interval=interval,
        expire_seconds=seconds,
        enabled=True,
    )
    # The historical model skips PeriodicTask's save() hook: tell running beats to reload.
    PeriodicTasks.objects.update_or_create(ident=1, defaults={"last_update": timezone.now()})


def unseed(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(task=TASK).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("sync", "0003_recover_dead_runs_every_minute"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(seed, unseed)]
