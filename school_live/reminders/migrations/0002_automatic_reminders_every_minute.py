"""The automatic reminder to families, every minute around the clock: it sends only for live
lessons of classes that switched it on, once per lesson. Created only when missing (matched by
name), like sync's schedules, so an admin's edits survive.

The schedule is no longer seeded here: school_live/sync/schedule.py holds every periodic task and
puts the missing ones into django-celery-beat after every migrate. This migration stays (a no-op)
so that the migration graph of deployed databases is unchanged.
"""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("reminders", "0001_initial"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(migrations.RunPython.noop, migrations.RunPython.noop)]
