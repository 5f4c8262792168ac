"""The sync schedule, as django-celery-beat PeriodicTask rows an admin can edit in the admin.

Created only when missing (matched by name), so an admin's edits survive re-running migrations.
Times are Asia/Shanghai: the sweep runs every 10 minutes from 07:00 to 21:50, discovery hourly,
the roster at night.
"""

from django.db import migrations

TZ = "Asia/Shanghai"
SCHEDULE = [
    # (name, task, crontab fields)
    (
        "sync: recent livings sweep (every 10 minutes, 07–21)",
        "sync.sweep_recent_livings",
        {"minute": "*/10", "hour": "7-21"},
    ),
    ("sync: discover livings (hourly)", "sync.discover_livings", {"minute": "5", "hour": "*"}),
    ("sync: roster (nightly 02:30)", "sync.roster", {"minute": "30", "hour": "2"}),
]


def seed(apps, schema_editor):
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTasks = apps.get_model("django_celery_beat", "PeriodicTasks")
    for name, task, fields in SCHEDULE:
        if PeriodicTask.objects.filter(name=name).exists():
            continue
        crontab, _created = CrontabSchedule.objects.get_or_create(
            minute=fields["minute"],
            hour=fields["hour"],
            day_of_week="*",
            day_of_month="*",
            month_of_year="*",
            timezone=TZ,
        )
        PeriodicTask.objects.get_or_create(
            name=name, defaults={"task": task, "crontab": crontab, "enabled": True}
        )
    # The historical model skips PeriodicTask's save() hook: tell running beats to reload.
    from django.utils import timezone

    PeriodicTasks.objects.update_or_create(ident=1, defaults={"last_update": timezone.now()})


def unseed(apps, schema_editor):
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTask.objects.filter(name__in=[name for name, _task, _fields in SCHEDULE]).delete()


class Migration(migrations.Migration):
    dependencies = [("django_celery_beat", "0019_alter_periodictasks_options")]

    operations = [migrations.RunPython(seed, unseed)]
