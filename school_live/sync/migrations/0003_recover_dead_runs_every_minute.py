"""The dead-run check, every minute around the clock (not only in the sweep's daytime hours).

It fails runs whose heartbeat stopped (their worker was killed or restarted) and starts their
livings again at once, so a killed worker costs a minute, not a night. Created only when
missing (matched by name), like 0001's schedule, so an admin's edits survive.

The schedule is no longer seeded here: school_live/sync/schedule.py holds every periodic task and
puts the missing ones into django-celery-beat after every migrate. This migration stays (a no-op)
so that the migration graph of deployed databases is unchanged.
"""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("sync", "0002_discovery_every_15_minutes"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(migrations.RunPython.noop, migrations.RunPython.noop)]
