"""Reminders name their school (issue 22)."""

from django.db import migrations

from school_live.school.migration_steps import school_columns


class Migration(migrations.Migration):
    dependencies = [
        ("reminders", "0003_once_per_parent"),
        ("school", "0010_school_owned_rows"),
    ]

    operations = school_columns(
        "reminders", "ClassReminderSetting", "Reminder", "ReminderStudent", "ReminderParent"
    )
