"""Seed the reports' beat entries for django_celery_beat's DatabaseScheduler.

Admins can change the times in the admin (Periodic tasks); re-running this migration leaves an
existing entry as they set it.

The schedule is no longer seeded here: school_live/sync/schedule.py holds every periodic task and
puts the missing ones into django-celery-beat after every migrate. This migration stays (a no-op)
so that the migration graph of deployed databases is unchanged.
"""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("reports", "0001_initial"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(migrations.RunPython.noop, migrations.RunPython.noop)]
