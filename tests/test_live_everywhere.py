"""Live is live everywhere (issue 20, item 2): while a lesson is under way, the home card, the class
page and the lesson's page show its roll call (已进入 / 未进入 / 未触达, the families reminded), never
verdicts or a rate — from the start on, before the first sync too (everyone still to come) — and
the header's WeCom numbers come with the roll call's JSON."""

import datetime as dt
import re

import pytest
from django.urls import reverse
from django.utils import timezone

from school_live.reminders.models import Reminder, ReminderStudent
from school_live.school.models import StudentUnwatch
from school_live.school.tenancy import default_school
from tests.fixtures.attendance import make_living, make_student, watch

CLASS_ONE = 3


@pytest.fixture
def live_class(school):
    one = school["class_one"]
    make_student("in_room", "甲在场", classes=[one], parents=[("ir_m", "妈妈", True)])
    make_student("coming", "乙未进", classes=[one], parents=[("co_m", "妈妈", True)])
    make_student("listed", "丙名单", classes=[one], parents=[("li_m", "妈妈", False)])
    make_student("cut_off", "丁未订", classes=[one], parents=[("cu_m", "妈妈", False)])
    return one


def live_lesson(department, *, synced: bool):
    now = timezone.now()
    living = make_living(
        "lv-going",
        classes=[department],
        start=now - dt.timedelta(minutes=10),
        duration=45 * 60,
        synced=False,
    )
    if synced:
        living.stats_synced_at = now - dt.timedelta(seconds=5)
        living.viewer_num, living.comment_num = 7, 2
        living.save(update_fields=["stats_synced_at", "viewer_num", "comment_num"])
        watch(living, "in_room", seconds=300, enter=2, leave=None)
        StudentUnwatch.objects.create(
            school=default_school(),
            living=living,
            student_userid="listed",
            parent_userid="li_m",
            partyids=[department.wecom_id],
        )
    return living


def total(html: str, name: str) -> int:
    return int(re.search(rf'<dd data-total="{name}">(\d+)</dd>', html)[1])


def test_a_lesson_just_started_shows_the_roll_call_at_once(client, live_class, head_teacher):
    living = live_lesson(live_class, synced=False)
    client.force_login(head_teacher.user)
    for url in (
        reverse("dashboard:living", args=[living.livingid]),
        reverse("dashboard:class", args=[CLASS_ONE]) + f"?living={living.livingid}",
    ):
        html = client.get(url).content.decode()
        assert 'id="rollcall"' in html, url
        assert 'data-state="live"' in html and 'id="roster-table"' not in html
        assert (total(html, "joined"), total(html, "reachable"), total(html, "unreachable")) == (
            0,
            2,
            2,
        )
    answer = client.get(reverse("dashboard:rollcall", args=[living.livingid])).json()
    assert answer["live"] is True and answer["display"] == "live"
    assert answer["totals"]["reachable"] == 2


def test_the_home_card_shows_the_roll_call_never_verdicts(client, live_class, head_teacher):
    living = live_lesson(live_class, synced=True)
    reminder = Reminder.objects.create(
        school=default_school(),
        living=living,
        department=live_class,
        kind=Reminder.Kind.MANUAL,
        status=Reminder.Status.SENT,
        sent_at=timezone.now(),
        text="…",
    )
    ReminderStudent.objects.create(
        school=default_school(),
        reminder=reminder,
        living=living,
        student_userid="coming",
        parent_userids=["co_m"],
    )
    client.force_login(head_teacher.user)
    html = client.get(reverse("dashboard:home")).content.decode()
    card = html.split(f'data-livingid="{living.livingid}"')[1].split("</li>")[0]
    assert 'data-joined="1" data-reachable="2" data-unreachable="1" data-reminded="1"' in card
    assert "出勤率" not in card and "%" not in card and "缺勤" not in card
    assert "已进入" in card and "未进入" in card and "未触达" in card


def test_the_header_numbers_come_with_the_roll_call(client, live_class, head_teacher):
    living = live_lesson(live_class, synced=True)
    client.force_login(head_teacher.user)
    html = client.get(reverse("dashboard:living", args=[living.livingid])).content.decode()
    assert re.search(r'<span id="living-numbers" data-text-numbers="\{viewers\}[^"]*">7 ', html)
    answer = client.get(reverse("dashboard:rollcall", args=[living.livingid])).json()
    assert (answer["viewer_num"], answer["comment_num"]) == (7, 2)
