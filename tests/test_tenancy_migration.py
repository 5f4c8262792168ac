"""The migration that gave every school-owned row its school (issue 22): rows stored by the
single-school version move into the default school, keep their primary keys and their links,
and a department's old key (WeCom's id) becomes its ``wecom_id``."""

import datetime as dt

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from school_live.alerts.models import WarningRules
from school_live.corrections.models import Excuse
from school_live.school.models import (
    AttendancePolicy,
    Department,
    Enrollment,
    Living,
    School,
    Student,
    StudentUnwatch,
    StudentWatch,
    Teacher,
)

# The last migration of each app before schools owned rows.
BEFORE = [
    ("school", "0009_school_pending"),
    ("alerts", "0001_initial"),
    ("corrections", "0002_nickname_claims"),
    ("lessons", "0002_lesson_start_report"),
    ("reminders", "0003_once_per_parent"),
    ("reports", "0002_beat_schedule"),
]
START = dt.datetime(2026, 3, 2, 0, 0, tzinfo=dt.UTC)


def _migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


def _old_rows(apps):
    """What the single-school version stored: department ids were WeCom's."""
    model = apps.get_model
    school = model("school", "Department").objects.create(id=1, name="示例学校", type=5)
    grade = model("school", "Department").objects.create(
        id=2, name="一年级", type=2, parent_id=school.id
    )
    model("school", "Department").objects.create(id=30, name="一年级一班", type=1, parent=grade)
    teacher = model("school", "Teacher").objects.create(userid="wangli", name="王丽")
    model("school", "ClassAssignment").objects.create(
        teacher=teacher, department_id=30, role="head", subject="语文"
    )
    student = model("school", "Student").objects.create(student_userid="chen", name="陈出勤")
    model("school", "Enrollment").objects.create(student=student, department_id=30)
    living = model("school", "Living").objects.create(
        livingid="lv-old", theme="旧课", living_start=START, living_duration=3600
    )
    living.classes.add(30)
    model("school", "StudentWatch").objects.create(
        living=living, student_id="chen", watch_time=3000, partyids=[30]
    )
    model("school", "StudentUnwatch").objects.create(
        living=living, student_id="ghost", parent_userid="ghost_mum", partyids=[30]
    )
    model("school", "AttendancePolicy").objects.create(pk=1, present_threshold=70)
    model("alerts", "WarningRules").objects.create(
        absent_count=2,
        absent_window=4,
        falling_drop=30,
        falling_days=7,
        late_count=3,
        unreachable_lessons=3,
    )
    model("corrections", "Excuse").objects.create(student=student, living=living, kind="sick")
    return {"student": student.pk, "living": living.pk, "teacher": teacher.pk}


@pytest.mark.django_db(transaction=True)
def test_rows_stored_before_schools_move_into_the_default_school_with_their_keys(settings):
    settings.WECOM_CORP_ID = "wwcorp-old"
    latest = MigrationExecutor(connection).loader.graph.leaf_nodes()
    apps = _migrate(BEFORE)
    # A database of the single-school version: no school yet (migrate's post_migrate makes the
    # default school; here the data migration meets rows first).
    apps.get_model("school", "School").objects.all().delete()
    old = _old_rows(apps)
    try:
        _migrate(latest)

        school = School.objects.get(from_environment=True)
        assert school.corp_id == "wwcorp-old" and school.name
        departments = Department.objects.order_by("pk")
        assert [(d.pk, d.wecom_id, d.school_id) for d in departments] == [
            (1, 1, school.pk),
            (2, 2, school.pk),
            (30, 30, school.pk),
        ]
        assert Department.objects.get(pk=30).parent.name == "一年级"
        student = Student.objects.get(pk=old["student"])
        assert (student.school, student.student_userid) == (school, "chen")
        assert Enrollment.objects.get(student=student).department_id == 30
        assert Teacher.objects.get(pk=old["teacher"]).school == school
        living = Living.objects.get(pk=old["living"])
        assert (living.school, living.livingid) == (school, "lv-old")
        assert list(living.classes.values_list("pk", flat=True)) == [30]
        watch = StudentWatch.objects.get(living=living)
        # The watch row joins the roster through (school, student_userid).
        assert (watch.school, watch.student_userid, watch.student) == (school, "chen", student)
        assert list(student.watches.all()) == [watch]
        unwatch = StudentUnwatch.objects.get(living=living)
        assert (unwatch.school, unwatch.student_userid) == (school, "ghost")
        assert AttendancePolicy.current(school).present_threshold == 70
        assert WarningRules.objects.get(department__isnull=True).school == school
        assert Excuse.objects.get().school == school
        # A new department's key continues past the stored ones (PostgreSQL's identity too).
        new = Department.objects.create(school=school, wecom_id=31, name="一年级二班", type=1)
        assert new.pk > 30
    finally:
        _migrate(latest)


@pytest.mark.django_db(transaction=True)
def test_a_database_without_rows_gets_no_school_from_this_migration():
    latest = MigrationExecutor(connection).loader.graph.leaf_nodes()
    old = _migrate(BEFORE)
    # migrate's post_migrate makes the default school (default_school_seed); this migration not.
    old.get_model("school", "School").objects.all().delete()
    try:
        _migrate(latest)
        assert not School.objects.exists()
    finally:
        _migrate(latest)
