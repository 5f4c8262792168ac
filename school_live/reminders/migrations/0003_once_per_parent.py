"""Reminders once per parent (issue #19): one ``ReminderParent`` row per parent a reminder went
to, so the 10-minute rule can ask per parent and lesson; filled here from every stored reminder's
``parent_userids`` (the JSON list stays as it was: nothing stored is lost). And the count of
students left out because they had joined by the time of sending."""

import django.db.models.deletion
from django.db import migrations, models

MAX_USERID = 64


def backfill(apps, schema_editor):
    Reminder = apps.get_model("reminders", "Reminder")
    ReminderParent = apps.get_model("reminders", "ReminderParent")
    # Rows of today's models (tests run this step on them) name the reminder's school too.
    named = {field.name for field in ReminderParent._meta.fields} & {"school"}
    rows = []
    for pk, living_id, parents, *school in Reminder.objects.values_list(
        "pk", "living_id", "parent_userids", *named
    ).iterator(chunk_size=500):
        # WeCom's userids fit 64 characters; anything else in the list was never a parent the
        # rule could match (it stays in the list).
        kept = {
            p
            for p in (parents if isinstance(parents, list) else ())
            if isinstance(p, str) and 0 < len(p) <= MAX_USERID
        }
        rows.extend(
            ReminderParent(
                reminder_id=pk,
                living_id=living_id,
                parent_userid=parent,
                **({"school_id": school[0]} if school else {}),
            )
            for parent in sorted(kept)
        )
        if len(rows) >= 1000:
            ReminderParent.objects.bulk_create(rows)
            rows = []
    ReminderParent.objects.bulk_create(rows)


class Migration(migrations.Migration):
    dependencies = [
        ("reminders", "0002_automatic_reminders_every_minute"),
        ("school", "0006_history_of_thresholds"),
    ]

    operations = [
        migrations.AddField(
            model_name="reminder",
            name="joined_before_sending",
            field=models.PositiveIntegerField(
                default=0,
                help_text="Students the last sync had as not joined whom WeCom's newest rows, read right before sending, showed in the lesson: their families were left out.",
                verbose_name="joined by the time of sending",
            ),
        ),
        migrations.CreateModel(
            name="ReminderParent",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "parent_userid",
                    models.CharField(max_length=64, verbose_name="WeCom parent userid"),
                ),
                (
                    "living",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="school.living",
                        verbose_name="live lesson",
                    ),
                ),
                (
                    "reminder",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="parents",
                        to="reminders.reminder",
                        verbose_name="reminder",
                    ),
                ),
            ],
            options={
                "verbose_name": "reminded parent",
                "verbose_name_plural": "reminded parents",
                "ordering": ["reminder", "parent_userid"],
                "indexes": [
                    models.Index(
                        fields=["living", "parent_userid"], name="reminders_r_living__c4325c_idx"
                    )
                ],
                "constraints": [
                    models.UniqueConstraint(
                        fields=("reminder", "parent_userid"), name="unique_reminder_parent"
                    )
                ],
            },
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop),
    ]
