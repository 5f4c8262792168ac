"""Lessons name their school; a start report is unique per (school, livingid, teacher), and an
occurrence's key (made of the teacher's userid) per school (issue 22)."""

from django.db import migrations, models

from school_live.school.migration_steps import school_columns


class Migration(migrations.Migration):
    dependencies = [
        ("lessons", "0002_lesson_start_report"),
        ("school", "0010_school_owned_rows"),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name="lessonstartreport", name="unique_start_report_per_teacher"
        ),
        *school_columns("lessons", "LessonSeries", "LessonOccurrence", "LessonStartReport"),
        migrations.AlterField(
            model_name="lessonoccurrence",
            name="key",
            field=models.CharField(max_length=64, verbose_name="key"),
        ),
        migrations.AddConstraint(
            model_name="lessonoccurrence",
            constraint=models.UniqueConstraint(
                fields=("school", "key"), name="unique_occurrence_key"
            ),
        ),
        migrations.AddConstraint(
            model_name="lessonstartreport",
            constraint=models.UniqueConstraint(
                fields=("school", "livingid", "teacher"), name="unique_start_report_per_teacher"
            ),
        ),
    ]
