"""Report preferences and deliveries name their school; a delivery (its period a livingid, its
recipient a userid) is unique per school (issue 22)."""

from django.db import migrations, models

from school_live.school.migration_steps import school_columns


class Migration(migrations.Migration):
    dependencies = [
        ("reports", "0002_beat_schedule"),
        ("school", "0010_school_owned_rows"),
    ]

    operations = [
        migrations.RemoveConstraint(model_name="reportdelivery", name="unique_report_delivery"),
        *school_columns("reports", "ReportPreference", "ReportDelivery"),
        migrations.AddConstraint(
            model_name="reportdelivery",
            constraint=models.UniqueConstraint(
                fields=("school", "report", "period", "recipient", "channel"),
                name="unique_report_delivery",
            ),
        ),
    ]
