"""The demo lesson: scheduled soon after the first sync through school_live's lessons service, as
a 班主任 would schedule it (living/create in the sandbox), live and over a few
minutes later by the sandbox's clock, then reported. While the demo runs, what happens to it is
told as it happens: WeCom's status callbacks reaching the site (live, ended), its syncs, its
report by email (caught by a small SMTP sink in this process) and by WeCom message (recorded by
the sandbox)."""

import contextlib
import datetime as dt
import email
import email.policy
import time
from collections.abc import Callable

import requests
from django.db import close_old_connections
from django.utils import timezone

from school_live.attendance.queries.rollcall import living_rollcall
from school_live.attendance.state import living_status
from school_live.lessons.models import LessonSeries
from school_live.lessons.services import LessonPlan, lesson_plan_check, lesson_schedule
from school_live.school.models import ClassAssignment, Department, Living, SyncRun
from school_live.school.tenancy import default_school

from .supervisor import free_port

# Live soon after the first sync, over in a few minutes, then reported.
DEMO_LIVING_START_IN = 45
DEMO_LIVING_DURATION = 180
DEMO_ARRIVAL_SPREAD = 0.7  # its students arrive over this share of it: the roll call fills up
DEMO_CLASS = "一年级一班"
DEMO_THEME = "认识钟表（演示直播）"  # living/create allows 20 characters
# How the narration names each WeCom status a callback brings.
CALLBACK_NEWS = {
    Living.Status.LIVE: "▶ 回调 / callback: live — 演示直播开始 / the demo lesson is live",
    Living.Status.ENDED: "■ 回调 / callback: ended — 演示直播结束 / the demo lesson has ended",
    Living.Status.CANCELLED: "✕ 回调 / callback: cancelled — 演示直播已取消 / cancelled",
}


class DemoLesson:
    """``event(text)`` prints one timestamped line."""

    def __init__(self, *, event: Callable[[str], None]):
        self.event = event
        self.theme = ""
        self.other_emails = 0
        self.mail_sink = None

    # -- mail -----------------------------------------------------------------------------------

    def start_mail_sink(self) -> int:
        """An SMTP server on loopback that prints the subject of each report about the demo
        lesson (the first check also reports the seeded school's recent lessons: counted only)."""
        from aiosmtpd.controller import Controller

        lesson = self
        lesson.other_emails = 0

        class PrintSubjects:
            async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's
                message = email.message_from_bytes(envelope.content, policy=email.policy.default)
                subject = " ".join(str(message["subject"] or "").split())
                if lesson.theme and lesson.theme in subject:
                    to = ", ".join(envelope.rcpt_tos)
                    lesson.event(f"✉ 邮件 / email → {to}: {subject}")
                else:
                    lesson.other_emails += 1
                return "250 Message accepted for delivery"

        port = free_port()
        self.mail_sink = Controller(PrintSubjects(), hostname="127.0.0.1", port=port)
        self.mail_sink.start()
        return port

    def stop_mail_sink(self) -> None:
        if self.mail_sink is not None:
            with contextlib.suppress(Exception):
                self.mail_sink.stop()
            self.mail_sink = None

    # -- the lesson -----------------------------------------------------------------------------

    def schedule(self, *, client) -> Living:
        """The demo lesson, scheduled about DEMO_LIVING_START_IN seconds from now by the head
        teacher of 一年级一班, or, when that teacher has a lesson then (the sandbox's school has
        one going on as the demo starts), by the head teacher of the next class who is free."""
        heads = (
            ClassAssignment.objects.filter(
                role=ClassAssignment.Role.HEAD,
                department__type=Department.Type.CLASS,
                department__is_active=True,
                teacher__is_active=True,
            )
            .select_related("teacher__user", "department")
            .order_by("department_id", "teacher__userid")
        )
        heads = sorted(heads, key=lambda head: head.department.name != DEMO_CLASS)
        start = timezone.now().replace(microsecond=0) + dt.timedelta(seconds=DEMO_LIVING_START_IN)
        plans = [
            LessonPlan(
                teacher=head.teacher,
                classes=(head.department,),
                start=start,
                minutes=DEMO_LIVING_DURATION // 60,
                theme=DEMO_THEME,
            )
            for head in heads
        ]
        if not plans:
            raise LookupError("no class has a head teacher to schedule the demo lesson")
        plan = next((plan for plan in plans if not lesson_plan_check(plan)), plans[0])
        requested_by = next(h.teacher.user for h in heads if h.teacher == plan.teacher)
        series = lesson_schedule(
            client=client, plan=plan, source=LessonSeries.Source.WEB, requested_by=requested_by
        )
        self.theme = series.theme
        return Living.objects.get(occurrence__series=series)

    # -- while it runs --------------------------------------------------------------------------

    def watch(self, *, sandbox_url: str, demo_living: Living, check: Callable[[], None]) -> None:
        """Tell what happens: the callbacks that move the demo lesson (the sandbox sends them
        when its clock passes the start and the end), its syncs, its report.
        ``check()`` raises when a child process has died."""
        livingid = demo_living.livingid
        seen_runs = set(SyncRun.objects.values_list("id", flat=True))
        seen_messages = 0
        other_messages = 0
        announced_others = (0, 0)
        others_at = 0.0
        status = demo_living.status
        refusals_told = 0
        failures_told: set[tuple[str, str]] = set()
        roll_told = None
        while True:
            check()
            close_old_connections()
            now = time.monotonic()
            roll_told = self.tell_rollcall(livingid, roll_told)
            # Only a callback moves a lesson's WeCom status here: a change is one that arrived.
            current = Living.objects.filter(school=default_school(), livingid=livingid).values_list(
                "status", flat=True
            )
            current = current.first()
            if current != status:
                status = current
                self.event(CALLBACK_NEWS.get(current, f"回调 / callback: status {current}"))
            finished = SyncRun.objects.filter(
                status__in=[SyncRun.Status.SUCCEEDED, SyncRun.Status.FAILED]
            ).exclude(id__in=seen_runs)
            for run in finished:
                seen_runs.add(run.id)
                failure = (run.livingid or run.kind, run.error)
                if run.status == SyncRun.Status.FAILED:
                    if failure in failures_told:
                        continue  # the sweep retries a living WeCom refuses; once is enough
                    failures_told.add(failure)
                if run.livingid == livingid or run.status == SyncRun.Status.FAILED:
                    what = self.theme if run.livingid == livingid else ""
                    what = what or run.livingid or run.get_kind_display()
                    self.event(f"⟳ 同步 / sync {what}: {run.get_status_display()}, {run.rows} rows")
            with contextlib.suppress(requests.RequestException, ValueError, KeyError):
                log = requests.get(f"{sandbox_url}/sandbox/callbacks", timeout=2).json()["log"]
                refused = [e for e in log if e["livingid"] == livingid and e["http_status"] != 200]
                for entry in refused[refusals_told:]:
                    if entry["dropped"]:
                        continue
                    answer = entry["http_status"] or entry["error"]
                    self.event(f"⚠ 回调未送达 / a callback was not accepted: {answer}")
                refusals_told = len(refused)
            with contextlib.suppress(requests.RequestException, ValueError, KeyError):
                messages = requests.get(f"{sandbox_url}/sandbox/messages", timeout=2).json()
                for message in messages["messages"][seen_messages:]:
                    seen_messages += 1
                    card = message["body"].get("textcard") or {}
                    title = card.get("title") or message["body"].get("msgtype", "")
                    if self.theme in str(message["body"]):
                        to = ", ".join(message.get("recipients") or [])
                        self.event(f"💬 企业微信消息 / WeCom message → {to or '…'}: {title}")
                    else:
                        other_messages += 1
            others = (self.other_emails, other_messages)
            if others != announced_others and now - others_at > 5:
                others_at = now
                announced_others = others
                self.event(
                    f"(往期直播报告 / reports of earlier lessons: {others[0]} emails, "
                    f"{others[1]} WeCom messages)"
                )
            time.sleep(1)

    def tell_rollcall(self, livingid: str, told: tuple | None) -> tuple | None:
        """While the demo lesson is live, one line each time its roll call changes: the page
        shows the same numbers, refreshed without a reload."""
        living = Living.objects.filter(school=default_school(), livingid=livingid).first()
        if living is None or not living_status(living).so_far:
            return told
        totals = living_rollcall(living=living, classes=living.classes.all()).totals
        counts = (totals.joined, totals.reachable, totals.unreachable)
        if counts != told:
            self.event(
                f"👥 点名 / roll call: 已进入 joined {counts[0]}/{totals.total}, "
                f"未进入 not yet {counts[1]}, 未触达 unreachable {counts[2]}"
            )
        return counts
