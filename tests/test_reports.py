"""Scheduled attendance reports: what they say, to whom, exactly once, by email and WeCom."""

import datetime as dt
import email
import email.policy
import io
import socket

import openpyxl
import pytest
import requests
from aiosmtpd.controller import Controller
from django.core import mail
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse
from django.utils import translation
from django_celery_beat.models import PeriodicTask

from school_live.reports import tasks
from school_live.reports.delivery import DeliveryKey, delivery_claim, teacher_recipient
from school_live.reports.dispatch import (
    admin_digests_send,
    living_report_send,
    living_reports_due,
    teacher_digest_send,
)
from school_live.reports.models import ReportDelivery, ReportPreference
from school_live.reports.periods import (
    previous_week_period,
    school_date,
    week_bounds,
    week_period,
)
from school_live.school.models import ClassAssignment, Living
from school_live.school.tenancy import default_school
from school_live.wecom_sandbox.model import Teacher as SandboxTeacher
from tests.fixtures.attendance import make_student, watch
from tests.fixtures.people import PASSWORD
from tests.fixtures.reports import HOSTILE_IMG, HOSTILE_SCRIPT, lesson_of, roster_one

SHANGHAI = dt.timezone(dt.timedelta(hours=8))
EXCEPTIONS = ["李四", "王五", "赵六", "孙七", "周八"]


@pytest.fixture(autouse=True)
def email_only(settings):
    """No WeCom card unless a test asks for the sandbox; the in-memory outbox by default."""
    settings.WECOM_AGENT_ID = None
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.SITE_URL = "https://school.example"


def html_of(message) -> str:
    [(html, mimetype)] = message.alternatives
    assert mimetype == "text/html"
    return html


def by_recipient(outbox) -> dict:
    return {message.to[0]: message for message in outbox}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Collector:
    def __init__(self):
        self.envelopes = []

    async def handle_DATA(self, server, session, envelope):
        self.envelopes.append(envelope)
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp_server(settings):
    collector = Collector()
    controller = Controller(collector, hostname="127.0.0.1", port=free_port())
    controller.start()
    collector.port = controller.port
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = controller.port
    settings.EMAIL_HOST_USER = ""
    settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_USE_SSL = False
    settings.EMAIL_TIMEOUT = 5
    yield collector
    controller.stop()


# The lesson report ---------------------------------------------------------------------------


def test_lesson_report_lists_the_exceptions_and_not_the_present_students(report_living):
    summary = living_report_send(living=report_living.living)

    assert (summary.sent, summary.failed) == (2, 0)
    messages = by_recipient(mail.outbox)
    assert set(messages) == {"wangli@school.example", "zhaomin@school.example"}
    message = messages["wangli@school.example"]
    assert "数学：分数的认识" in message.subject
    assert "03-02 08:00" in message.subject  # Beijing time, not 00:00 UTC
    assert "\n" not in message.subject
    html = html_of(message)
    for body in (message.body, html):
        for name in EXCEPTIONS:
            assert name in body
        assert "张三" not in body  # present, on time, to the end: not the teacher's concern
        assert "一年级一班" in body
        assert "https://school.example/classes/3/?living=lesson-report-1" in body
        assert "50%" in body  # 3 of 6 present
    assert HOSTILE_IMG in message.body  # plain text is not HTML: shown as typed


def test_hostile_nicknames_are_escaped_in_the_html(report_living):
    living_report_send(living=report_living.living)

    html = html_of(mail.outbox[0])
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;小明爸爸" in html
    assert "&lt;script&gt;alert(&#x27;nick&#x27;)&lt;/script&gt;" in html
    assert "<img" not in html
    assert "<script" not in html
    assert HOSTILE_SCRIPT not in html


def test_html_is_one_column_for_a_phone(report_living):
    living_report_send(living=report_living.living)

    html = html_of(mail.outbox[0])
    assert "max-width:600px" in html
    assert "<style" not in html and "<link" not in html  # inline styles only
    # The coverage histogram is drawn as bars whose width is a share of the tallest one.
    assert "width:100%;min-width:2px" in html


def test_running_the_task_twice_sends_one_email_per_teacher(report_living):
    tasks.send_living_report(report_living.living.livingid)
    tasks.send_living_report(report_living.living.livingid)

    assert len(mail.outbox) == 2
    deliveries = ReportDelivery.objects.filter(report=ReportDelivery.Report.LIVING)
    assert deliveries.count() == 2
    assert {d.status for d in deliveries} == {ReportDelivery.Status.SENT}
    assert {d.attempts for d in deliveries} == {1}
    assert living_reports_due(school=default_school(), now=report_living.living.living_end) == []


def test_a_delivery_claimed_by_another_worker_is_not_sent_again(report_living):
    head = report_living.head
    key = DeliveryKey(
        ReportDelivery.Report.LIVING,
        report_living.living.livingid,
        ReportDelivery.Channel.EMAIL,
        teacher_recipient(head),
    )
    assert (
        delivery_claim(school=default_school(), key=key, teacher=head) is not None
    )  # the other worker
    assert delivery_claim(school=default_school(), key=key, teacher=head, retry_failed=True) is None

    summary = living_report_send(living=report_living.living)

    assert (summary.sent, summary.already) == (1, 1)
    assert [message.to for message in mail.outbox] == [["zhaomin@school.example"]]


def test_an_incomplete_lesson_is_not_reported_by_the_task(report_living):
    Living.objects.filter(pk=report_living.living.pk).update(stats_complete=False)

    assert tasks.send_living_report(report_living.living.livingid) is None
    assert tasks.send_living_report("no-such-living") is None
    assert mail.outbox == []


def test_opted_out_teacher_gets_nothing(report_living):
    ReportPreference.objects.create(
        school=default_school(), teacher=report_living.subject, living_report=False
    )

    summary = living_report_send(living=report_living.living)

    assert summary.opted_out == 1
    assert [message.to for message in mail.outbox] == [["wangli@school.example"]]


def test_attachment_only_for_the_teacher_who_chose_it(report_living):
    ReportPreference.objects.create(
        school=default_school(), teacher=report_living.head, xlsx_attachment=True
    )

    living_report_send(living=report_living.living)

    messages = by_recipient(mail.outbox)
    [(filename, content, mimetype)] = messages["wangli@school.example"].attachments
    assert filename.endswith(".xlsx") and "2026-03-02" in filename
    assert mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    sheet = openpyxl.load_workbook(io.BytesIO(content)).active
    names = [row[0] for row in sheet.iter_rows(min_row=2, values_only=True)]
    assert sorted(names) == sorted(["张三", *EXCEPTIONS])  # the full table, present included
    assert messages["zhaomin@school.example"].attachments == []


def test_the_preference_address_overrides_the_wecom_one(report_living):
    ReportPreference.objects.create(
        school=default_school(), teacher=report_living.head, email_override="li@home.example"
    )

    living_report_send(living=report_living.living)

    assert set(by_recipient(mail.outbox)) == {"li@home.example", "zhaomin@school.example"}


def test_a_teacher_without_an_address_is_a_failure_an_admin_can_see(report_living):
    report_living.subject.email = ""
    report_living.subject.save(update_fields=["email"])

    with translation.override("en"):
        summary = living_report_send(living=report_living.living)

    assert (summary.sent, summary.failed) == (1, 1)
    failed = ReportDelivery.objects.get(status=ReportDelivery.Status.FAILED)
    assert failed.teacher == report_living.subject
    assert "has no email address" in failed.error


def test_a_teacher_of_another_class_gets_nothing(report_living, other_teacher):
    other_teacher.email = "liuyang@school.example"
    other_teacher.save(update_fields=["email"])

    living_report_send(living=report_living.living)

    assert "liuyang@school.example" not in by_recipient(mail.outbox)


def test_the_periodic_check_finds_complete_recent_lessons_only(report_living):
    living = report_living.living
    now = living.living_end + dt.timedelta(minutes=10)
    assert living_reports_due(school=default_school(), now=now) == [living.livingid]
    assert (
        living_reports_due(school=default_school(), now=now + dt.timedelta(days=3)) == []
    )  # too old to report now

    living_report_send(living=living)
    assert living_reports_due(school=default_school(), now=now) == []


def test_the_check_task_queues_one_report_per_due_lesson(report_living, monkeypatch):
    queued = []
    monkeypatch.setattr(tasks.send_living_report, "delay", lambda *args: queued.append(args))
    monkeypatch.setattr(
        tasks,
        "living_reports_due",
        lambda school: living_reports_due(school=school, now=report_living.living.living_end),
    )

    assert tasks.check_living_reports() == 1
    assert queued == [("lesson-report-1", default_school().pk)]


# A real SMTP server --------------------------------------------------------------------------


def test_a_real_smtp_server_receives_the_report_and_its_xlsx(report_living, smtp_server):
    ReportPreference.objects.create(
        school=default_school(), teacher=report_living.head, xlsx_attachment=True
    )
    ReportPreference.objects.create(
        school=default_school(), teacher=report_living.subject, living_report=False
    )

    living_report_send(living=report_living.living)

    [envelope] = smtp_server.envelopes
    assert envelope.rcpt_tos == ["wangli@school.example"]
    received = email.message_from_bytes(envelope.content, policy=email.policy.default)
    assert "数学：分数的认识" in received["Subject"]
    assert "李四" in received.get_body(preferencelist=("plain",)).get_content()
    html = received.get_body(preferencelist=("html",)).get_content()
    assert "李四" in html and "张三" not in html and "&lt;script&gt;" in html
    [attachment] = list(received.iter_attachments())
    assert attachment.get_filename().endswith(".xlsx")
    workbook = openpyxl.load_workbook(io.BytesIO(attachment.get_content()))
    rows = list(workbook["一年级一班"].iter_rows(values_only=True))
    by_name = {row[0]: row for row in rows[1:]}
    assert set(by_name) == {"张三", *EXCEPTIONS}
    assert by_name["李四"][1] == "s_li"
    assert by_name["孙七"][5] == dt.datetime(2026, 3, 2, 8, 10)  # Beijing wall-clock time


def test_smtp_failure_is_recorded_then_retried_once_the_server_answers(
    report_living, settings, smtp_server
):
    settings.EMAIL_PORT = free_port()  # nothing listens there
    living = report_living.living

    first = living_report_send(living=living)

    assert first.failed == 2
    failed = ReportDelivery.objects.filter(status=ReportDelivery.Status.FAILED)
    assert failed.count() == 2
    assert all("ConnectionRefused" in delivery.error for delivery in failed)
    assert living_reports_due(school=default_school(), now=living.living_end) == [living.livingid]

    settings.EMAIL_PORT = smtp_server.port
    second = living_report_send(living=living)

    assert second.sent == 2
    assert len(smtp_server.envelopes) == 2
    assert set(ReportDelivery.objects.values_list("status", "attempts")) == {("sent", 2)}


def test_admin_resend_sends_a_failed_report_again(report_living, admin_user, client, settings):
    ReportPreference.objects.create(
        school=default_school(), teacher=report_living.subject, living_report=False
    )
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = free_port()
    settings.EMAIL_TIMEOUT = 2
    living_report_send(living=report_living.living)
    failed = ReportDelivery.objects.get()
    assert failed.status == ReportDelivery.Status.FAILED

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    client.force_login(admin_user)
    changelist = reverse("admin:reports_reportdelivery_changelist")
    assert "ConnectionRefused" in client.get(changelist).content.decode()
    response = client.post(
        changelist, {"action": "resend", "_selected_action": [failed.pk]}, follow=True
    )

    assert response.status_code == 200
    failed.refresh_from_db()
    assert (failed.status, failed.attempts) == (ReportDelivery.Status.SENT, 2)
    assert [message.to for message in mail.outbox] == [["wangli@school.example"]]


# The command ---------------------------------------------------------------------------------


def test_command_sends_and_says_so_in_one_line(report_living, capsys):
    call_command("send_living_report", "lesson-report-1")

    out = capsys.readouterr().out.strip()
    assert out.count("\n") == 0
    assert "2 sent" in out and "0 failed" in out
    assert len(mail.outbox) == 2


def test_command_skips_what_was_sent_unless_forced(report_living, capsys):
    call_command("send_living_report", "lesson-report-1")
    call_command("send_living_report", "lesson-report-1")
    assert "2 already sent" in capsys.readouterr().out
    assert len(mail.outbox) == 2

    call_command("send_living_report", "lesson-report-1", "--force")

    assert "2 sent" in capsys.readouterr().out
    assert len(mail.outbox) == 4
    assert set(ReportDelivery.objects.values_list("attempts", flat=True)) == {2}


def test_command_refuses_an_unknown_living(db):
    with pytest.raises(CommandError, match="Unknown living 'nope'"):
        call_command("send_living_report", "nope")


def test_command_refuses_incomplete_stats_unless_forced(report_living):
    Living.objects.filter(pk=report_living.living.pk).update(stats_complete=False)

    with pytest.raises(CommandError, match="not complete yet.*--force"):
        call_command("send_living_report", "lesson-report-1")
    assert mail.outbox == []

    call_command("send_living_report", "lesson-report-1", "--force")
    assert len(mail.outbox) == 2


# Shanghai days and weeks ---------------------------------------------------------------------


def test_a_lesson_ending_at_2330_in_shanghai_belongs_to_that_day_and_week(school, report_teachers):
    class_one = school["class_one"]
    roster_one(class_one)
    # Sunday 8 March 2026, 23:00–23:30 in Shanghai is 15:00–15:30 UTC the same Sunday.
    late = lesson_of(
        class_one, "sunday-late", start=dt.datetime(2026, 3, 8, 23, 0, tzinfo=SHANGHAI)
    )
    Living.objects.filter(pk=late.pk).update(living_duration=1800)
    late.refresh_from_db()
    assert late.living_end == dt.datetime(2026, 3, 8, 15, 30, tzinfo=dt.UTC)
    # Monday 9 March 00:30 in Shanghai is still Sunday in UTC: the next week.
    early = lesson_of(
        class_one, "monday-early", start=dt.datetime(2026, 3, 9, 0, 30, tzinfo=SHANGHAI)
    )
    assert early.living_start.astimezone(dt.UTC).date() == dt.date(2026, 3, 8)

    assert school_date(late.living_end) == dt.date(2026, 3, 8)
    assert week_period(school_date(late.living_start)) == "2026-W10"
    assert week_period(school_date(early.living_start)) == "2026-W11"
    start, end = week_bounds("2026-W10")
    assert start <= late.living_start < end
    assert not start <= early.living_start < end
    monday_8am = dt.datetime(2026, 3, 9, 8, 0, tzinfo=SHANGHAI)
    assert previous_week_period(monday_8am) == "2026-W10"

    living_report_send(living=late)
    assert "03-08 23:00" in mail.outbox[0].subject
    mail.outbox.clear()

    teacher_digest_send(teacher=report_teachers.head, period="2026-W10")
    [digest] = mail.outbox
    assert "sunday-late" not in digest.body  # themes are shown, not ids
    assert "03-08 23:00" in digest.body
    assert "03-09 00:30" not in digest.body


# WeCom textcard ------------------------------------------------------------------------------


@pytest.fixture
def sandbox_teachers(wecom_settings, wecom_sandbox, report_living):
    teachers = wecom_sandbox.state.school.teachers
    added = [
        userid
        for userid, name in (("wangli", "王丽"), ("zhaomin", "赵敏"))
        if userid not in teachers
    ]
    for userid in added:
        teachers[userid] = SandboxTeacher(userid=userid, name=userid)
    yield wecom_sandbox
    for userid in added:
        teachers.pop(userid, None)


def test_wecom_textcard_goes_once_to_each_teacher(report_living, sandbox_teachers):
    living = report_living.living

    tasks.send_living_report(living.livingid)
    tasks.send_living_report(living.livingid)

    sent = sandbox_teachers.state.sent_messages
    assert sorted(message["recipients"][0] for message in sent) == ["wangli", "zhaomin"]
    card = sent[0]["body"]
    assert sent[0]["body"]["msgtype"] == "textcard"
    assert "数学：分数的认识" in card["textcard"]["title"]
    assert "一年级一班" in card["textcard"]["description"]
    assert "3/6" in card["textcard"]["description"]
    assert card["textcard"]["url"].startswith("https://school.example/")
    assert len(card["textcard"]["description"].encode()) <= 512
    wecom_rows = ReportDelivery.objects.filter(channel=ReportDelivery.Channel.WECOM)
    assert set(wecom_rows.values_list("status", flat=True)) == {ReportDelivery.Status.SENT}
    assert wecom_rows.count() == 2
    assert len(mail.outbox) == 2  # and the emails, once each
    listed = requests.get(f"{sandbox_teachers.url}/sandbox/messages", timeout=5)
    assert listed.status_code == 200


def test_wecom_card_respects_the_preference(report_living, sandbox_teachers):
    ReportPreference.objects.create(
        school=default_school(), teacher=report_living.subject, wecom_message=False
    )

    living_report_send(living=report_living.living)

    assert [m["recipients"] for m in sandbox_teachers.state.sent_messages] == [["wangli"]]


def test_unknown_wecom_user_is_a_recorded_failure(report_living, sandbox_teachers):
    sandbox_teachers.state.school.teachers.pop("zhaomin", None)

    summary = living_report_send(living=report_living.living)

    failed = ReportDelivery.objects.get(status=ReportDelivery.Status.FAILED)
    assert (failed.channel, failed.teacher) == (ReportDelivery.Channel.WECOM, report_living.subject)
    assert "81013" in failed.error or "zhaomin" in failed.error
    assert summary.failed == 1


# Weekly digests ------------------------------------------------------------------------------

WEEK = "2026-W10"  # Monday 2 March – Sunday 8 March 2026


def week_of_lessons(class_one):
    """Four lessons, Monday to Thursday 08:00: 李四 absent from two, 赵六 watching less each time."""
    lessons = []
    for day, coverage in zip(range(4), (0.9, 0.7, 0.5, 0.3), strict=True):
        living = lesson_of(
            class_one,
            f"week-{day}",
            start=dt.datetime(2026, 3, 2 + day, 8, 0, tzinfo=SHANGHAI),
            theme=f"第{day + 1}课",
        )
        watch(living, "s_zhang", seconds=3600, enter=0, leave=60)
        watch(living, "s_zhao", seconds=int(3600 * coverage), enter=0, leave=60)
        watch(living, "s_sun", seconds=3600, enter=0, leave=60)
        watch(living, "s_zhou", seconds=3600, enter=0, leave=60)
        if day >= 2:
            watch(living, "s_li", seconds=3600, enter=0, leave=60)
        lessons.append(living)
    return lessons


def test_teacher_digest_lists_repeat_absences_falling_coverage_and_unreachable_families(
    school, report_teachers
):
    class_one = school["class_one"]
    roster_one(class_one)
    week_of_lessons(class_one)

    tasks.send_teacher_digest(report_teachers.head.pk, WEEK)
    tasks.send_teacher_digest(report_teachers.head.pk, WEEK)

    [digest] = mail.outbox
    assert digest.to == ["wangli@school.example"]
    assert "03-02" in digest.subject and "03-08" in digest.subject
    html = html_of(digest)
    for body in (digest.body, html):
        assert "李四" in body  # absent Monday and Tuesday
        assert "赵六" in body  # 90% → 70% → 50% → 30%
        assert "王五" in body  # no parent follows 学校通知
        assert "张三" not in body and "孙七" not in body
        assert "第1课" in body and "第4课" in body
    assert "70% → 50% → 30%" in digest.body
    assert ReportDelivery.objects.get().period == WEEK


def test_teacher_without_lessons_that_week_or_opted_out_gets_no_digest(school, report_teachers):
    class_one = school["class_one"]
    roster_one(class_one)
    week_of_lessons(class_one)
    ReportPreference.objects.create(
        school=default_school(), teacher=report_teachers.subject, weekly_digest=False
    )

    assert teacher_digest_send(teacher=report_teachers.subject, period=WEEK).opted_out == 1
    teacher_digest_send(teacher=report_teachers.head, period="2026-W20")

    assert mail.outbox == []


def test_weekly_fan_out_names_every_assigned_teacher(school, report_teachers, monkeypatch):
    queued = []
    monkeypatch.setattr(tasks.send_teacher_digest, "delay", lambda *args: queued.append(args))

    assert tasks.send_weekly_teacher_digests(WEEK) == 2

    assert sorted(queued) == sorted(
        [(report_teachers.head.pk, WEEK), (report_teachers.subject.pk, WEEK)]
    )
    with pytest.raises(ValueError, match="ISO week"):
        tasks.send_weekly_teacher_digests("last week")


def test_admin_digest_per_grade_goes_to_staff_with_an_email(school, report_teachers, admin_user):
    class_one = school["class_one"]
    roster_one(class_one)
    week_of_lessons(class_one)
    make_student("s_two", "二班学生", classes=[school["class_two"]], parents=[("p2", "妈妈", True)])

    admin_digests_send(period=WEEK)
    admin_digests_send(period=WEEK)

    [digest] = mail.outbox
    assert digest.to == ["admin@school.example"]
    html = html_of(digest)
    for body in (digest.body, html):
        assert "一年级" in body
        assert "一年级一班" in body and "一年级二班" in body
        assert "4" in body
    assert "李四" not in digest.body  # admins get numbers per class, not names


# Preferences page ----------------------------------------------------------------------------


def test_a_teacher_changes_their_own_preferences(client, head_teacher):
    client.login(username="wangli", password=PASSWORD)
    url = reverse("reports:preferences")

    assert client.get(url).status_code == 200
    response = client.post(
        url,
        {
            "living_report": "on",
            "xlsx_attachment": "on",
            "email_override": "wang@home.example",
            "language": "zh-hans",
        },
    )

    assert response.status_code == 302
    preference = ReportPreference.objects.get(teacher=head_teacher)
    assert preference.living_report and preference.xlsx_attachment
    assert not preference.weekly_digest and not preference.wecom_message
    assert preference.address == "wang@home.example"


def test_preferences_need_a_login_and_a_teacher(client, admin_user):
    url = reverse("reports:preferences")
    assert client.get(url).status_code == 302
    client.force_login(admin_user)
    assert client.get(url).status_code == 404


# Beat ----------------------------------------------------------------------------------------


def test_beat_entries_are_seeded(db):
    check = PeriodicTask.objects.get(task="school_live.reports.tasks.check_living_reports")
    assert (check.interval.every, check.interval.period) == (5, "minutes")
    for task in ("send_weekly_teacher_digests", "send_weekly_admin_digests"):
        entry = PeriodicTask.objects.get(task=f"school_live.reports.tasks.{task}")
        crontab = entry.crontab
        assert (crontab.minute, crontab.hour, crontab.day_of_week) == ("0", "8", "1")
        assert str(crontab.timezone) == "Asia/Shanghai"
        assert entry.enabled


def test_assigned_teachers_of_inactive_classes_get_nothing(report_living):
    report_living.class_one.is_active = False
    report_living.class_one.save(update_fields=["is_active"])

    living_report_send(living=report_living.living)

    assert mail.outbox == []
    assert ClassAssignment.objects.count() == 2
