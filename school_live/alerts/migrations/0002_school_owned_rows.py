"""The warning rules name their school; the school's defaults row is one per school (issue 22)."""

import django.db.models.functions.comparison
from django.db import migrations, models

from school_live.school.migration_steps import school_columns


class Migration(migrations.Migration):
    dependencies = [
        ("alerts", "0001_initial"),
        ("school", "0010_school_owned_rows"),
    ]

    operations = [
        migrations.RemoveConstraint(model_name="warningrules", name="one_warning_rules_per_class"),
        *school_columns("alerts", "WarningRules", history=("HistoricalWarningRules",)),
        migrations.AddConstraint(
            model_name="warningrules",
            constraint=models.UniqueConstraint(
                models.F("school"),
                django.db.models.functions.comparison.Coalesce("department", models.Value(0)),
                name="one_warning_rules_per_class",
                violation_error_message="These rules already have a row: change that one.",
            ),
        ),
    ]
