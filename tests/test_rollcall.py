"""The roll call of a live lesson: who has joined (first entry, own or a parent's account), who has
not and can be reminded (a parent follows 学校通知: attendance/reach.py), who WeCom cannot reach;
read in a fixed number of queries, scoped like every page, and served as JSON to rollcall.js."""

import datetime as dt
import re

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from school_live.attendance.queries.rollcall import class_rollcall_students, living_rollcall
from school_live.corrections.nicknames import nickname_claim_create
from school_live.reminders.queries import not_joined_families
from school_live.school.models import Department, Student, StudentUnwatch, VisitorWatch
from school_live.school.tenancy import default_school
from tests.fixtures.attendance import make_living, make_roster, make_student, watch
from tests.fixtures.people import make_department

CLASS_ONE, CLASS_TWO = 3, 4


def unwatched(living, student_userid, parent="p"):
    StudentUnwatch.objects.create(
        school=default_school(),
        living=living,
        student_userid=student_userid,
        parent_userid=parent,
        partyids=[],
    )


@pytest.fixture
def live(school):
    """A lesson of both classes, started 12 minutes ago, synced a moment ago."""
    now = timezone.now()
    living = make_living(
        "lv-live",
        classes=[school["class_one"], school["class_two"]],
        start=now - dt.timedelta(minutes=12),
        duration=45 * 60,
        synced=False,
    )
    living.stats_synced_at = now - dt.timedelta(seconds=12)
    living.save(update_fields=["stats_synced_at"])
    one, two = school["class_one"], school["class_two"]
    make_student("own", "甲自己", classes=[one], parents=[("own_m", "妈妈", True)])
    make_student("by_parent", "乙家长", classes=[one], parents=[("bp_m", "妈妈", True)])
    make_student("both", "丙两个", classes=[one], parents=[("both_m", "妈妈", True)])
    make_student("zero", "丁刚进", classes=[one], parents=[("zero_m", "妈妈", True)])
    make_student("waiting", "戊未进", classes=[one], parents=[("w_m", "妈妈", True)])
    make_student("cut_off", "己未订", classes=[one], parents=[("c_m", "妈妈", False)])
    make_student("gone", "庚退学", classes=[one], is_active=False)
    make_student("other", "辛二班", classes=[two], parents=[("o_m", "妈妈", True)])
    watch(living, "own", seconds=600, enter=1, leave=None)
    watch(living, "by_parent", parent="bp_m", seconds=300, enter=5, leave=None)
    watch(living, "both", seconds=200, enter=8, leave=None)
    watch(living, "both", parent="both_m", seconds=500, enter=3, leave=None)
    # Opened the lesson this very second: on WeCom's list, nothing accrued yet.
    watch(living, "zero", seconds=0, enter=11, leave=None)
    unwatched(living, "waiting", "w_m")
    unwatched(living, "other", "o_m")
    unwatched(living, "gone")
    return living


def groups(living, department):
    return {
        s.student_userid: s.group
        for s in class_rollcall_students(living=living, department=department)
    }


def test_each_roster_student_is_joined_reachable_or_unreachable(live, school):
    assert groups(live, school["class_one"]) == {
        "own": "joined",
        "by_parent": "joined",
        "both": "joined",
        "zero": "joined",
        "waiting": "reachable",
        "cut_off": "unreachable",
    }
    assert groups(live, school["class_two"]) == {"other": "reachable"}


def test_joined_students_carry_first_entry_and_account(live, school):
    rows = {
        s.student_userid: s
        for s in class_rollcall_students(living=live, department=school["class_one"])
    }
    start = live.living_start
    assert rows["both"].first_enter == start + dt.timedelta(minutes=3)  # the earlier account
    assert (rows["own"].own_account, rows["own"].parent_account) == (True, False)
    assert (rows["by_parent"].own_account, rows["by_parent"].parent_account) == (False, True)
    assert (rows["both"].own_account, rows["both"].parent_account) == (True, True)
    assert rows["waiting"].first_enter is None


def test_students_come_in_group_order_latest_arrival_first(live, school):
    order = [
        s.student_userid
        for s in class_rollcall_students(living=live, department=school["class_one"])
    ]
    assert order == ["waiting", "cut_off", "zero", "by_parent", "both", "own"]


def test_counts_per_class_and_in_total(live, school):
    rollcall = living_rollcall(living=live, classes=Department.objects.filter(type=1))
    by_class = {entry.department.wecom_id: entry.counts.as_dict() for entry in rollcall.classes}
    assert by_class[CLASS_ONE] == {
        "joined": 4,
        "reachable": 1,
        "unreachable": 1,
        "not_joined": 2,
        "total": 6,
    }
    assert by_class[CLASS_TWO]["reachable"] == 1 and by_class[CLASS_TWO]["total"] == 1
    assert rollcall.totals.total == 7 and rollcall.totals.joined == 4
    assert rollcall.minutes_since_start == 12


def test_a_class_nobody_is_enrolled_in_counts_zero(live, school):
    empty = make_department(9, "空班", 1, parent=school["grade"])
    live.classes.add(empty)
    rollcall = living_rollcall(living=live, classes=Department.objects.filter(pk=empty.pk))
    assert rollcall.classes[0].counts.total == 0


def test_queries_are_fixed_whatever_the_class_size(school, django_assert_num_queries):
    def count(size):
        living = make_living(f"lv-{size}", classes=[school["class_one"]], start=timezone.now())
        make_roster(school["class_one"], living, size, prefix=f"s{size}_")
        for index in range(0, size, 3):
            unwatched(living, f"s{size}_{CLASS_ONE}_{index}")
        classes = Department.objects.filter(wecom_id=CLASS_ONE)
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as captured:
            rollcall = living_rollcall(living=living, classes=classes)
            rows = list(class_rollcall_students(living=living, department=school["class_one"]))
        assert rollcall.totals.total == len(rows)
        return len(captured)

    small = count(3)
    assert count(60) == small == 3


# --- the pages and the JSON ------------------------------------------------------------------------


def test_a_visitor_the_nickname_book_claims_has_joined_for_the_student(
    client, live, school, head_teacher, english
):
    """小明妈妈 watching on WeChat is 戊未进 at the lesson: joined in the roll call (with the
    nickname, escaped), and not a family to remind. Another class's claim does not count."""
    one, two = school["class_one"], school["class_two"]
    nickname = "<b>戊妈妈</b>"
    waiting = Student.objects.get(student_userid="waiting")
    VisitorWatch.objects.create(
        school=default_school(),
        living=live,
        position=0,
        nickname=nickname,
        watch_time=120,
        enter_time=live.living_start + dt.timedelta(minutes=9),
    )
    make_student("other2", "壬二班", classes=[two], parents=[("o2_m", "妈妈", True)])
    unwatched(live, "other2", "o2_m")
    nickname_claim_create(department=one, nickname=nickname, student=waiting)
    assert groups(live, one)["waiting"] == "joined"
    assert groups(live, two)["other2"] == "reachable"  # the claim is 一年级一班's only
    rollcall = living_rollcall(living=live, classes=Department.objects.filter(type=1))
    by_class = {entry.department.wecom_id: entry.counts for entry in rollcall.classes}
    assert (by_class[CLASS_ONE].joined, by_class[CLASS_ONE].reachable) == (5, 0)
    rows = {s.student_userid: s for s in class_rollcall_students(living=live, department=one)}
    assert rows["waiting"].first_enter == live.living_start + dt.timedelta(minutes=9)
    selection = not_joined_families(living=live, department=one, allow_scope=None)
    assert "waiting" not in {family.student_userid for family in selection.families}

    client.force_login(head_teacher.user)
    students = {s["userid"]: s for s in rollcall_json(client, live).json()["class"]["students"]}
    assert students["waiting"]["via"] == f"via WeChat 访客 {nickname}"
    page = client.get(reverse("dashboard:living", args=[live.livingid])).content.decode()
    assert "&lt;b&gt;戊妈妈&lt;/b&gt;" in page and nickname not in page


def rollcall_json(client, living, **params):
    return client.get(reverse("dashboard:rollcall", args=[living.livingid]), params)


def test_json_gives_counts_students_and_the_age_of_the_data(client, live, head_teacher):
    client.force_login(head_teacher.user)
    answer = rollcall_json(client, live).json()
    assert answer["live"] is True and answer["state"] == "live"
    assert 10 <= answer["synced_age"] <= 60
    assert answer["minutes_since_start"] == 12
    # 王丽 reads 一年级一班 only, though the lesson covers both classes.
    assert [entry["id"] for entry in answer["classes"]] == [CLASS_ONE]
    assert answer["totals"]["joined"] == 4 and answer["totals"]["total"] == 6
    students = {s["userid"]: s for s in answer["class"]["students"]}
    assert students["by_parent"]["account"] == "parent"
    assert students["both"]["account"] == "both"
    expected = timezone.localtime(live.living_start + dt.timedelta(minutes=3)).strftime("%H:%M")
    assert students["both"]["first_enter"] == expected
    assert students["cut_off"] == {
        "userid": "cut_off",
        "name": "己未订",
        "mark": "",
        "url": reverse("dashboard:student", args=["cut_off"]),
        "group": "unreachable",
        "first_enter": "",
        "account": "",
        "via": "",
    }
    assert "gone" not in students


def test_json_of_another_class_or_its_lesson_is_a_404(client, live, head_teacher, other_teacher):
    client.force_login(head_teacher.user)
    assert rollcall_json(client, live, **{"class": CLASS_TWO}).status_code == 404
    assert rollcall_json(client, live, **{"class": "x"}).status_code == 404
    theirs = make_living(
        "lv-theirs", classes=[Department.objects.get(wecom_id=CLASS_TWO)], start=timezone.now()
    )
    assert rollcall_json(client, theirs).status_code == 404
    outsider = Client()
    assert outsider.get(reverse("dashboard:rollcall", args=[live.livingid])).status_code == 302
    outsider.force_login(other_teacher.user)
    answer = rollcall_json(outsider, live).json()
    assert [entry["id"] for entry in answer["classes"]] == [CLASS_TWO]
    assert [s["userid"] for s in answer["class"]["students"]] == ["other"]


def test_json_takes_a_fixed_number_of_queries(
    client, school, head_teacher, django_assert_max_num_queries
):
    client.force_login(head_teacher.user)
    for size in (5, 80):
        living = make_living(f"lv-q{size}", classes=[school["class_one"]], start=timezone.now())
        make_roster(school["class_one"], living, size, prefix=f"q{size}_")
        with django_assert_max_num_queries(12):
            assert rollcall_json(client, living).status_code == 200


def test_living_page_of_a_live_lesson_shows_the_roll_call_not_verdicts(
    client, live, admin_user, english
):
    client.force_login(admin_user)
    html = client.get(reverse("dashboard:living", args=[live.livingid])).content.decode()
    assert 'id="rollcall"' in html and "js/rollcall.js" in html
    assert 'id="breakdown-table"' not in html and "data-verdict" not in html
    # Both classes for staff, with the first one's students listed in their groups.
    assert re.search(r'<tr data-class="3"[^>]*>', html) and '<tr data-class="4"' in html
    reachable = html.split('data-list="reachable"')[1].split("</ul>")[0]
    assert 'data-student="waiting"' in reachable and "own" not in reachable
    joined = html.split('data-list="joined"')[1].split("</ul>")[0]
    assert joined.index('data-student="zero"') < joined.index('data-student="own"')
    assert "Updated 12 s ago" in html or "Updated 13 s ago" in html
    assert "12 min since the start" in html
    # The lesson's own state poller stays the one that reloads; the roll call does not repeat it.
    assert 'id="wecom-status"' in html and "data-living-state" not in html
    assert 'id="rollcall-actions"' in html  # room for 提醒未进入的家长


def test_class_page_of_a_live_lesson_shows_its_roll_call_and_watches_the_state(
    client, live, head_teacher
):
    client.force_login(head_teacher.user)
    html = client.get(reverse("dashboard:class", args=[CLASS_ONE])).content.decode()
    assert 'id="rollcall"' in html and 'id="summary"' not in html
    assert "js/living-state.js" in html and "js/rollcall.js" in html
    assert re.search(
        r'id="rollcall"[^>]*data-living-state data-state-url="/lessons/lv-live/state.json" data-state="live"',
        html,
    )
    assert "辛二班" not in html  # the other class's student


def test_an_ended_lesson_shows_verdicts_again(client, live, head_teacher):
    live.living_duration = 60
    live.save(update_fields=["living_duration"])
    client.force_login(head_teacher.user)
    html = client.get(reverse("dashboard:living", args=[live.livingid])).content.decode()
    assert 'id="rollcall"' not in html and 'id="summary"' in html
    answer = rollcall_json(client, live).json()
    assert answer["live"] is False and answer["state"] == "ended"


def test_wecom_names_reach_the_page_escaped(client, live, head_teacher):
    make_student(
        "evil", "<img src=x onerror=alert(1)>", classes=[Department.objects.get(wecom_id=CLASS_ONE)]
    )
    client.force_login(head_teacher.user)
    html = client.get(reverse("dashboard:living", args=[live.livingid])).content.decode()
    assert "<img src=x" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html


def test_the_reminder_button_sits_once_in_the_roll_call_among_who_has_not_joined(
    client, live, head_teacher
):
    client.force_login(head_teacher.user)
    for url in (
        reverse("dashboard:class", args=[CLASS_ONE]),
        reverse("dashboard:living", args=[live.livingid]),
    ):
        html = client.get(url).content.decode()
        assert html.count('id="remind-button"') == 1, url
        reachable = html.split('data-group="reachable"')[1].split('data-list="reachable"')[0]
        assert 'id="remind-button"' in reachable, url
