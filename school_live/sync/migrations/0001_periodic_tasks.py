"""The sync schedule, as django-celery-beat PeriodicTask rows an admin can edit in the admin.

Created only when missing (matched by name), so an admin's edits survive re-running migrations.
Times are Asia/Shanghai: the sweep runs every 10 minutes from 07:00 to 21:50, discovery hourly,
the roster at night.

The schedule is no longer seeded here: school_live/sync/schedule.py holds every periodic task and
puts the missing ones into django-celery-beat after every migrate. This migration stays (a no-op)
so that the migration graph of deployed databases is unchanged.
"""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("django_celery_beat", "0019_alter_periodictasks_options")]

    operations = [migrations.RunPython(migrations.RunPython.noop, migrations.RunPython.noop)]
