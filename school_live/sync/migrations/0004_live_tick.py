"""The live tick (sync/live.py): every SYNC_LIVE_TICK_SECONDS [20], day and night, queue syncs of
live lessons whose numbers are going stale and of lessons that just ended.

An interval, not a crontab: crontabs count in minutes. A tick left waiting in the queue longer
than its period is dropped (``expire_seconds``): the next one asks the same question afresh.
Created only when missing (matched by name), like 0001's schedule, so an admin's edits survive.

The schedule is no longer seeded here: school_live/sync/schedule.py holds every periodic task and
puts the missing ones into django-celery-beat after every migrate. This migration stays (a no-op)
so that the migration graph of deployed databases is unchanged.
"""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("sync", "0003_recover_dead_runs_every_minute"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(migrations.RunPython.noop, migrations.RunPython.noop)]
