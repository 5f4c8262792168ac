"""Every school-owned row names its school (issue 22): the existing rows join the default school.

A department's primary key was WeCom's department id, which is unique only within a corp: the key
becomes our own (each existing row keeps its value, so every foreign key stays valid) and WeCom's
id moves to ``wecom_id``, unique per school. Watch and unwatch rows join the roster by (school,
student_userid); their ``student_userid`` column stays as WeCom sent it.
"""

import django.db.models.deletion
from django.db import migrations, models
from django.db.models import F

from school_live.school.migration_steps import (
    history_school_foreign_key,
    rows_into_default_school,
    school_foreign_key,
    sequences_past_max,
)

SCHOOL_OWNED = [
    "Department",
    "HistoricalDepartment",
    "Teacher",
    "ClassAssignment",
    "Student",
    "Enrollment",
    "Parent",
    "Guardianship",
    "AttendancePolicy",
    "HistoricalAttendancePolicy",
    "SyncRun",
    "Living",
    "StudentWatch",
    "VisitorWatch",
    "StudentUnwatch",
]
# The models whose school column is required (the historical ones keep theirs optional).
REQUIRED = [name for name in SCHOOL_OWNED if not name.startswith("Historical")]


def policy_fk(*, null: bool):
    return models.OneToOneField(
        null=null,
        on_delete=django.db.models.deletion.CASCADE,
        related_name="attendance_policy",
        to="school.school",
        verbose_name="school",
    )


WATCH_INDEX = {"studentwatch": False, "studentunwatch": False}


def _school_field(name: str, *, null: bool):
    lower = name.lower()
    if lower.startswith("historical"):
        return history_school_foreign_key()
    if lower == "attendancepolicy":
        return policy_fk(null=null)
    return school_foreign_key(null=null, db_index=WATCH_INDEX.get(lower, True))


def department_ids_to_wecom_ids(apps, schema_editor):
    """WeCom's id of each stored department was its primary key."""
    for name in ("Department", "HistoricalDepartment"):
        apps.get_model("school", name).objects.update(wecom_id=F("id"))


def watch_row_student(model_name: str, related_name: str) -> list:
    """The row's student: a foreign key on the userid alone becomes the userid column (as it
    was) and a join on (school, userid). Only the single-column index goes from the database."""
    return [
        migrations.AlterField(
            model_name=model_name,
            name="student",
            field=models.ForeignKey(
                db_column="student_userid",
                db_constraint=False,
                db_index=False,
                on_delete=django.db.models.deletion.DO_NOTHING,
                related_name=related_name,
                to="school.student",
                to_field="student_userid",
                verbose_name="student userid",
            ),
        ),
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.RemoveField(model_name=model_name, name="student"),
                migrations.AddField(
                    model_name=model_name,
                    name="student_userid",
                    field=models.CharField(
                        db_column="student_userid", max_length=64, verbose_name="student userid"
                    ),
                    preserve_default=False,
                ),
                migrations.AddField(
                    model_name=model_name,
                    name="student",
                    field=models.ForeignObject(
                        from_fields=("school", "student_userid"),
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        related_name=related_name,
                        to="school.student",
                        to_fields=("school", "student_userid"),
                        verbose_name="student",
                    ),
                ),
            ]
        ),
    ]


class Migration(migrations.Migration):
    dependencies = [
        ("school", "0009_school_pending"),
    ]

    operations = [
        # 1. The school of every row, and WeCom's id of every department, filled in.
        *[
            migrations.AddField(
                model_name=name.lower(), name="school", field=_school_field(name, null=True)
            )
            for name in SCHOOL_OWNED
        ],
        *[
            migrations.AddField(
                model_name=name,
                name="wecom_id",
                field=models.BigIntegerField(null=True, verbose_name="WeCom department id"),
            )
            for name in ("department", "historicaldepartment")
        ],
        migrations.RunPython(department_ids_to_wecom_ids, migrations.RunPython.noop),
        migrations.RunPython(
            rows_into_default_school("school", *SCHOOL_OWNED), migrations.RunPython.noop
        ),
        *[
            migrations.AlterField(
                model_name=name.lower(), name="school", field=_school_field(name, null=False)
            )
            for name in REQUIRED
        ],
        *[
            migrations.AlterField(
                model_name=name,
                name="wecom_id",
                field=models.BigIntegerField(verbose_name="WeCom department id"),
            )
            for name in ("department", "historicaldepartment")
        ],
        # 2. The department's own primary key, continuing past the stored ones.
        migrations.AlterField(
            model_name="department",
            name="id",
            field=models.BigAutoField(
                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
            ),
        ),
        migrations.RunPython(sequences_past_max("school", "Department"), migrations.RunPython.noop),
        migrations.AlterField(
            model_name="historicaldepartment",
            name="id",
            field=models.BigIntegerField(
                auto_created=True, blank=True, db_index=True, verbose_name="ID"
            ),
        ),
        migrations.AlterModelOptions(
            name="department",
            options={
                "ordering": ["type", "-order", "wecom_id"],
                "verbose_name": "department",
                "verbose_name_plural": "departments",
            },
        ),
        migrations.AddConstraint(
            model_name="department",
            constraint=models.UniqueConstraint(
                fields=("school", "wecom_id"), name="unique_department_wecom_id"
            ),
        ),
        # 3. Watch and unwatch rows join the roster by (school, student_userid).
        migrations.RemoveConstraint(model_name="studentwatch", name="unique_student_watch"),
        migrations.RemoveConstraint(model_name="studentunwatch", name="unique_student_unwatch"),
        *watch_row_student("studentwatch", "watches"),
        *watch_row_student("studentunwatch", "unwatches"),
        migrations.AddConstraint(
            model_name="studentwatch",
            constraint=models.UniqueConstraint(
                fields=("living", "student_userid", "parent_userid"), name="unique_student_watch"
            ),
        ),
        migrations.AddConstraint(
            model_name="studentunwatch",
            constraint=models.UniqueConstraint(
                fields=("living", "student_userid", "parent_userid"),
                name="unique_student_unwatch",
            ),
        ),
        migrations.AddIndex(
            model_name="studentwatch",
            index=models.Index(
                fields=["school", "student_userid"], name="studentwatch_school_student"
            ),
        ),
        migrations.AddIndex(
            model_name="studentunwatch",
            index=models.Index(
                fields=["school", "student_userid"], name="studentunwatch_school_student"
            ),
        ),
        # 4. WeCom's ids unique within their school only.
        migrations.AlterField(
            model_name="teacher",
            name="userid",
            field=models.CharField(max_length=64, verbose_name="WeCom userid"),
        ),
        migrations.AlterField(
            model_name="student",
            name="student_userid",
            field=models.CharField(max_length=64, verbose_name="WeCom student userid"),
        ),
        migrations.AlterField(
            model_name="parent",
            name="parent_userid",
            field=models.CharField(max_length=64, verbose_name="WeCom parent userid"),
        ),
        migrations.AlterField(
            model_name="living",
            name="livingid",
            field=models.CharField(max_length=128, verbose_name="WeCom living id"),
        ),
        migrations.AddConstraint(
            model_name="teacher",
            constraint=models.UniqueConstraint(
                fields=("school", "userid"), name="unique_teacher_userid"
            ),
        ),
        migrations.AddConstraint(
            model_name="student",
            constraint=models.UniqueConstraint(
                fields=("school", "student_userid"), name="unique_student_userid"
            ),
        ),
        migrations.AddConstraint(
            model_name="parent",
            constraint=models.UniqueConstraint(
                fields=("school", "parent_userid"), name="unique_parent_userid"
            ),
        ),
        migrations.AddConstraint(
            model_name="living",
            constraint=models.UniqueConstraint(
                fields=("school", "livingid"), name="unique_livingid"
            ),
        ),
    ]
