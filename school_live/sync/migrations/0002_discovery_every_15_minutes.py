"""Discovery every 15 minutes in school hours, so a lesson is found while it runs, not after.

07:00–21:59 Asia/Shanghai: at :05, :20, :35 and :50 (off the sweep's tens, so the two do not
start together); outside those hours: hourly at :05, as before. Two PeriodicTask rows of the same
task, since one crontab cannot give different minutes to different hours.

The rows 0001 seeded are now created by sync/schedule.py after migrate (0001 is a no-op); this
migration still moves a database that has the old hourly row onto the two rows of that table.

The schedule is editable in the admin: the rows are changed only while they are still exactly as
0001 seeded them (same crontab, enabled, no other schedule). An admin's edit, even disabling the
task, is left alone, and then no night row is added either.
"""

from django.db import migrations
from django.utils import timezone

TZ = "Asia/Shanghai"
TASK = "sync.discover_livings"
SEEDED = ("sync: discover livings (hourly)", {"minute": "5", "hour": "*"})
DAY = ("sync: discover livings (every 15 minutes, 07–21)", {"minute": "5,20,35,50", "hour": "7-21"})
NIGHT = ("sync: discover livings (hourly, 22–06)", {"minute": "5", "hour": "0-6,22-23"})


def _crontab(apps, fields):
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    crontab, _created = CrontabSchedule.objects.get_or_create(
        minute=fields["minute"],
        hour=fields["hour"],
        day_of_week="*",
        day_of_month="*",
        month_of_year="*",
        timezone=TZ,
    )
    return crontab


def _untouched(task, fields) -> bool:
    """The row is as a migration left it: the admin has not edited its schedule."""
    crontab = task.crontab
    return (
        task.task == TASK
        and task.enabled
        and task.interval_id is None
        and task.solar_id is None
        and task.clocked_id is None
        and crontab is not None
        and (crontab.minute, crontab.hour) == (fields["minute"], fields["hour"])
        and (crontab.day_of_week, crontab.day_of_month, crontab.month_of_year) == ("*", "*", "*")
        and str(crontab.timezone) == TZ
    )


def _switch(apps, old, new, *, add=None, remove=None) -> None:
    """Point the ``old`` row at the ``new`` name and crontab if untouched; add or remove the
    extra row with it."""
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTasks = apps.get_model("django_celery_beat", "PeriodicTasks")
    old_name, old_fields = old
    new_name, new_fields = new
    task = PeriodicTask.objects.filter(name=old_name).select_related("crontab").first()
    if task is None or not _untouched(task, old_fields):
        return
    if PeriodicTask.objects.filter(name=new_name).exists():
        return  # someone made a row of that name: do not guess which one is meant
    task.name = new_name
    task.crontab = _crontab(apps, new_fields)
    task.save()
    if add is not None:
        name, fields = add
        PeriodicTask.objects.get_or_create(
            name=name,
            defaults={"task": TASK, "crontab": _crontab(apps, fields), "enabled": True},
        )
    if remove is not None:
        name, fields = remove
        extra = PeriodicTask.objects.filter(name=name).select_related("crontab").first()
        if extra is not None and _untouched(extra, fields):
            extra.delete()
    # The historical model skips PeriodicTask's save() hook: tell running beats to reload.
    PeriodicTasks.objects.update_or_create(ident=1, defaults={"last_update": timezone.now()})


def every_15_minutes(apps, schema_editor):
    _switch(apps, SEEDED, DAY, add=NIGHT)


def hourly(apps, schema_editor):
    _switch(apps, DAY, SEEDED, remove=NIGHT)


class Migration(migrations.Migration):
    dependencies = [
        ("sync", "0001_periodic_tasks"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(every_15_minutes, hourly)]
