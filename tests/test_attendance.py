"""Attendance verdicts, flags, summaries, histograms and scope, read from real rows in SQL.

The ``attendance_living`` fixture (tests/fixtures/attendance.py) is a 60-minute living of
一年级一班 and 一年级二班 with one student per case; the school threshold is 80% (2880 s) and
一年级二班 overrides it to 50%.
"""

import datetime as dt

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser
from django.db import connection
from django.http import Http404
from django.test.utils import CaptureQueriesContext
from django.utils import timezone, translation

from school_live.attendance import queries, scope, state
from school_live.attendance.rules import Flag, Verdict, rules_for
from school_live.school.models import AttendancePolicy, Department, Living, Teacher
from school_live.school.tenancy import default_school
from tests.fixtures.attendance import START, make_living, make_roster, make_student, watch

PRESENT, PARTIAL = Verdict.PRESENT, Verdict.PARTIAL
ABSENT, UNREACHABLE = Verdict.ABSENT, Verdict.UNREACHABLE


def rows_of(attendance_living, class_key="class_one"):
    department = attendance_living.school[class_key]
    rows = queries.class_attendance(department=department, living=attendance_living.living)
    return {row.student_userid: row for row in rows}


# Verdicts ---------------------------------------------------------------------------------


def test_every_student_on_the_roster_gets_exactly_one_verdict(attendance_living):
    verdicts = {userid: row.verdict for userid, row in rows_of(attendance_living).items()}
    assert verdicts == {
        "present": PRESENT,
        "partial": PARTIAL,
        "absent": ABSENT,
        "unsubscribed": UNREACHABLE,
        "orphan": UNREACHABLE,
        "parent_left": UNREACHABLE,
        "late": PRESENT,
        "early": PARTIAL,
        "replay": PRESENT,
        "commenter": PRESENT,
        "two_parents": PARTIAL,
        "both_classes": PARTIAL,
    }


def test_student_whose_subscribed_parent_did_not_watch_is_absent(attendance_living):
    row = rows_of(attendance_living)["absent"]
    assert (row.verdict, row.has_subscribed_parent, row.watched) == (ABSENT, True, False)
    assert (row.watch_time, row.coverage, row.first_enter, row.last_leave) == (0, 0.0, None, None)


def test_student_with_no_subscribed_parent_is_unreachable_not_absent(attendance_living):
    rows = rows_of(attendance_living)
    # A parent who does not follow 学校通知, no parent at all, a subscribed parent who left WeCom.
    for userid in ("unsubscribed", "orphan", "parent_left"):
        assert rows[userid].verdict == UNREACHABLE, userid
        assert rows[userid].has_subscribed_parent is False, userid


def test_watching_through_a_parent_who_does_not_subscribe_still_counts(attendance_living):
    # 陈双亲's father does not follow 学校通知 but watched; watching is what matters.
    row = rows_of(attendance_living)["two_parents"]
    assert row.watched and row.verdict == PARTIAL


def test_student_watched_by_two_parents_counts_the_longest_time_not_the_sum(attendance_living):
    row = rows_of(attendance_living)["two_parents"]
    # 2000 s and 2500 s on two devices at once is 2500 s (69%): the sum, 4500 s, would be present.
    assert row.watch_time == 2500
    assert row.coverage == pytest.approx(2500 / 3600)
    assert row.verdict == PARTIAL
    assert row.account_count == 2 and row.own_account is False


def test_student_watched_by_two_parents_spans_first_entry_and_last_exit_of_both(
    attendance_living,
):
    row = rows_of(attendance_living)["two_parents"]
    assert row.first_enter == START + dt.timedelta(minutes=1)
    assert row.last_leave == START + dt.timedelta(minutes=58)
    assert row.commented is True  # only the father's row commented


def test_class_threshold_override_decides_the_verdict_in_that_class(attendance_living):
    # 褚两班 watched 2000 s (55%): partial against 80% in 一年级一班, present against 50% in 二班.
    assert rows_of(attendance_living)["both_classes"].verdict == PARTIAL
    class_two = rows_of(attendance_living, "class_two")
    assert class_two["both_classes"].verdict == PRESENT
    assert class_two["both_classes"].present_threshold == 50
    assert set(class_two) == {"both_classes", "second_class"}


def test_school_policy_is_the_default_threshold_and_grace(attendance_living):
    policy = AttendancePolicy.current(default_school())
    policy.present_threshold = 50
    policy.late_grace_minutes = 15
    policy.save()
    rows = rows_of(attendance_living)
    assert rows["partial"].verdict == PRESENT  # 1800 s = 50%
    assert rows["late"].is_late is False  # entered at +10 min, grace now 15 min


def test_present_threshold_is_exact_at_the_boundary(school):
    class_one = school["class_one"]
    living = make_living("lv-edge", classes=[class_one], duration=3600)
    make_student("exact", "刚好", classes=[class_one])
    make_student("short", "差一秒", classes=[class_one])
    watch(living, "exact", seconds=2880, enter=0, leave=60)
    watch(living, "short", seconds=2879, enter=0, leave=60)
    rows = {
        row.student_userid: row
        for row in queries.class_attendance(department=class_one, living=living)
    }
    assert rows["exact"].verdict == PRESENT
    assert rows["short"].verdict == PARTIAL


def test_coverage_is_capped_at_one(school):
    class_one = school["class_one"]
    living = make_living("lv-over", classes=[class_one], duration=600)
    make_student("long", "看很久", classes=[class_one])
    watch(living, "long", seconds=900, enter=0, leave=15)
    row = queries.class_attendance(department=class_one, living=living).get()
    assert (row.watch_time, row.coverage, row.verdict) == (900, 1.0, PRESENT)
    assert queries.coverage_histogram(department=class_one, living=living)[9] == 1


def test_living_without_a_duration_proves_nobody_present_and_never_divides_by_zero(school):
    class_one = school["class_one"]
    living = make_living("lv-unknown", classes=[class_one], duration=0)
    make_student("watcher", "看了", classes=[class_one])
    watch(living, "watcher", seconds=1200, enter=30, leave=50)
    row = queries.class_attendance(department=class_one, living=living).get()
    assert (row.coverage, row.verdict) == (0.0, PARTIAL)
    assert (row.replay_only, row.left_early, row.is_late) == (False, False, True)
    assert queries.coverage_histogram(department=class_one, living=living) == [1] + [0] * 9


def test_living_without_a_start_raises_no_flags(school):
    class_one = school["class_one"]
    living = make_living("lv-nostart", classes=[class_one], start=None, duration=3600)
    make_student("watcher", "看了", classes=[class_one])
    watch(living, "watcher", seconds=3600, enter=None, leave=None)
    row = queries.class_attendance(department=class_one, living=living).get()
    assert row.verdict == PRESENT
    assert (row.is_late, row.left_early, row.replay_only) == (False, False, False)
    assert [
        count for _label, count in queries.arrival_histogram(department=class_one, living=living)
    ] == [0] * 6


def test_inactive_student_is_not_on_the_roster(attendance_living):
    assert "left_school" not in rows_of(attendance_living)


def test_class_attendance_is_a_queryset_to_filter_and_sort(attendance_living):
    rows = queries.class_attendance(
        department=attendance_living.school["class_one"], living=attendance_living.living
    )
    assert list(rows.filter(verdict=ABSENT).values_list("student_userid", flat=True)) == ["absent"]
    assert list(rows.filter(is_late=True).values_list("student_userid", flat=True)) == ["late"]
    by_coverage = list(rows.order_by("-coverage", "student_userid")[:2])
    assert [row.student_userid for row in by_coverage] == ["present", "replay"]


# Flags ------------------------------------------------------------------------------------


def test_flags_mark_late_left_early_replay_only_and_commented(attendance_living):
    rows = rows_of(attendance_living)
    flagged = {
        flag: {userid for userid, row in rows.items() if getattr(row, flag)} for flag in Flag.values
    }
    assert flagged == {
        "is_late": {"late"},
        "left_early": {"early"},
        "replay_only": {"replay"},
        "commented": {"commenter", "two_parents"},
    }


def test_replay_only_viewer_is_not_also_late(attendance_living):
    row = rows_of(attendance_living)["replay"]
    assert row.first_enter > attendance_living.living.living_end
    assert (row.replay_only, row.is_late, row.left_early) == (True, False, False)


def test_leaving_within_the_grace_is_not_leaving_early(attendance_living):
    # 李部分 left at +59 of 60 minutes; the grace is 5 minutes.
    assert rows_of(attendance_living)["partial"].left_early is False


def test_unknown_watchers_lists_rows_the_roster_does_not_know(attendance_living):
    rows = queries.unknown_watchers(living=attendance_living.living)
    assert [(row.student_userid, row.known_student, row.student_name) for row in rows] == [
        ("ghost_child", False, None),
        ("left_school", True, "卫退学"),
    ]


# Summaries and histograms -----------------------------------------------------------------


def test_class_summary_counts_each_verdict_and_flag(attendance_living):
    summary = queries.class_summary(
        department=attendance_living.school["class_one"], living=attendance_living.living
    )
    assert summary == {
        "present": 4,
        "partial": 4,
        "absent": 1,
        "unreachable": 3,
        "excused": 0,
        "total": 12,
        "watched": 8,
        "rate": pytest.approx(4 / 12),
        "late": 1,
        "left_early": 1,
        "replay_only": 1,
        "commented": 2,
    }


def test_class_summary_of_an_empty_class_has_no_rate(school):
    living = make_living("lv-empty", classes=[school["class_one"]])
    summary = queries.class_summary(department=school["class_one"], living=living)
    assert (summary["total"], summary["rate"], summary["present"]) == (0, None, 0)


def test_coverage_histogram_buckets_watchers_by_decile(attendance_living):
    histogram = queries.coverage_histogram(
        department=attendance_living.school["class_one"], living=attendance_living.living
    )
    # 50% partial, 55% both_classes | 66.7% early, 69% two_parents | 83% late, commenter |
    # 100% present, replay (100% goes in the last bucket). Non-watchers are not counted.
    assert histogram == [0, 0, 0, 0, 0, 2, 2, 0, 2, 2]


def test_arrival_histogram_buckets_first_entries_after_the_start(attendance_living):
    with translation.override("en"):
        histogram = queries.arrival_histogram(
            department=attendance_living.school["class_one"], living=attendance_living.living
        )
    assert histogram == [
        ("≤0", 4),  # present (-2), early, commenter, both_classes (0)
        ("0–5", 2),  # partial (+1), two_parents (first of +1 and +3)
        ("5–10", 1),  # late (+10)
        ("10–20", 0),
        ("20+", 0),
        ("replay", 1),
    ]


def test_living_breakdown_summarises_each_class_of_the_living(attendance_living):
    breakdown = queries.living_breakdown(living=attendance_living.living)
    by_name = {row["department"].name: row for row in breakdown}
    assert set(by_name) == {"一年级一班", "一年级二班"}
    assert by_name["一年级一班"] == {
        "department": attendance_living.school["class_one"],
        **queries.class_summary(
            department=attendance_living.school["class_one"], living=attendance_living.living
        ),
    }
    # 一年级二班 at 50%: 褚两班 (55%) and 蒋二班 (53%) are both present; each student counts
    # once in each of their classes.
    assert (by_name["一年级二班"]["present"], by_name["一年级二班"]["total"]) == (2, 2)


def test_living_breakdown_for_a_teacher_lists_only_their_classes(
    attendance_living, other_teacher, head_teacher
):
    breakdown = queries.living_breakdown(living=attendance_living.living, user=other_teacher.user)
    assert [row["department"].name for row in breakdown] == ["一年级二班"]
    breakdown = queries.living_breakdown(living=attendance_living.living, user=head_teacher.user)
    assert [row["department"].name for row in breakdown] == ["一年级一班"]


def test_rules_for_a_class_use_its_override_else_the_school_default(school):
    school["class_two"].present_threshold = 60
    assert rules_for(school["class_two"]).present_threshold == 60
    assert rules_for(school["class_one"]).present_threshold == 80
    assert rules_for(school["class_one"]).late_grace == dt.timedelta(minutes=5)


# Across livings ---------------------------------------------------------------------------


@pytest.fixture
def three_weeks(school):
    """Three weekly livings of 一年级一班: 落后 watches less each time, 缺课 misses two."""
    class_one = school["class_one"]
    livings = [
        make_living(f"lv-week{week}", classes=[class_one], start=START + dt.timedelta(weeks=week))
        for week in range(3)
    ]
    make_student("falling", "落后", classes=[class_one], parents=[("falling_m", "妈妈", True)])
    make_student("missing", "缺课", classes=[class_one], parents=[("missing_m", "妈妈", True)])
    make_student("steady", "稳定", classes=[class_one])
    for living, seconds in zip(livings, (3600, 2400, 1200), strict=True):
        watch(living, "falling", seconds=seconds, enter=0, leave=60)
        watch(living, "steady", seconds=3600, enter=0, leave=60)
    watch(livings[1], "missing", seconds=3000, enter=0, leave=60)
    return livings


def test_student_history_lists_each_living_of_their_class_newest_first(three_weeks, school):
    history = queries.student_history(
        student=school["class_one"].students.get(student_userid="falling")
    )
    assert [row["living"].livingid for row in history] == ["lv-week2", "lv-week1", "lv-week0"]
    assert [row["verdict"] for row in history] == [PARTIAL, PARTIAL, PRESENT]
    assert [row["coverage"] for row in history] == pytest.approx([1 / 3, 2 / 3, 1.0])
    assert history[0]["flags"] == []


def test_student_history_matches_class_attendance(attendance_living):
    history = queries.student_history(
        student=attendance_living.students.late, department=attendance_living.school["class_one"]
    )
    row = rows_of(attendance_living)["late"]
    assert len(history) == 1
    assert (history[0]["verdict"], history[0]["coverage"], history[0]["flags"]) == (
        row.verdict,
        row.coverage,
        ["is_late"],
    )
    replay = queries.student_history(student=attendance_living.students.replay)[0]
    assert replay["flags"] == ["replay_only"] and replay["is_late"] is False


def test_student_history_for_a_user_keeps_to_their_livings(three_weeks, school, other_teacher):
    student = school["class_one"].students.get(student_userid="falling")
    assert queries.student_history(student=student, user=other_teacher.user) == []


def test_class_livings_lists_the_class_livings_newest_first_in_a_date_range(three_weeks, school):
    livings = queries.class_livings(department=school["class_one"])
    assert [living.livingid for living in livings] == ["lv-week2", "lv-week1", "lv-week0"]
    assert [(living.roster_size, living.watched) for living in livings] == [(3, 2), (3, 3), (3, 2)]
    ranged = queries.class_livings(
        department=school["class_one"],
        start=START + dt.timedelta(days=1),
        end=START + dt.timedelta(weeks=2),
    )
    assert [living.livingid for living in ranged] == ["lv-week1"]
    assert not queries.class_livings(department=school["class_two"]).exists()


def test_class_period_summary_gives_each_living_summary_oldest_first(three_weeks, school):
    period = queries.class_period_summary(department=school["class_one"])
    assert [row["living"].livingid for row in period] == ["lv-week0", "lv-week1", "lv-week2"]
    assert [(row["present"], row["partial"], row["absent"]) for row in period] == [
        (2, 0, 1),
        (2, 1, 0),
        (1, 1, 1),
    ]
    assert period[1]["rate"] == pytest.approx(2 / 3)
    assert period[0] | {"living": None} == {
        "living": None,
        **queries.class_summary(department=school["class_one"], living=three_weeks[0]),
    }


def test_class_period_students_counts_each_student_over_the_range(three_weeks, school):
    rows = {
        row["student_userid"]: row
        for row in queries.class_period_students(department=school["class_one"])
    }
    assert set(rows) == {"falling", "missing", "steady"}
    assert (rows["missing"]["absent"], rows["missing"]["present"], rows["missing"]["livings"]) == (
        2,
        1,
        3,
    )
    assert rows["falling"]["mean_coverage"] == pytest.approx((1 + 2 / 3 + 1 / 3) / 3)
    assert (
        list(queries.class_period_students(department=school["class_one"]))[0]["student_userid"]
        == "missing"
    )
    week1 = queries.class_period_students(
        department=school["class_one"],
        start=START + dt.timedelta(days=1),
        end=START + dt.timedelta(days=8),
    )
    assert {row["student_userid"]: row["livings"] for row in week1} == {
        "falling": 1,
        "missing": 1,
        "steady": 1,
    }


def test_students_absent_repeatedly_lists_who_missed_at_least_min_count(three_weeks, school):
    found = queries.students_absent_repeatedly(
        department=school["class_one"], livings=three_weeks, min_count=2
    )
    assert [(row["student"].student_userid, row["absent"], row["livings"]) for row in found] == [
        ("missing", 2, 3)
    ]
    assert (
        queries.students_absent_repeatedly(
            department=school["class_one"], livings=three_weeks, min_count=3
        )
        == []
    )


def test_students_with_falling_coverage_lists_a_steady_decline(three_weeks, school):
    found = queries.students_with_falling_coverage(
        department=school["class_one"], livings=three_weeks, streak=3
    )
    assert [row["student"].student_userid for row in found] == ["falling"]
    assert found[0]["coverages"] == pytest.approx([1.0, 2 / 3, 1 / 3])
    assert [living.livingid for living in found[0]["livings"]] == [
        "lv-week0",
        "lv-week1",
        "lv-week2",
    ]


# Scope ------------------------------------------------------------------------------------


def test_head_teacher_sees_their_class_and_its_livings(attendance_living, head_teacher):
    user = head_teacher.user
    assert list(scope.visible_classes(user)) == [attendance_living.school["class_one"]]
    assert scope.class_or_404(user, 3) == attendance_living.school["class_one"]
    assert scope.living_or_404(user, "lv-math") == attendance_living.living
    assert scope.student_or_404(user, "present").name == "陈出勤"


def test_subject_teacher_sees_the_class_they_teach(attendance_living, subject_teacher):
    assert list(scope.visible_classes(subject_teacher.user)) == [
        attendance_living.school["class_one"]
    ]


def test_teacher_of_another_class_gets_404_and_empty_querysets(attendance_living, other_teacher):
    user = other_teacher.user
    make_living("lv-one-only", classes=[attendance_living.school["class_one"]])
    with pytest.raises(Http404):
        scope.class_or_404(user, attendance_living.school["class_one"].wecom_id)
    with pytest.raises(Http404):
        scope.living_or_404(user, "lv-one-only")
    with pytest.raises(Http404):
        scope.student_or_404(user, "present")
    assert list(scope.visible_classes(user)) == [attendance_living.school["class_two"]]
    assert list(scope.visible_livings(user).values_list("livingid", flat=True)) == ["lv-math"]
    assert set(scope.visible_students(user).values_list("student_userid", flat=True)) == {
        "both_classes",
        "second_class",
    }


def test_living_hosted_by_a_teacher_is_visible_to_the_host_whatever_it_covers(school, head_teacher):
    hosted = make_living("lv-hosted", classes=[school["class_two"]], anchor="wangli")
    make_living("lv-foreign", classes=[school["class_two"]], anchor="liuyang")
    user = head_teacher.user
    assert list(scope.visible_livings(user)) == [hosted]
    assert list(scope.living_classes(user, hosted)) == [school["class_two"]]
    assert (
        scope.living_class_or_404(user, hosted, school["class_two"].wecom_id) == school["class_two"]
    )
    # Hosting a living does not open the class's own pages.
    with pytest.raises(Http404):
        scope.class_or_404(user, school["class_two"].wecom_id)
    with pytest.raises(Http404):
        scope.living_or_404(user, "lv-foreign")


def test_staff_see_every_class_living_and_student(attendance_living, admin_user):
    staff = get_user_model().objects.create_user(username="jiaowu", is_staff=True)
    for user in (admin_user, staff):
        assert set(scope.visible_classes(user)) == {
            attendance_living.school["class_one"],
            attendance_living.school["class_two"],
        }
        assert scope.visible_livings(user).count() == Living.objects.count()
        assert scope.student_or_404(user, "second_class").name == "蒋二班"
        assert len(scope.living_classes(user, attendance_living.living)) == 2


def test_inactive_class_is_hidden_from_teachers_but_open_to_staff(school, head_teacher, admin_user):
    Department.objects.filter(wecom_id=3).update(is_active=False)
    assert not scope.visible_classes(head_teacher.user).exists()
    with pytest.raises(Http404):
        scope.class_or_404(head_teacher.user, 3)
    assert scope.class_or_404(admin_user, 3).wecom_id == 3
    assert 3 not in set(scope.visible_classes(admin_user).values_list("wecom_id", flat=True))


def test_login_without_a_teacher_or_anonymous_sees_nothing(attendance_living, head_teacher):
    nobody = get_user_model().objects.create_user(username="nobody")
    Teacher.objects.filter(pk=head_teacher.pk).update(is_active=False)
    head_teacher.user.refresh_from_db()
    for user in (nobody, AnonymousUser(), head_teacher.user):
        assert not scope.visible_classes(user).exists()
        assert not scope.visible_livings(user).exists()
        assert not scope.visible_students(user).exists()
        assert queries.living_breakdown(living=attendance_living.living, user=user) == []
        with pytest.raises(Http404):
            scope.class_or_404(user, 3)


def test_a_class_id_that_is_not_a_number_is_not_found(admin_user, school):
    with pytest.raises(Http404):
        scope.class_or_404(admin_user, "3 OR 1=1")


# Query counts -----------------------------------------------------------------------------


def count_queries(call) -> int:
    with CaptureQueriesContext(connection) as captured:
        result = call()
        if hasattr(result, "__iter__") and not isinstance(result, dict):
            list(result)
    return len(captured)


@pytest.fixture
def sized_class(school):
    """Return a builder of one living of 一年级一班 with ``size`` students."""
    AttendancePolicy.current(default_school())

    def build(size):
        living = make_living(f"lv-size{size}", classes=[school["class_one"], school["class_two"]])
        make_roster(school["class_one"], living, size, prefix=f"n{size}_")
        make_roster(school["class_two"], living, size // 2, prefix=f"n{size}_")
        return living

    return build


QUERY_BUDGET = {
    "class_attendance": 2,
    "class_summary": 2,
    "coverage_histogram": 2,
    "arrival_histogram": 2,
    "living_breakdown": 3,
}


@pytest.mark.parametrize("function", sorted(QUERY_BUDGET))
def test_class_queries_take_a_fixed_number_of_queries_at_any_size(
    function, sized_class, school, django_assert_max_num_queries
):
    call = getattr(queries, function)
    counts = []
    for size in (5, 60):
        living = sized_class(size)
        if function == "living_breakdown":
            kwargs = {"living": living}
        else:
            kwargs = {"department": school["class_one"], "living": living}
        with django_assert_max_num_queries(QUERY_BUDGET[function]):
            counts.append(count_queries(lambda kwargs=kwargs: call(**kwargs)))
    assert counts[0] == counts[1]


@pytest.mark.parametrize("weeks", [3, 20])
def test_queries_across_livings_take_a_fixed_number_of_queries(
    weeks, school, django_assert_max_num_queries
):
    AttendancePolicy.current(default_school())
    class_one = school["class_one"]
    livings = [
        make_living(f"lv-w{week}", classes=[class_one], start=START + dt.timedelta(weeks=week))
        for week in range(weeks)
    ]
    make_roster(class_one, livings[0], weeks * 3)
    student = make_student("s", "学生", classes=[class_one], parents=[("s_m", "妈妈", True)])
    for index, living in enumerate(livings):
        if index % 2:
            watch(living, "s", seconds=3600 - index * 60, enter=index, leave=60)
    with django_assert_max_num_queries(2):
        queries.student_history(student=student)
    with django_assert_max_num_queries(1):
        list(queries.class_livings(department=class_one))
    with django_assert_max_num_queries(3):
        queries.class_period_summary(department=class_one)
    with django_assert_max_num_queries(2):
        list(queries.class_period_students(department=class_one))
    with django_assert_max_num_queries(3):
        queries.students_absent_repeatedly(department=class_one, livings=livings)
    with django_assert_max_num_queries(3):
        queries.students_with_falling_coverage(department=class_one, livings=livings)


# Lessons without verdicts yet: not started, or never synced ---------------------------------


def test_living_state_is_upcoming_before_the_start_live_during_and_ended_after(school):
    living = make_living("lv-state", classes=[school["class_one"]])
    assert state.living_state(living, now=START - dt.timedelta(minutes=1)) == "upcoming"
    assert state.living_state(living, now=START) == "live"
    assert state.living_state(living, now=START + dt.timedelta(minutes=59)) == "live"
    assert state.living_state(living, now=START + dt.timedelta(minutes=60)) == "ended"
    living.living_start = None
    assert state.living_state(living, now=START) == "upcoming"


def test_only_a_started_and_synced_lesson_has_verdicts(school):
    synced = make_living("lv-synced", classes=[school["class_one"]])
    never = make_living("lv-never", classes=[school["class_one"]], synced=False)
    ahead = make_living(
        "lv-ahead", classes=[school["class_one"]], start=timezone.now() + dt.timedelta(days=1)
    )
    during = START + dt.timedelta(minutes=30)

    assert state.living_status(synced).counted and state.living_status(synced).display == "ended"
    assert not state.living_status(never).counted
    assert state.living_status(never).display == "unsynced"
    assert not state.living_status(ahead).counted
    assert state.living_status(ahead).display == "upcoming"
    live = state.living_status(synced, now=during)
    assert live.counted and live.so_far and live.display == "live"
    counted = state.counted_livings(Living.objects.all())
    assert list(counted.values_list("livingid", flat=True)) == ["lv-synced"]


def test_a_complete_lesson_counts_as_synced_even_without_the_timestamp(school):
    living = make_living("lv-complete", classes=[school["class_one"]], synced=False)
    living.stats_complete = True
    assert state.living_status(living).counted


@pytest.fixture
def weeks_and_unsynced(three_weeks, school):
    """``three_weeks`` plus a fourth week never synced and a lesson tomorrow, neither watched."""
    class_one = school["class_one"]
    never = make_living(
        "lv-never", classes=[class_one], start=START + dt.timedelta(weeks=3), synced=False
    )
    ahead = make_living(
        "lv-ahead", classes=[class_one], start=timezone.now() + dt.timedelta(days=1)
    )
    return [*three_weeks, never, ahead]


def test_class_period_queries_skip_upcoming_and_never_synced_livings(weeks_and_unsynced, school):
    class_one = school["class_one"]
    points = queries.class_period_summary(department=class_one)
    assert [point["living"].livingid for point in points] == ["lv-week0", "lv-week1", "lv-week2"]
    rows = {
        row["student_userid"]: row for row in queries.class_period_students(department=class_one)
    }
    assert rows["missing"]["livings"] == 3 and rows["missing"]["absent"] == 2
    assert rows["steady"]["livings"] == 3 and rows["steady"]["present"] == 3


def test_weekly_digest_queries_ignore_never_synced_and_upcoming_livings(weeks_and_unsynced, school):
    class_one = school["class_one"]
    absent = queries.students_absent_repeatedly(
        department=class_one, livings=weeks_and_unsynced, min_count=2
    )
    assert [(row["student"].student_userid, row["absent"], row["livings"]) for row in absent] == [
        ("missing", 2, 3)
    ]
    # Counted, the two unwatched lessons would end 落后's series at 33%, 0%, 0%: not falling.
    falling = queries.students_with_falling_coverage(
        department=class_one, livings=weeks_and_unsynced, streak=3
    )
    assert [row["student"].student_userid for row in falling] == ["falling"]
    assert [living.livingid for living in falling[0]["livings"]] == [
        "lv-week0",
        "lv-week1",
        "lv-week2",
    ]


def test_student_history_leaves_out_lessons_without_verdicts(weeks_and_unsynced, school):
    student = school["class_one"].students.get(student_userid="missing")
    history = queries.student_history(student=student)
    assert [item["living"].livingid for item in history] == ["lv-week2", "lv-week1", "lv-week0"]


def test_livings_breakdown_gives_each_living_the_summary_of_living_breakdown(
    attendance_living, three_weeks, head_teacher, other_teacher
):
    livings = [attendance_living.living, *three_weeks]
    for user in (None, head_teacher.user, other_teacher.user):
        batched = queries.livings_breakdown(livings=livings, user=user)
        for living in livings:
            assert batched[living.pk] == queries.living_breakdown(living=living, user=user)
    other = queries.livings_breakdown(livings=livings, user=other_teacher.user)
    assert [row["department"].name for row in other[attendance_living.living.pk]] == ["一年级二班"]
    assert other[three_weeks[0].pk] == []


@pytest.mark.parametrize("count", [2, 10])
def test_livings_breakdown_takes_a_fixed_number_of_queries_for_any_number_of_livings(
    count, school, head_teacher, django_assert_max_num_queries
):
    AttendancePolicy.current(default_school())
    class_one, class_two = school["class_one"], school["class_two"]
    livings = [
        make_living(
            f"lv-many{index}",
            classes=[class_one, class_two],
            start=START + dt.timedelta(days=index),
        )
        for index in range(count)
    ]
    make_roster(class_one, livings[-1], 12)
    make_roster(class_two, livings[0], 7)
    user = get_user_model().objects.get(pk=head_teacher.user.pk)
    with django_assert_max_num_queries(4):  # the teacher, the classes, the policy, the counts
        breakdown = queries.livings_breakdown(livings=livings, user=user)
    assert len(breakdown) == count
    assert all(len(rows) == 1 for rows in breakdown.values())  # 王丽's own class only


def test_a_lesson_still_under_way_counts_across_livings_only_once_it_has_ended(three_weeks, school):
    class_one = school["class_one"]
    live = make_living(
        "lv-live",
        classes=[class_one],
        start=timezone.now() - dt.timedelta(minutes=10),
        duration=3600,
    )
    live.stats_synced_at = timezone.now()
    live.save(update_fields=["stats_synced_at"])
    points = queries.class_period_summary(department=class_one)
    assert [point["living"].livingid for point in points] == ["lv-week0", "lv-week1", "lv-week2"]
    rows = {
        row["student_userid"]: row for row in queries.class_period_students(department=class_one)
    }
    assert rows["steady"]["livings"] == 3
    student = class_one.students.get(student_userid="steady")
    assert "lv-live" not in [
        item["living"].livingid for item in queries.student_history(student=student)
    ]
    # An hour later it is over and counts like the others.
    later = timezone.now() + dt.timedelta(hours=2)
    assert state.counted_livings(Living.objects.filter(livingid="lv-live"), now=later).exists()
    assert not state.counted_livings(Living.objects.filter(livingid="lv-live")).exists()
