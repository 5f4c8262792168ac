"""Excuses and nickname claims name their school (issue 22)."""

from django.db import migrations

from school_live.school.migration_steps import school_columns


class Migration(migrations.Migration):
    dependencies = [
        ("corrections", "0002_nickname_claims"),
        ("school", "0010_school_owned_rows"),
    ]

    operations = school_columns(
        "corrections",
        "Excuse",
        "NicknameClaim",
        history=("HistoricalExcuse", "HistoricalNicknameClaim"),
    )
