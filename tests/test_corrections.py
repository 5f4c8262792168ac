"""请假 excused absences in the verdicts, the two exact rules (a 0 s row is not watching, a
replay-only viewer is never late), the leave-file import and the audit trail of corrections and
thresholds. Real rows, real SQL, on SQLite and PostgreSQL alike.

The ``attendance_living`` fixture starts 2026-03-02 08:00 Beijing (00:00 UTC) and lasts 60 min.
"""

import datetime as dt

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse

from school_live.attendance import queries
from school_live.attendance.rules import Verdict
from school_live.corrections.models import Excuse
from school_live.corrections.services import (
    ExcuseRefused,
    ExcuseRequest,
    excuse_create,
    excuse_revoke,
)
from school_live.school.models import AttendancePolicy, Department, Living
from school_live.school.tenancy import default_school
from tests.fixtures.attendance import START, make_living, make_student, watch

DAY = dt.date(2026, 3, 2)  # the Beijing date of the fixture's living
EXCUSED = Verdict.EXCUSED


def excuse(student, *, start=DAY, end=None, living=None, kind=Excuse.Kind.SICK, by=None):
    if living is not None:
        start = None
    return excuse_create(
        request=ExcuseRequest(
            student=student, kind=kind, start=start, end=end or start, living=living
        ),
        by=by,
    )


def verdicts_of(attendance_living, class_key="class_one"):
    rows = queries.class_attendance(
        department=attendance_living.school[class_key], living=attendance_living.living
    )
    return {row.student_userid: row.verdict for row in rows}


# 请假 in the verdicts -------------------------------------------------------------------------


def test_an_excuse_turns_every_verdict_but_present_into_excused(attendance_living):
    s = attendance_living.students
    for student in (s.present, s.partial, s.absent, s.unsubscribed, s.late):
        excuse(student)

    verdicts = verdicts_of(attendance_living)

    assert verdicts["present"] == Verdict.PRESENT  # attended fully: keeps it
    assert verdicts["late"] == Verdict.PRESENT
    assert (verdicts["partial"], verdicts["absent"], verdicts["unsubscribed"]) == (
        EXCUSED,
        EXCUSED,
        EXCUSED,
    )
    assert verdicts["early"] == Verdict.PARTIAL  # not excused: unchanged


def test_an_excuse_for_one_living_covers_that_living_only(attendance_living, school):
    s = attendance_living.students
    excuse(s.absent, living=attendance_living.living)
    other = make_living("lv-same-day", classes=[school["class_one"]], start=START)

    assert verdicts_of(attendance_living)["absent"] == EXCUSED
    rows = queries.class_attendance(department=school["class_one"], living=other)
    assert {row.student_userid: row.verdict for row in rows}["absent"] == Verdict.ABSENT


def test_a_range_is_inclusive_and_in_beijing_dates(school):
    class_one = school["class_one"]
    student = make_student("kid", "小明", classes=[class_one], parents=[("kid_m", "妈妈", True)])
    # 00:30 on 3 March in Beijing is still 2 March in UTC.
    late_night = make_living(
        "lv-night", classes=[class_one], start=dt.datetime(2026, 3, 2, 16, 30, tzinfo=dt.UTC)
    )
    before = make_living(
        "lv-before", classes=[class_one], start=dt.datetime(2026, 3, 1, 15, 0, tzinfo=dt.UTC)
    )  # 23:00 on 1 March in Beijing
    excuse(student, start=dt.date(2026, 3, 3), end=dt.date(2026, 3, 5))

    def verdict(living):
        return queries.class_attendance(department=class_one, living=living).get().verdict

    assert verdict(late_night) == EXCUSED
    assert verdict(before) == Verdict.ABSENT
    history = {
        item["living"].livingid: item["verdict"]
        for item in queries.student_history(student=student)
    }
    assert history == {"lv-night": EXCUSED, "lv-before": Verdict.ABSENT}
    rows = {
        row["student_userid"]: row for row in queries.class_period_students(department=class_one)
    }
    assert (rows["kid"]["excused"], rows["kid"]["absent"]) == (1, 1)


def test_a_revoked_excuse_no_longer_counts(attendance_living):
    made = excuse(attendance_living.students.absent)
    excuse_revoke(excuse=made, why="家长记错日期")

    assert verdicts_of(attendance_living)["absent"] == Verdict.ABSENT
    assert Excuse.objects.filter(pk=made.pk).exists()  # reversed, never deleted


def test_excused_students_leave_the_rate_and_are_counted_in_every_query(attendance_living):
    s = attendance_living.students
    living, class_one = attendance_living.living, attendance_living.school["class_one"]
    excuse(s.absent)
    excuse(s.unsubscribed)

    summary = queries.class_summary(department=class_one, living=living)
    assert (summary["excused"], summary["absent"], summary["unreachable"]) == (2, 0, 2)
    assert summary["total"] == 12
    assert summary["rate"] == pytest.approx(4 / 10)  # 4 present of the 10 not excused
    [breakdown] = [
        row
        for row in queries.living_breakdown(living=living)
        if row["department"].pk == class_one.pk
    ]
    assert (breakdown["excused"], breakdown["rate"]) == (2, summary["rate"])
    [point] = queries.class_period_summary(department=class_one)
    assert (point["excused"], point["rate"]) == (2, summary["rate"])
    totals = queries.summaries_total(queries.living_breakdown(living=living))
    assert totals["excused"] == 2
    assert totals["rate"] == pytest.approx(
        totals["present"] / (totals["total"] - totals["excused"])
    )
    history = queries.student_history(student=s.absent)
    assert [item["verdict"] for item in history] == [EXCUSED]


def test_a_class_whose_whole_roster_is_excused_has_no_rate(school):
    class_one = school["class_one"]
    living = make_living("lv-one", classes=[class_one])
    excuse(make_student("only", "独生", classes=[class_one]))

    summary = queries.class_summary(department=class_one, living=living)
    assert (summary["excused"], summary["total"], summary["rate"]) == (1, 1, None)


def test_an_excuse_needs_a_lesson_or_an_ordered_range_and_a_reason(attendance_living):
    student = attendance_living.students.absent
    with pytest.raises(ExcuseRefused):
        excuse(student, start=dt.date(2026, 3, 5), end=dt.date(2026, 3, 1))
    with pytest.raises(ExcuseRefused):
        excuse(student, kind=Excuse.Kind.OTHER)  # "other" needs its words
    with pytest.raises(ExcuseRefused):
        excuse_create(request=ExcuseRequest(student=student, kind=Excuse.Kind.SICK))
    assert not Excuse.objects.exists()


# The two exact rules --------------------------------------------------------------------------


def test_a_watch_row_of_zero_seconds_is_not_watching(attendance_living, school):
    s = attendance_living.students
    living, class_one = attendance_living.living, school["class_one"]
    watch(living, "absent", seconds=0, enter=0, leave=0)
    watch(living, "unsubscribed", parent="unsubscribed_mum", seconds=0, enter=1, leave=1)

    rows = {
        row.student_userid: row
        for row in queries.class_attendance(department=class_one, living=living)
    }
    assert (rows["absent"].verdict, rows["absent"].watched) == (Verdict.ABSENT, False)
    assert (rows["unsubscribed"].verdict, rows["unsubscribed"].is_late) == (
        Verdict.UNREACHABLE,
        False,
    )
    assert rows["absent"].first_enter is None  # a 0 s row is no evidence of arrival
    assert sum(queries.coverage_histogram(department=class_one, living=living)) == 8
    [listed] = queries.class_livings(department=class_one)
    assert listed.watched == 8  # 8 roster students watched more than 0 s
    period = {
        row["student_userid"]: row for row in queries.class_period_students(department=class_one)
    }
    assert (period["absent"]["absent"], period["unsubscribed"]["unreachable"]) == (1, 1)
    assert queries.student_history(student=s.absent)[0]["verdict"] == Verdict.ABSENT


def test_a_replay_only_viewer_is_never_late_in_any_query(attendance_living, school):
    class_one = school["class_one"]
    s = attendance_living.students
    row = queries.class_attendance(department=class_one, living=attendance_living.living).get(
        student_userid="replay"
    )
    assert (row.replay_only, row.is_late) == (True, False)
    [item] = queries.student_history(student=s.replay)
    assert (item["replay_only"], item["is_late"]) == (True, False)
    period = {
        row["student_userid"]: row for row in queries.class_period_students(department=class_one)
    }
    assert (period["replay"]["replay_only"], period["replay"]["late"]) == (1, 0)


# The leave file -------------------------------------------------------------------------------


def write(tmp_path, text, *, bom=False):
    path = tmp_path / "leave.csv"
    path.write_bytes(("\ufeff" if bom else "").encode() + text.encode("utf-8"))
    return path


def test_import_leave_marks_every_row_from_a_file_with_a_bom(attendance_living, tmp_path, capsys):
    path = write(
        tmp_path,
        "student_userid,start,end,reason\n"
        "absent,2026-03-02,2026-03-02,病假\n"
        "unsubscribed,2026-03-01,2026-03-04,事假\n"
        "partial,2026-03-02,2026-03-03,市级比赛\n",
        bom=True,
    )
    call_command("import_leave", str(path))

    kinds = {e.student.student_userid: (e.kind, e.reason) for e in Excuse.objects.all()}
    assert kinds == {
        "absent": (Excuse.Kind.SICK, ""),
        "unsubscribed": (Excuse.Kind.PERSONAL, ""),
        "partial": (Excuse.Kind.OTHER, "市级比赛"),
    }
    assert "3" in capsys.readouterr().out
    verdicts = verdicts_of(attendance_living)
    assert {verdicts[key] for key in ("absent", "unsubscribed", "partial")} == {EXCUSED}
    record = Excuse.history.filter(student__student_userid="absent").get()
    assert "leave.csv" in record.history_change_reason


@pytest.mark.usefixtures("english")
def test_import_leave_refuses_a_file_with_a_bad_row_and_changes_nothing(
    attendance_living, tmp_path, capsys
):
    path = write(
        tmp_path,
        "student_userid,start,end,reason\n"
        "absent,2026-03-02,2026-03-02,病假\n"
        "nobody,2026-03-02,2026-03-02,病假\n"
        "partial,2026-03-05,2026-03-01,\n"
        "present,2026/03/02,2026-03-02,病假\n",
    )
    with pytest.raises(CommandError, match="Nothing was imported"):
        call_command("import_leave", str(path))

    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 4
    assert lines[0].startswith("Row 3, column student_userid") and "nobody" in lines[0]
    assert lines[1].startswith("Row 4, column end")
    assert lines[2].startswith("Row 4, column reason")
    assert lines[3].startswith("Row 5, column start") and "YYYY-MM-DD" in lines[3]
    assert not Excuse.objects.exists()


@pytest.mark.usefixtures("english")
def test_import_leave_refuses_wrong_columns(db, tmp_path, capsys):
    path = write(tmp_path, "userid,from,to\nabsent,2026-03-02,2026-03-02\n")
    with pytest.raises(CommandError):
        call_command("import_leave", str(path))
    assert "Row 1" in capsys.readouterr().err


# The audit trail ------------------------------------------------------------------------------


def test_every_change_of_an_excuse_is_kept_with_who_and_why(attendance_living, admin_user):
    made = excuse(attendance_living.students.absent, by=admin_user)
    excuse_revoke(excuse=made, by=admin_user, why="家长记错日期")

    created, revoked = made.history.order_by("history_date", "history_id")
    assert (created.history_type, created.history_user, created.revoked_at) == (
        "+",
        admin_user,
        None,
    )
    assert (revoked.history_type, revoked.history_user) == ("~", admin_user)
    assert revoked.history_change_reason == "家长记错日期"
    assert revoked.revoked_at is not None


def test_a_threshold_changed_in_the_admin_is_recorded_with_who_and_why(client, admin_user, school):
    policy = AttendancePolicy.current(default_school())
    client.force_login(admin_user)
    response = client.post(
        reverse("admin:school_attendancepolicy_change", args=[policy.pk]),
        {
            "present_threshold": 70,
            "late_grace_minutes": 5,
            "early_leave_grace_minutes": 5,
            "change_reason": "教务会议决定",
        },
    )
    assert response.status_code == 302
    last = policy.history.order_by("-history_date").first()
    assert (last.present_threshold, last.history_user, last.history_change_reason) == (
        70,
        admin_user,
        "教务会议决定",
    )
    before = last.prev_record
    assert before is None or before.present_threshold == 80

    class_one = school["class_one"]
    response = client.post(
        reverse("admin:school_department_change", args=[class_one.pk]),
        {
            "present_threshold": 60,
            "change_reason": "低年级",
            "assignments-TOTAL_FORMS": 0,
            "assignments-INITIAL_FORMS": 0,
        },
    )
    assert response.status_code == 302
    record = Department.history.filter(id=class_one.pk).order_by("-history_date").first()
    assert (record.present_threshold, record.history_user, record.history_change_reason) == (
        60,
        admin_user,
        "低年级",
    )
    history_page = client.get(reverse("admin:school_department_history", args=[class_one.pk]))
    assert "低年级" in history_page.content.decode()


def test_the_admin_never_deletes_an_excuse(client, admin_user, attendance_living):
    made = excuse(attendance_living.students.absent)
    client.force_login(admin_user)
    response = client.post(reverse("admin:corrections_excuse_delete", args=[made.pk]))
    assert response.status_code == 403
    changelist = client.get(reverse("admin:corrections_excuse_changelist")).content.decode()
    assert "delete_selected" not in changelist
    assert client.get(reverse("admin:corrections_excuse_add")).status_code == 200
    history = client.get(reverse("admin:corrections_excuse_history", args=[made.pk]))
    assert history.status_code == 200
    client.post(
        reverse("admin:corrections_excuse_changelist"),
        {"action": "revoke", "_selected_action": [made.pk]},
    )
    made.refresh_from_db()
    assert made.revoked_by == admin_user
    assert Living.objects.count() == 1 and Excuse.objects.count() == 1
