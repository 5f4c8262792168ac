"""The demo lesson: scheduled in the sandbox soon after the first sync, over a few minutes
later, then reported. While the demo runs, what happens to it is told as it happens: going live,
ending, its syncs, its report by email (caught by a small SMTP sink in this process) and by WeCom
message (recorded by the sandbox)."""

import contextlib
import email
import email.policy
import time
from collections.abc import Callable

import requests
from django.db import close_old_connections

from school_live.school.models import SyncRun

from .supervisor import free_port

# Live soon after the first sync, over in a few minutes, then reported.
DEMO_LIVING_START_IN = 45
DEMO_LIVING_DURATION = 180


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

    def schedule(self, sandbox_url: str) -> dict:
        answer = requests.post(
            f"{sandbox_url}/sandbox/livings/demo",
            json={"start_in": DEMO_LIVING_START_IN, "duration": DEMO_LIVING_DURATION},
            timeout=5,
        )
        answer.raise_for_status()
        living = answer.json()["living"]
        living["_starts_at"] = time.monotonic() + DEMO_LIVING_START_IN
        living["_ends_at"] = living["_starts_at"] + living["living_duration"]
        self.theme = living["theme"]
        return living

    # -- while it runs --------------------------------------------------------------------------

    def watch(self, *, sandbox_url: str, demo_living: dict, check: Callable[[], None]) -> None:
        """Tell what happens: the demo lesson going live and ending, its syncs, its report.
        ``check()`` raises when a child process has died."""
        seen_runs = set(SyncRun.objects.values_list("id", flat=True))
        seen_messages = 0
        other_messages = 0
        announced_others = (0, 0)
        others_at = 0.0
        live_said = ended_said = False
        failures_told: set[tuple[str, str]] = set()
        while True:
            check()
            close_old_connections()
            now = time.monotonic()
            if not live_said and now >= demo_living["_starts_at"]:
                live_said = True
                self.event(f"▶ 演示直播开始 / the demo lesson is live: {self.theme}")
            if not ended_said and now >= demo_living["_ends_at"]:
                ended_said = True
                self.event("■ 演示直播结束 / the demo lesson has ended")
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
                if run.livingid == demo_living["livingid"] or run.status == SyncRun.Status.FAILED:
                    what = self.theme if run.livingid == demo_living["livingid"] else ""
                    what = what or run.livingid or run.get_kind_display()
                    self.event(f"⟳ 同步 / sync {what}: {run.get_status_display()}, {run.rows} rows")
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
