"""One definition of reachable (issue 20, item 1): a student's family can be reached when a parent
of the student follows 学校通知 by the roster (an active, subscribed parent), or when WeCom's
get_unwatch_stat lists the student for the lesson. The roll call, the reminder's selection, the
verdicts (缺勤 vs 未触达), the warnings and the weekly digest all read that one rule.

Three students of 一年级一班 pin it:
- ``roster_only``: a parent follows by the roster, WeCom's unwatch list does not name them
  (as for a lesson created through living/create, whose list may be empty) → reachable;
- ``unwatch_only``: the roster says no parent follows, but WeCom's unwatch list names them (the
  roster is older than WeCom's word) → reachable;
- ``neither`` → unreachable.
"""

import datetime as dt

import pytest
from django.utils import timezone

from school_live.attendance.queries import (
    class_attendance,
    class_period_students,
    class_roster,
    class_warnings,
    living_breakdown,
    student_history,
)
from school_live.attendance.queries.rollcall import class_rollcall_students, living_rollcall
from school_live.attendance.rules import Verdict
from school_live.reminders.queries import not_joined_families
from school_live.reports.weekly import class_digest_build
from school_live.school.models import Department, Living, StudentUnwatch
from school_live.school.tenancy import default_school
from tests.fixtures.attendance import make_living, make_student, watch

REACHABLE = {"roster_only", "unwatch_only"}
STUDENTS = ("roster_only", "unwatch_only", "neither", "here")


@pytest.fixture
def three(school):
    one = school["class_one"]
    make_student("roster_only", "甲名册", classes=[one], parents=[("ro_m", "妈妈", True)])
    make_student("unwatch_only", "乙名单", classes=[one], parents=[("uo_m", "妈妈", False)])
    make_student("neither", "丙都无", classes=[one], parents=[("ne_m", "妈妈", False)])
    make_student("here", "丁在场", classes=[one], parents=[("he_m", "妈妈", True)])
    return one


def lesson(livingid, department, *, start, duration=45 * 60, synced_at=None) -> Living:
    """A lesson of ``department`` where ``here`` watched and WeCom's unwatch list names only
    ``unwatch_only`` (never ``roster_only``)."""
    living = make_living(livingid, classes=[department], start=start, duration=duration)
    if synced_at is not None:
        living.stats_synced_at = synced_at
        living.save(update_fields=["stats_synced_at"])
    living.stats_complete = synced_at is None
    living.save(update_fields=["stats_complete"])
    watch(living, "here", seconds=duration, enter=0, leave=duration // 60)
    StudentUnwatch.objects.create(
        school=default_school(),
        living=living,
        student_userid="unwatch_only",
        parent_userid="uo_m",
        partyids=[department.wecom_id],
    )
    return living


@pytest.fixture
def live(three):
    now = timezone.now()
    return lesson(
        "lv-reach-live",
        three,
        start=now - dt.timedelta(minutes=10),
        synced_at=now - dt.timedelta(seconds=5),
    )


@pytest.fixture
def ended(three):
    return lesson("lv-reach-ended", three, start=timezone.now() - dt.timedelta(days=1))


def test_the_roll_call_reads_the_rule(live, three):
    groups = {
        s.student_userid: s.group for s in class_rollcall_students(living=live, department=three)
    }
    assert groups == {
        "roster_only": "reachable",
        "unwatch_only": "reachable",
        "neither": "unreachable",
        "here": "joined",
    }
    counts = living_rollcall(living=live, classes=Department.objects.filter(pk=three.pk)).totals
    assert (counts.joined, counts.reachable, counts.unreachable) == (1, 2, 1)


def test_the_reminder_selects_the_roll_calls_not_joined(live, three):
    selection = not_joined_families(living=live, department=three, allow_scope=None)
    assert {family.student_userid for family in selection.families} == REACHABLE
    assert selection.unreachable == 1
    parents = {family.student_userid: family.parent_userids for family in selection.families}
    assert parents == {"roster_only": ("ro_m",), "unwatch_only": ("uo_m",)}


def test_the_verdicts_read_the_rule(ended, three):
    verdicts = {
        s.student_userid: s.verdict for s in class_attendance(department=three, living=ended)
    }
    assert verdicts == {
        "roster_only": Verdict.ABSENT,
        "unwatch_only": Verdict.ABSENT,
        "neither": Verdict.UNREACHABLE,
        "here": Verdict.PRESENT,
    }
    [row] = living_breakdown(living=ended)
    assert (row["absent"], row["unreachable"], row["present"]) == (2, 1, 1)
    period = {row["student_userid"]: row for row in class_period_students(department=three)}
    assert [period[s]["absent"] for s in STUDENTS] == [1, 1, 0, 0]
    assert [period[s]["unreachable"] for s in STUDENTS] == [0, 0, 1, 0]
    history = {
        userid: student_history(student=three.students.get(student_userid=userid))[0]["verdict"]
        for userid in STUDENTS
    }
    assert history == verdicts
    flags = {
        s.student_userid: s.has_subscribed_parent
        for s in class_roster(department=three, living=ended)
    }
    assert flags == {"roster_only": True, "unwatch_only": True, "neither": False, "here": True}


def test_the_warnings_and_the_digest_read_the_rule(three):
    now = timezone.now()
    livings = [
        lesson(f"lv-reach-{day}", three, start=now - dt.timedelta(days=day, hours=1))
        for day in (3, 2, 1)
    ]
    unreachable = {
        entry.student_userid
        for entry in class_warnings(department=three, now=now)
        if any(w.kind == "unreachable" for w in entry.warnings)
    }
    assert unreachable == {"neither"}
    digest = class_digest_build(
        department=three, start=livings[0].living_start - dt.timedelta(hours=1), end=now
    )
    assert [line.student_userid for line in digest.unreachable] == ["neither"]
