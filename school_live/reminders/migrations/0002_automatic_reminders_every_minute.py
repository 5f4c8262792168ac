"""The automatic reminder to families, every minute around the clock: it sends only for live
lessons of classes that switched it on, once per lesson. Created only when missing (matched by
name), like sync's schedules, so an admin's edits survive."""

from django.db import migrations
from django.utils import timezone

TZ = "Asia/Shanghai"
NAME = "reminders: automatic reminders to families (every minute)"
TASK = "reminders.send_automatic"


def seed(apps, schema_editor):
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTasks = apps.get_model("django_celery_beat", "PeriodicTasks")
    if PeriodicTask.objects.filter(name=NAME).exists():
        return
    crontab, _created = CrontabSchedule.objects.get_or_create(
        minute="*",
        hour="*",
        day_of_week="*",
        day_of_month="*",
        month_of_year="*",
        timezone=TZ,
    )
    PeriodicTask.objects.create(name=NAME, task=TASK, crontab=crontab, enabled=True)
    # The historical model skips PeriodicTask's save() hook: tell running beats to reload.
    PeriodicTasks.objects.update_or_create(ident=1, defaults={"last_update": timezone.now()})


def unseed(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("reminders", "0001_initial"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(seed, unseed)]
