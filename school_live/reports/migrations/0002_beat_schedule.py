"""Seed the reports' beat entries for django_celery_beat's DatabaseScheduler.

Admins can change the times in the admin (Periodic tasks); re-running this migration leaves an
existing entry as they set it.
"""

import json

from django.db import migrations
from django.utils import timezone

CHECK = "reports: lesson reports (every 5 minutes)"
TEACHERS = "reports: weekly teacher digest (Monday 08:00)"
ADMINS = "reports: weekly admin digest (Monday 08:00)"


def seed(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTasks = apps.get_model("django_celery_beat", "PeriodicTasks")

    # Other apps may seed the same schedules: reuse the first match, never fail on duplicates.
    every_five = _first_or_create(IntervalSchedule, every=5, period="minutes")
    monday_eight = _first_or_create(
        CrontabSchedule,
        minute="0",
        hour="8",
        day_of_week="1",
        day_of_month="*",
        month_of_year="*",
        timezone="Asia/Shanghai",
    )
    PeriodicTask.objects.get_or_create(
        name=CHECK,
        defaults={
            "task": "school_live.reports.tasks.check_living_reports",
            "interval": every_five,
            "args": json.dumps([]),
            "kwargs": json.dumps({}),
            "description": "Queues the attendance report of each lesson whose statistics are "
            "complete and that has not been sent yet.",
        },
    )
    for name, task, description in (
        (
            TEACHERS,
            "school_live.reports.tasks.send_weekly_teacher_digests",
            "Each teacher's week: absent twice or more, falling coverage, unreachable families.",
        ),
        (
            ADMINS,
            "school_live.reports.tasks.send_weekly_admin_digests",
            "The school's week per grade, to staff users with an email address.",
        ),
    ):
        PeriodicTask.objects.get_or_create(
            name=name,
            defaults={
                "task": task,
                "crontab": monday_eight,
                "args": json.dumps([]),
                "kwargs": json.dumps({}),
                "description": description,
            },
        )
    # Tell a running beat that its schedule changed.
    PeriodicTasks.objects.update_or_create(ident=1, defaults={"last_update": timezone.now()})


def _first_or_create(model, **fields):
    return model.objects.filter(**fields).order_by("pk").first() or model.objects.create(**fields)


def unseed(apps, schema_editor):
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTask.objects.filter(name__in=[CHECK, TEACHERS, ADMINS]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("reports", "0001_initial"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(seed, unseed)]
