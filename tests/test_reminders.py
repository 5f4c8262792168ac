"""Reminding the families of students who have not joined a live lesson (issue #12 items 3–5).

The school comes from a real sync of the sandbox's small school; its live lesson is made to
cover one class, with two students in the room. What the sandbox recorded of each 学校通知 is
the truth the tests compare with: who got it, who WeCom refused.
"""

import dataclasses
import datetime as dt
import io
import types

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from school_live.attendance.queries.rollcall import class_rollcall_students
from school_live.reminders.models import ClassReminderSetting, Reminder, ReminderStudent
from school_live.reminders.queries import not_joined_families
from school_live.reminders.services import (
    ReminderRefused,
    auto_reminders_send,
    families_count,
    reminder_send,
    reminder_text,
)
from school_live.reminders.tasks import auto_reminders_task
from school_live.school.models import (
    ClassAssignment,
    Department,
    Living,
    Parent,
    StudentWatch,
    Teacher,
)
from school_live.school.tenancy import default_school
from school_live.sync.living_stats import living_stats_sync
from school_live.sync.roster import roster_sync
from tests.fixtures.sandbox import live_livingid

pytestmark = pytest.mark.usefixtures("english")

SEND = "/cgi-bin/externalcontact/message/send"
LESSON_MINUTES = 120


@dataclasses.dataclass
class LiveLesson:
    state: object  # the sandbox's SandboxState
    client: object
    living: Living
    department: Department
    joined: list[str]  # student userids in the room
    unreachable: str  # a student of the class no parent of whom follows 学校通知

    def sync(self) -> Living:
        run = living_stats_sync(
            school=default_school(), client=self.client, livingid=self.living.livingid
        )
        assert run.status == "succeeded", run.error
        self.living.refresh_from_db()
        return self.living

    def expected_parents(self) -> set[str]:
        """From the sandbox: every subscribed parent of the class's students not in the room."""
        school = self.state.school
        return {
            parent.userid
            for student in school.students_by_dept[self.department.wecom_id]
            if student.userid not in self.joined
            for parent in student.parents
            if parent.is_subscribe
        }

    def delivered(self) -> list[str]:
        return self.state.notice_log()[-1]["delivered_parents"]


def _unsubscribe(state, userid: str) -> None:
    """No parent of this student follows 学校通知 any more (in the sandbox's school)."""
    school = state.school
    student = school.students[userid.lower()]
    parents = tuple(
        dataclasses.replace(p, is_subscribe=0, external_userid="") for p in student.parents
    )
    school.students[userid.lower()] = dataclasses.replace(student, parents=parents)
    school.index()


@pytest.fixture
def lesson(sync_sandbox, sync_client, settings) -> LiveLesson:
    state = sync_sandbox.state
    settings.WECOM_AGENT_ID = state.agent_id
    sync_client.agent_id = state.agent_id
    livingid = live_livingid(state)
    sandbox_living = state.start_living_now(livingid, duration=LESSON_MINUTES * 60)
    class_id = sandbox_living.partyids[0]
    students = sorted(state.school.students_by_dept[class_id], key=lambda s: s.userid)
    joined = [students[0].userid, students[1].userid]
    unreachable = students[-1].userid
    _unsubscribe(state, unreachable)
    with state.lock:
        # Started five minutes ago, for this class only, with two students in the room.
        sandbox_living.living_start -= 300
        sandbox_living.partyids = (class_id,)
        sandbox_living.viewers = []
        sandbox_living.sort_viewers()
    start = sandbox_living.living_start
    for userid in joined:
        state.add_watcher(
            livingid, userid, enter_time=start + 60, leave_time=start + 240, watch_time=180
        )
    assert roster_sync(school=default_school(), client=sync_client).status == "succeeded"
    run = living_stats_sync(school=default_school(), client=sync_client, livingid=livingid)
    assert run.status == "succeeded", run.error
    return LiveLesson(
        state=state,
        client=sync_client,
        living=run.living,
        department=Department.objects.get(wecom_id=class_id),
        joined=joined,
        unreachable=unreachable,
    )


def people(lesson: LiveLesson):
    """The class's 班主任, a teacher of the other class, the host, an admin (all with logins)."""
    department = lesson.department
    head = (
        ClassAssignment.objects.filter(department=department)
        .select_related("teacher")
        .order_by("role", "teacher__userid")
        .first()
        .teacher
    )
    mine = set(
        ClassAssignment.objects.filter(department=department).values_list("teacher", flat=True)
    )
    other = (
        Teacher.objects.filter(assignments__department__type=Department.Type.CLASS)
        .exclude(pk__in=mine)
        .exclude(userid=lesson.living.anchor_userid)
        .first()
    )
    users = get_user_model().objects
    for teacher in (head, other):
        if teacher.user is None:
            teacher.user = users.create_user(username=teacher.userid)
            teacher.save(update_fields=["user"])
    return types.SimpleNamespace(
        head=head.user,
        other=other.user,
        admin=users.create_superuser(username="boss", password="x", email="b@x.example"),
    )


# --- who is reminded ------------------------------------------------------------------------


def test_recipients_are_the_parents_of_reachable_students_not_in_the_room(lesson):
    outcome = reminder_send(
        client=lesson.client, living=lesson.living, department=lesson.department
    )
    assert outcome.sent and outcome.error is None
    expected = lesson.expected_parents()
    assert expected  # the class has families to remind
    assert set(lesson.delivered()) == expected
    body = lesson.state.notice_log()[-1]["body"]
    assert set(body["to_parent_userid"]) == expected
    assert body["enable_duplicate_check"] == 1 and body["msgtype"] == "text"
    reminded = set(ReminderStudent.objects.values_list("student_userid", flat=True))
    assert not reminded & set(lesson.joined)
    assert lesson.unreachable not in reminded
    text = body["text"]["content"]
    assert lesson.department.name in text and lesson.living.theme[:4] in text
    reminder = outcome.reminder
    assert reminder.status == "sent" and reminder.sender is None
    assert set(reminder.parent_userids) == expected and reminder.invalid_parent_userids == []


def test_a_watch_row_with_no_time_yet_has_joined_as_in_the_roll_call(lesson):
    """During the lesson a row of 0 s is someone who has just come in: the roll call shows them
    joined, so their family is not reminded (the verdicts after the end judge 0 s as absent)."""
    StudentWatch.objects.filter(living=lesson.living, student_userid=lesson.joined[0]).update(
        watch_time=0
    )
    selection = not_joined_families(
        living=lesson.living, department=lesson.department, allow_scope=None
    )
    names = {family.student_userid for family in selection.families}
    assert lesson.joined[0] not in names and lesson.joined[1] not in names
    joined = class_rollcall_students(living=lesson.living, department=lesson.department)
    assert lesson.joined[0] in joined.filter(group="joined").values_list(
        "student_userid", flat=True
    )


def test_a_parent_we_think_follows_but_wecom_refuses_is_counted_invalid(lesson):
    # Our roster still says this family follows 学校通知; WeCom knows better.
    unreachable = lesson.state.school.students[lesson.unreachable.lower()]
    Parent.objects.filter(parent_userid=unreachable.parents[0].userid).update(is_subscribed=True)
    outcome = reminder_send(
        client=lesson.client, living=lesson.living, department=lesson.department
    )
    reminder = outcome.reminder
    assert reminder.invalid_parent_userids == [unreachable.parents[0].userid]
    assert unreachable.parents[0].userid not in lesson.delivered()
    families = ReminderStudent.objects.filter(reminder=reminder).count()
    assert families_count(reminder) == (families - 1, 1)


def test_only_families_within_the_allow_scope_are_reminded(lesson):
    school = lesson.state.school
    allowed = next(
        s.userid
        for s in sorted(school.students_by_dept[lesson.department.wecom_id], key=lambda s: s.userid)
        if s.userid not in lesson.joined and s.subscribed_parent
    )
    lesson.state.set_allow_scope(students=[allowed], departments=[])
    outcome = reminder_send(
        client=lesson.client, living=lesson.living, department=lesson.department
    )
    assert [f.student_userid for f in outcome.selection.families] == [allowed]
    assert outcome.selection.outside_scope > 0
    expected = {p.userid for p in school.students[allowed.lower()].parents if p.is_subscribe}
    assert set(lesson.delivered()) == expected


def test_a_theme_from_wecom_cannot_become_a_link_in_the_families_text(school):
    living = Living(
        school=default_school(),
        livingid="lv-x",
        theme='<a href="https://evil.example">点我</a>数学',
    )
    living.living_start = timezone.now()
    text = reminder_text(living=living, department=school["class_one"])
    assert "<" not in text and ">" not in text
    assert "点我" in text and "一年级一班" in text


# --- the 10-minute rule ---------------------------------------------------------------------


def test_a_second_reminder_within_10_minutes_sends_nothing(lesson):
    first = reminder_send(client=lesson.client, living=lesson.living, department=lesson.department)
    assert first.sent
    calls = lesson.state.call_count(SEND)
    later = timezone.now() + dt.timedelta(minutes=9)
    second = reminder_send(
        client=lesson.client, living=lesson.living, department=lesson.department, now=later
    )
    assert second.reminder is None
    assert second.selection.recently_reminded == len(first.selection.families)
    assert lesson.state.call_count(SEND) == calls
    assert Reminder.objects.count() == 1
    # After ten minutes the same families may be reminded again, and WeCom delivers it.
    lesson.state.advance(11 * 60)
    third = reminder_send(
        client=lesson.client,
        living=lesson.living,
        department=lesson.department,
        now=timezone.now() + dt.timedelta(minutes=11),
    )
    assert third.sent
    assert set(lesson.delivered()) == lesson.expected_parents()


def test_a_failed_reminder_is_kept_and_does_not_block_the_next(lesson):
    lesson.state.inject_errcode(SEND, 45009, times=1)
    failed = reminder_send(client=lesson.client, living=lesson.living, department=lesson.department)
    assert failed.error is not None and failed.reminder.status == "failed"
    assert failed.reminder.errcode == 45009 and "45009" in failed.reminder.error
    assert failed.reminder.students.count() == len(failed.selection.families)
    retry = reminder_send(client=lesson.client, living=lesson.living, department=lesson.department)
    assert retry.sent
    assert Reminder.objects.count() == 2


def test_a_lesson_that_is_not_live_is_refused(lesson):
    lesson.living.living_start = timezone.now() - dt.timedelta(hours=3)
    lesson.living.save(update_fields=["living_start"])
    with pytest.raises(ReminderRefused):
        reminder_send(client=lesson.client, living=lesson.living, department=lesson.department)
    assert lesson.state.call_count(SEND) == 0
    assert not Reminder.objects.exists()


# --- the pages --------------------------------------------------------------------------------


def test_the_button_confirms_then_sends_and_a_second_press_says_nothing_was_sent(lesson):
    who = people(lesson)
    browser = Client(HTTP_ACCEPT_LANGUAGE="en")
    browser.force_login(who.head)
    living_page = reverse("dashboard:living", args=[lesson.living.livingid])
    html = browser.get(living_page).content.decode()
    url = reverse("reminders:confirm", args=[lesson.living.livingid, lesson.department.wecom_id])
    assert f'href="{url}"' in html
    class_page = reverse("dashboard:class", args=[lesson.department.wecom_id])
    class_html = browser.get(class_page, {"living": lesson.living.livingid}).content.decode()
    assert f'href="{url}"' in class_html

    confirm = browser.get(url)
    assert confirm.status_code == 200
    page = confirm.content.decode()
    assert 'id="reminder-text"' in page and lesson.department.name in page
    assert lesson.state.call_count(SEND) == 0  # looking sends nothing

    response = browser.post(url, follow=True)
    reminder = Reminder.objects.get()
    assert response.redirect_chain[-1][0] == reverse("reminders:detail", args=[reminder.pk])
    families = reminder.students.count()
    body = response.content.decode()
    assert f"Reminded {families} families; 0 invalid." in body
    assert reminder.sender == who.head
    assert set(lesson.delivered()) == lesson.expected_parents()

    again = browser.post(url, follow=True).content.decode()
    assert "Nothing was sent" in again and "less than 10 minutes ago" in again
    assert Reminder.objects.count() == 1 and lesson.state.call_count(SEND) == 1


def test_people_outside_the_class_get_a_404_and_send_nothing(lesson):
    who = people(lesson)
    url = reverse("reminders:confirm", args=[lesson.living.livingid, lesson.department.wecom_id])
    outsider = Client()
    outsider.force_login(who.other)
    assert outsider.get(url).status_code == 404
    assert outsider.post(url).status_code == 404
    assert lesson.state.call_count(SEND) == 0
    anonymous = Client().post(url)
    assert anonymous.status_code == 302 and "/accounts/login/" in anonymous["Location"]
    admin = Client()
    admin.force_login(who.admin)
    assert admin.post(url).status_code == 302
    reminder = Reminder.objects.get()
    detail = reverse("reminders:detail", args=[reminder.pk])
    assert outsider.get(detail).status_code == 404
    assert admin.get(detail).status_code == 200


def test_the_lessons_host_may_remind(lesson):
    host = get_user_model().objects.create_user(username="host")
    Teacher.objects.update_or_create(
        school=default_school(),
        userid=lesson.living.anchor_userid,
        defaults={"user": host, "is_active": True},
    )
    ClassAssignment.objects.filter(teacher__user=host).delete()
    browser = Client(HTTP_ACCEPT_LANGUAGE="en")
    browser.force_login(host)
    url = reverse("reminders:confirm", args=[lesson.living.livingid, lesson.department.wecom_id])
    assert browser.get(url).status_code == 200


@pytest.mark.parametrize(
    "setup,errcode,words",
    [
        (lambda state: state.set_parent_app(False), 48002, "「家长可使用的应用」"),
        (lambda state: state.inject_errcode(SEND, 301002), 301002, "WECOM_AGENT_ID"),
        (lambda state: state.inject_errcode(SEND, 45009), 45009, "Try again in a minute"),
    ],
)
def test_wecom_errors_say_what_to_fix_and_the_reminder_is_kept(lesson, setup, errcode, words):
    who = people(lesson)
    setup(lesson.state)
    browser = Client(HTTP_ACCEPT_LANGUAGE="en")
    browser.force_login(who.head)
    url = reverse("reminders:confirm", args=[lesson.living.livingid, lesson.department.wecom_id])
    html = browser.post(url, follow=True).content.decode()
    assert words in html
    reminder = Reminder.objects.get()
    assert reminder.status == "failed" and reminder.errcode == errcode
    detail = browser.get(reverse("reminders:detail", args=[reminder.pk])).content.decode()
    assert words in detail
    assert not any(entry.get("delivered_parents") for entry in lesson.state.notice_log())


def test_the_confirm_page_of_a_lesson_that_is_not_live_offers_no_button(lesson):
    who = people(lesson)
    lesson.living.status = Living.Status.ENDED
    lesson.living.save(update_fields=["status"])
    browser = Client(HTTP_ACCEPT_LANGUAGE="en")
    browser.force_login(who.head)
    html = browser.get(reverse("dashboard:living", args=[lesson.living.livingid])).content.decode()
    assert 'id="remind-button"' not in html
    url = reverse("reminders:confirm", args=[lesson.living.livingid, lesson.department.wecom_id])
    page = browser.get(url).content.decode()
    assert 'id="reminder-not-live"' in page and 'id="reminder-form"' not in page
    assert "not live" in browser.post(url, follow=True).content.decode()
    assert lesson.state.call_count(SEND) == 0


# --- the effect -------------------------------------------------------------------------------


def test_the_lessons_page_shows_who_joined_after_a_reminder_and_how_long_after(lesson):
    who = people(lesson)
    outcome = reminder_send(
        client=lesson.client, living=lesson.living, department=lesson.department
    )
    reminder = outcome.reminder
    late = outcome.selection.families[0].student_userid
    sent = round(reminder.sent_at.timestamp())  # 187 s after, to the second
    lesson.state.add_watcher(
        lesson.living.livingid, late, enter_time=sent + 187, leave_time=sent + 600, watch_time=413
    )
    lesson.state.advance(600)  # ten minutes later, WeCom has the row
    lesson.sync()
    lesson.living.status = Living.Status.ENDED  # the lesson is over
    lesson.living.save(update_fields=["status"])
    browser = Client(HTTP_ACCEPT_LANGUAGE="en")
    browser.force_login(who.head)
    html = browser.get(reverse("dashboard:living", args=[lesson.living.livingid])).content.decode()
    section = html.split('id="reminders"')[1]
    assert f'data-reminder="{reminder.pk}"' in section and 'data-joined="1"' in section
    assert f'data-student="{late}" data-joined="1"' in section
    assert "3:07 min after" in section
    others = [f.student_userid for f in outcome.selection.families[1:]]
    assert f'data-student="{others[0]}" data-joined="0"' in section


# --- the command ------------------------------------------------------------------------------


def command(*args):
    out, err = io.StringIO(), io.StringIO()
    code = 0
    try:
        call_command("remind_not_joined", *args, stdout=out, stderr=err)
    except SystemExit as exit_:
        code = exit_.code
    return code, out.getvalue(), err.getvalue()


def test_the_command_dry_run_prints_the_families_and_sends_nothing(lesson):
    code, out, _err = command(lesson.living.livingid, "--dry-run")
    assert code == 0
    lines = out.strip().splitlines()
    parents = {p for line in lines for p in line.split("\t")[-1].split(",")}
    assert parents == lesson.expected_parents()
    assert all(line.startswith("would remind\t") for line in lines)
    assert lesson.state.call_count(SEND) == 0 and not Reminder.objects.exists()


def test_the_command_reminds_then_sends_nothing_within_10_minutes(lesson):
    code, out, err = command(lesson.living.livingid, "--class", str(lesson.department.wecom_id))
    assert code == 0, err
    assert len(out.strip().splitlines()) == ReminderStudent.objects.count() > 0
    assert set(lesson.delivered()) == lesson.expected_parents()
    code, out, err = command(lesson.living.livingid)
    assert code == 0 and out == "" and "nothing was sent" in err


def test_the_command_refuses_a_lesson_that_is_not_live(lesson):
    lesson.living.status = Living.Status.ENDED
    lesson.living.save(update_fields=["status"])
    code, out, err = command(lesson.living.livingid)
    assert code == 1 and out == ""
    assert len(err.strip().splitlines()) == 1 and "not live" in err
    assert lesson.state.call_count(SEND) == 0
    code, _out, err = command("no-such-living")
    assert code == 1 and len(err.strip().splitlines()) == 1


# --- the automatic reminder ---------------------------------------------------------------------


def test_the_automatic_reminder_goes_out_once_n_minutes_after_the_start(lesson):
    # Off by default.
    assert auto_reminders_send(school=default_school(), client=lesson.client) == []
    setting = ClassReminderSetting.objects.create(
        school=default_school(), department=lesson.department, auto_after_minutes=10
    )
    # Five minutes in: not yet.
    assert auto_reminders_send(school=default_school(), client=lesson.client) == []
    setting.auto_after_minutes = 4
    setting.save()
    assert auto_reminders_task.apply().get() == 1  # the beat's task, run in this process
    reminder = Reminder.objects.get()
    assert reminder.kind == "automatic" and reminder.sender is None and reminder.status == "sent"
    assert set(lesson.delivered()) == lesson.expected_parents()
    # Once: the next minutes send nothing, even after the 10-minute window.
    later = timezone.now() + dt.timedelta(minutes=15)
    assert auto_reminders_send(school=default_school(), client=lesson.client, now=later) == []
    assert Reminder.objects.count() == 1 and lesson.state.call_count(SEND) == 1


def test_a_transient_failure_of_the_automatic_reminder_is_tried_again(lesson):
    ClassReminderSetting.objects.create(
        school=default_school(), department=lesson.department, auto_after_minutes=1
    )
    lesson.state.inject_errcode(SEND, -1, times=None)
    [failed] = auto_reminders_send(school=default_school(), client=lesson.client)
    assert failed.status == "failed" and failed.errcode == -1
    lesson.state._path_faults.clear()
    [sent] = auto_reminders_send(school=default_school(), client=lesson.client)
    assert sent.status == "sent"
    lesson.state.set_parent_app(False)
    Reminder.objects.filter(pk=sent.pk).update(status="failed", errcode=48002)
    assert (
        auto_reminders_send(school=default_school(), client=lesson.client) == []
    )  # permanent: not every minute


def test_the_beat_schedule_runs_the_automatic_reminder_every_minute(db):
    from django_celery_beat.models import PeriodicTask

    task = PeriodicTask.objects.get(task="reminders.send_automatic")
    assert task.enabled and task.crontab.minute == "*" and task.crontab.hour == "*"


def test_admins_switch_the_automatic_reminder_on_per_class_and_read_the_reminders(
    client, school, admin_user
):
    client.force_login(admin_user)
    add = reverse("admin:reminders_classremindersetting_add")
    assert client.get(add).status_code == 200
    response = client.post(add, {"department": school["class_one"].pk, "auto_after_minutes": 5})
    assert response.status_code == 302
    setting = ClassReminderSetting.objects.get(department=school["class_one"])
    assert setting.auto_after_minutes == 5
    assert client.get(reverse("admin:reminders_reminder_changelist")).status_code == 200
    assert client.get(reverse("admin:reminders_reminder_add")).status_code == 403
