"""``python manage.py demo``: the whole product on its embedded defaults, in one command.

It migrates the database, starts the WeCom sandbox, a Celery worker, Celery beat and the web
server as child processes (each in its own process group) plus a small SMTP sink in this process,
runs a first full sync through the worker, creates demo logins and makes the schedules fast, so a
lesson that goes live and ends while one watches shows up on the pages and in a report.
Ctrl-C (or SIGTERM) stops every child: SIGTERM to its group, SIGKILL after a timeout.
Running it again is safe: migrations, schedules and logins are brought to the same state.
"""

import contextlib
import ctypes
import email
import email.policy
import logging
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import requests
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import close_old_connections
from django.utils import timezone

from school_live.school.models import ClassAssignment, Department, SyncRun, Teacher

# The sandbox's fake app; the children get the same values, so the client and the sandbox agree.
DEMO_CORP_ID = "ww_demo_school"
DEMO_SECRET = "demo-secret-for-the-sandbox-only"  # noqa: S105 - a fake app on loopback
DEMO_AGENT_ID = "1000002"
DEMO_ADMIN = "demo-admin"
FIRST_SYNC_TIMEOUT = 120  # seconds; the seeded school syncs in a few
STOP_TIMEOUT = 10  # seconds between SIGTERM and SIGKILL
# The demo lesson: live soon after the first sync, over in a few minutes, then reported.
DEMO_LIVING_START_IN = 45
DEMO_LIVING_DURATION = 180
# Tasks made fast while the demo runs (names as the sync and reports migrations seed them).
FAST_TASKS = (
    "sync.sweep_recent_livings",
    "sync.discover_livings",
    "school_live.reports.tasks.check_living_reports",
)


@dataclass
class Child:
    name: str
    process: subprocess.Popen
    log_path: Path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_is_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


# Loaded here, not in the forked child: a child between fork and exec must not take the loader's
# lock, which another thread of this process (the mail sink) might have held at the fork.
_LIBC = ctypes.CDLL(None, use_errno=True) if sys.platform.startswith("linux") else None
PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """Runs in the child before exec: should the demo die without cleaning up (SIGKILL), Linux
    sends the child SIGTERM, so no worker is left behind polling the broker."""
    if _LIBC is not None:
        _LIBC.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def _interrupt(signum, frame):
    raise KeyboardInterrupt


class Command(BaseCommand):
    help = (
        "Run school_live on its embedded defaults: the WeCom sandbox, a Celery worker and beat, "
        "a first sync and the site on http://127.0.0.1:8000. Ctrl-C stops everything."
    )

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=8000, help="port of the site (8000)")
        parser.add_argument(
            "--sandbox-port", type=int, default=0, help="port of the WeCom sandbox (a free one)"
        )
        parser.add_argument("--seed", type=int, default=1, help="seed of the sandbox's school (1)")
        parser.add_argument(
            "--interval",
            type=int,
            default=30,
            help="seconds between scheduled syncs and report checks while the demo runs (30)",
        )

    # -- output ---------------------------------------------------------------------------------

    def say(self, text: str = "", style=None) -> None:
        self.stdout.write(style(text) if style else text)
        self.stdout.flush()

    def ok(self, text: str) -> None:
        self.say(f"  ✓ {text}", self.style.SUCCESS)

    def event(self, text: str) -> None:
        self.say(f"  [{timezone.localtime():%H:%M:%S}] {text}")

    # -- main -----------------------------------------------------------------------------------

    def handle(self, *args, **options):
        if not port_is_free(options["port"]):
            raise CommandError(
                f"端口 {options['port']} 已被占用 / port {options['port']} is in use: "
                "stop what runs there or pass --port."
            )
        self.children: list[Child] = []
        self.mail_sink = None
        self.demo_theme = ""
        self.log_dir = Path(settings.VAR_DIR) / "demo"
        self.log_dir.mkdir(parents=True, exist_ok=True)
        # The children have their own sessions, so Ctrl-C in the terminal reaches only this
        # process; SIGTERM takes the same way out.
        signal.signal(signal.SIGTERM, _interrupt)
        # The mail sink's SMTP chatter and kombu's note about the filesystem broker's missing
        # hostname would drown the few lines that matter.
        logging.getLogger("mail.log").setLevel(logging.WARNING)
        logging.getLogger("kombu.connection").setLevel(logging.ERROR)
        self.say("school_live 演示 / demo", self.style.MIGRATE_HEADING)
        try:
            self.run_demo(**options)
        except KeyboardInterrupt:
            self.say("")
            self.say("正在停止 / stopping …")
        finally:
            self.stop_all()
        self.say("已停止 / stopped.")

    def run_demo(self, *, port: int, sandbox_port: int, seed: int, interval: int, **_) -> None:
        call_command("migrate", interactive=False, verbosity=0)
        self.forget_previous_run()
        self.schedule_fast(seconds=interval)
        self.ok(f"数据库 / database: {self.database_label()}")

        sandbox_port = sandbox_port or free_port()
        sandbox_url = f"http://127.0.0.1:{sandbox_port}"
        mail_port = self.start_mail_sink()
        env = self.child_env(sandbox_url=sandbox_url, mail_port=mail_port, site_port=port)
        self.start_child(
            "sandbox",
            [
                *self.manage("wecom_sandbox"),
                *("--host", "127.0.0.1", "--port", str(sandbox_port), "--seed", str(seed)),
                *("--corp-id", DEMO_CORP_ID, "--secret", DEMO_SECRET, "--agent-id", DEMO_AGENT_ID),
                # The demo schedules its lesson through the control API, to learn its class.
                *("--demo-living-in", "-1"),
            ],
            env,
        )
        self.start_child("worker", [*self.celery("worker"), "--concurrency", "2"], env)
        self.start_child("web", [*self.manage("runserver"), "--noreload", f"127.0.0.1:{port}"], env)
        self.wait_http(f"{sandbox_url}/sandbox/summary", "sandbox")
        summary = requests.get(f"{sandbox_url}/sandbox/summary", timeout=5).json()
        counts = summary["counts"]
        self.ok(
            f"企业微信沙箱 / WeCom sandbox: {sandbox_url} — {summary['school']}, "
            f"{counts['classes']} classes, {counts['students']} students, "
            f"{counts['livings']} livings"
        )
        demo_living = self.schedule_demo_living(sandbox_url)

        self.first_sync()
        # Beat starts after the first sync, so its first round does not race it.
        self.start_child(
            "beat", [*self.celery("beat"), "--schedule", str(self.log_dir / "beat-schedule")], env
        )
        self.ok(f"Celery worker + beat (日志 / logs: {self.log_dir})")
        logins = self.make_logins(class_id=demo_living["partyids"][0])
        self.wait_http(f"http://127.0.0.1:{port}/accounts/login/", "web")
        self.ok(f"网站 / site: http://127.0.0.1:{port}/")
        self.say("")
        self.say("登录 / logins:", self.style.MIGRATE_HEADING)
        for label, username, password, note in logins:
            self.say(f"  {label}: {username} / {password}{note}")
        self.say(
            "  其他老师 / any other teacher: 登录页的「使用企业微信登录」(the sandbox stands in "
            "for WeCom's sign-in screen)"
        )
        self.say("")
        self.say(
            f"演示直播「{self.demo_theme}」{DEMO_LIVING_START_IN} 秒后开始，"
            f"{DEMO_LIVING_DURATION // 60} 分钟后结束；每 {interval} 秒同步一次，结束后发出报告。"
        )
        self.say(
            f"The demo lesson goes live in about {DEMO_LIVING_START_IN} s and ends "
            f"{DEMO_LIVING_DURATION // 60} min later; syncs run every {interval} s and its "
            "report goes out (email below, WeCom message in the sandbox) once it has ended."
        )
        self.say("按 Ctrl-C 停止 / press Ctrl-C to stop.")
        self.watch(sandbox_url=sandbox_url, demo_living=demo_living)

    # -- children -------------------------------------------------------------------------------

    @staticmethod
    def manage(command: str) -> list[str]:
        return [sys.executable, str(Path(settings.BASE_DIR) / "manage.py"), command]

    @staticmethod
    def celery(command: str) -> list[str]:
        return [sys.executable, "-m", "celery", "-A", "school_live", command, "-l", "info"]

    @staticmethod
    def child_env(*, sandbox_url: str, mail_port: int, site_port: int) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            DJANGO_SETTINGS_MODULE=os.environ.get("DJANGO_SETTINGS_MODULE", "school_live.settings"),
            PYTHONUNBUFFERED="1",
            SCHOOL_LIVE_VAR_DIR=str(settings.VAR_DIR),
            WECOM_API_BASE=sandbox_url,
            WECOM_OAUTH_BASE=sandbox_url,
            WECOM_CORP_ID=DEMO_CORP_ID,
            WECOM_SECRET=DEMO_SECRET,
            WECOM_AGENT_ID=DEMO_AGENT_ID,
            SITE_URL=f"http://127.0.0.1:{site_port}",
            # The filesystem broker polls: a short interval makes the refresh button feel quick.
            CELERY_POLLING_INTERVAL="0.2",
            # The sandbox's school has four weeks of lessons: sync them all, so trends have data.
            SYNC_BACKFILL_DAYS="35",
        )
        if not os.environ.get("EMAIL_URL"):
            env["EMAIL_URL"] = f"smtp://127.0.0.1:{mail_port}"
        return env

    def start_child(self, name: str, argv: list[str], env: dict[str, str]) -> Child:
        log_path = self.log_dir / f"{name}.log"
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                argv,
                cwd=settings.BASE_DIR,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                # Its own session and process group: stopping a child stops whatever it forked
                # (the worker's pool processes) as well.
                start_new_session=True,
                preexec_fn=_die_with_parent,
            )
        child = Child(name=name, process=process, log_path=log_path)
        self.children.append(child)
        return child

    def check_children(self) -> None:
        for child in self.children:
            code = child.process.poll()
            if code is not None:
                tail = child.log_path.read_text(errors="replace").splitlines()[-20:]
                raise CommandError(
                    f"{child.name} 意外退出 / {child.name} exited unexpectedly (code {code}). "
                    f"{child.log_path}:\n" + "\n".join(tail)
                )

    def stop_all(self) -> None:
        running = [c for c in self.children if c.process.poll() is None]
        for child in running:
            # The leader only: a worker stops its own pool after finishing the task in hand.
            with contextlib.suppress(ProcessLookupError):
                child.process.terminate()
        deadline = time.monotonic() + STOP_TIMEOUT
        for child in running:
            with contextlib.suppress(subprocess.TimeoutExpired):
                child.process.wait(timeout=max(0.1, deadline - time.monotonic()))
        for child in self.children:
            # A group can outlive its leader (a pool process): whatever is left is killed.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(child.process.pid, signal.SIGKILL)
            child.process.wait()
        self.children = []
        if self.mail_sink is not None:
            with contextlib.suppress(Exception):
                self.mail_sink.stop()
            self.mail_sink = None

    def wait_http(self, url: str, name: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.check_children()
            with contextlib.suppress(requests.RequestException):
                if requests.get(url, timeout=2).status_code < 500:
                    return
            time.sleep(0.2)
        raise CommandError(f"{name} 没有响应 / {name} did not answer at {url} within {timeout} s")

    # -- mail -----------------------------------------------------------------------------------

    def start_mail_sink(self) -> int:
        """An SMTP server on loopback that prints the subject of each report about the demo
        lesson (the first check also reports the seeded school's recent lessons: counted only)."""
        from aiosmtpd.controller import Controller

        command = self
        command.other_emails = 0

        class PrintSubjects:
            async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's
                message = email.message_from_bytes(envelope.content, policy=email.policy.default)
                subject = " ".join(str(message["subject"] or "").split())
                if command.demo_theme and command.demo_theme in subject:
                    to = ", ".join(envelope.rcpt_tos)
                    command.event(f"✉ 邮件 / email → {to}: {subject}")
                else:
                    command.other_emails += 1
                return "250 Message accepted for delivery"

        port = free_port()
        self.mail_sink = Controller(PrintSubjects(), hostname="127.0.0.1", port=port)
        self.mail_sink.start()
        return port

    # -- database -------------------------------------------------------------------------------

    @staticmethod
    def database_label() -> str:
        db = settings.DATABASES["default"]
        if db["ENGINE"].endswith("sqlite3"):
            return f"SQLite {db['NAME']}"
        return f"{db['ENGINE'].rsplit('.', 1)[-1]} {db.get('NAME', '')}"

    @staticmethod
    def forget_previous_run() -> None:
        """A demo stopped mid-sync leaves runs queued or running and living locks behind; no
        worker of this demo runs yet, so they are over. The cache also holds the previous
        sandbox's access token."""
        SyncRun.objects.filter(status__in=[SyncRun.Status.QUEUED, SyncRun.Status.RUNNING]).update(
            status=SyncRun.Status.FAILED,
            finished_at=timezone.now(),
            error="Interrupted: the demo stopped before this run finished.",
        )
        cache.clear()

    @staticmethod
    def schedule_fast(*, seconds: int) -> None:
        """Sweep, discovery and the report check run every `seconds` while the demo runs, so a
        lesson that ends is synced and reported within a minute or two."""
        from django_celery_beat.models import IntervalSchedule, PeriodicTask

        interval, _ = IntervalSchedule.objects.get_or_create(
            every=seconds, period=IntervalSchedule.SECONDS
        )
        # save(), not update(): a running beat notices changes through the save signal. A task
        # seeded as several rows (discovery by day and by night) keeps one fast row.
        seen: set[str] = set()
        for task in PeriodicTask.objects.filter(task__in=FAST_TASKS).order_by("task", "pk"):
            if task.task in seen:
                task.enabled = False
            else:
                seen.add(task.task)
                task.interval = interval
                task.crontab = task.solar = task.clocked = None
                task.enabled = True
            task.save()

    # -- the demo lesson ------------------------------------------------------------------------

    def schedule_demo_living(self, sandbox_url: str) -> dict:
        answer = requests.post(
            f"{sandbox_url}/sandbox/livings/demo",
            json={"start_in": DEMO_LIVING_START_IN, "duration": DEMO_LIVING_DURATION},
            timeout=5,
        )
        answer.raise_for_status()
        living = answer.json()["living"]
        living["_starts_at"] = time.monotonic() + DEMO_LIVING_START_IN
        living["_ends_at"] = living["_starts_at"] + living["living_duration"]
        self.demo_theme = living["theme"]
        return living

    # -- first sync -----------------------------------------------------------------------------

    def first_sync(self) -> None:
        """The full school sync through the worker; done when the school run and the living
        syncs it queued have finished."""
        from school_live.sync.triggers import school_sync_request

        run, _created = school_sync_request()
        started = time.monotonic()
        last = None
        while True:
            self.check_children()
            close_old_connections()
            run.refresh_from_db()
            livings = SyncRun.objects.filter(
                kind=SyncRun.Kind.LIVING, created_at__gte=run.created_at
            )
            done = livings.exclude(status__in=[SyncRun.Status.QUEUED, SyncRun.Status.RUNNING])
            state = (run.status, livings.count(), done.count())
            if state != last:
                last = state
                self.say(
                    f"  … 首次同步 / first sync: {run.get_status_display()}, "
                    f"直播 / livings {state[2]}/{state[1]}"
                )
            if run.status == SyncRun.Status.FAILED:
                raise CommandError(f"首次同步失败 / first sync failed: {run.error}")
            if run.status == SyncRun.Status.SUCCEEDED and state[1] == state[2]:
                break
            if time.monotonic() - started > FIRST_SYNC_TIMEOUT:
                raise CommandError(
                    f"首次同步超时 / the first sync timed out; see {self.log_dir / 'worker.log'}"
                )
            time.sleep(0.3)
        failed = livings.filter(status=SyncRun.Status.FAILED).count()
        self.ok(
            f"首次同步成功 / first sync succeeded in {time.monotonic() - started:.1f} s: "
            f"{Department.objects.filter(type=Department.Type.CLASS, is_active=True).count()} "
            f"classes, {Teacher.objects.filter(is_active=True).count()} teachers, "
            f"{done.count() - failed} livings"
            + (f" ({failed} could not be read)" if failed else "")
        )

    # -- logins ---------------------------------------------------------------------------------

    def make_logins(self, *, class_id: int) -> list[tuple[str, str, str, str]]:
        """(label, username, password, note) for an admin, the 班主任 and a 任课老师 of the demo
        lesson's class. Every run sets new passwords, so an old one never keeps working."""
        user_model = get_user_model()
        admin, _ = user_model.objects.get_or_create(username=DEMO_ADMIN)
        admin.is_staff = admin.is_superuser = admin.is_active = True
        admin.email = admin.email or "demo-admin@school.example"
        password = secrets.token_urlsafe(9)
        admin.set_password(password)
        admin.save()
        logins = [("管理员 / admin", DEMO_ADMIN, password, "")]

        for role, label in (
            (ClassAssignment.Role.HEAD, "班主任 / head teacher"),
            (ClassAssignment.Role.SUBJECT, "任课老师 / subject teacher"),
        ):
            taken = [username for _, username, _, _ in logins]
            assignment = self.pick_assignment(role=role, class_id=class_id, exclude=taken)
            if assignment is None:
                continue
            teacher = assignment.teacher
            user = teacher.user or user_model.objects.filter(username=teacher.userid).first()
            user = user or user_model(username=teacher.userid)
            user.is_active = True
            password = secrets.token_urlsafe(9)
            user.set_password(password)
            user.save()
            if teacher.user_id != user.pk:
                teacher.user = user
                teacher.save(update_fields=["user"])
            self.give_report_address(teacher)
            subject = f" {assignment.subject}" if assignment.subject else ""
            name = f"{teacher.name}, " if teacher.name else ""
            note = f"  ({name}{assignment.department.name}{subject})"
            logins.append((label, user.username, password, note))
        return logins

    @staticmethod
    def pick_assignment(*, role: str, class_id: int, exclude: list[str]) -> ClassAssignment | None:
        """A teacher of the demo lesson's class, else of the class with the most recent lessons."""
        from django.db.models import Count, Q

        recent = timezone.now() - timedelta(days=30)
        candidates = (
            ClassAssignment.objects.filter(role=role, teacher__is_active=True)
            .exclude(teacher__userid__in=exclude)
            .select_related("teacher", "department")
        )
        mine = candidates.filter(department_id=class_id).order_by("teacher__userid").first()
        return mine or (
            candidates.annotate(
                recent=Count(
                    "department__livings", filter=Q(department__livings__living_start__gte=recent)
                )
            )
            .order_by("-recent", "department_id", "teacher__userid")
            .first()
        )

    @staticmethod
    def give_report_address(teacher: Teacher) -> None:
        """The sandbox's teachers have no email address; the demo's teachers get one so their
        lesson reports reach the mail sink."""
        try:
            from school_live.reports.models import ReportPreference
        except ImportError:  # reports not installed: nothing to address
            return
        preference = ReportPreference.for_teacher(teacher)
        if not preference.email_override:
            preference.email_override = f"{teacher.userid}@school.example"
            preference.save()

    # -- while it runs --------------------------------------------------------------------------

    def watch(self, *, sandbox_url: str, demo_living: dict) -> None:
        """Tell what happens: the demo lesson going live and ending, its syncs, its report."""
        seen_runs = set(SyncRun.objects.values_list("id", flat=True))
        seen_messages = 0
        other_messages = 0
        announced_others = (0, 0)
        live_said = ended_said = False
        failures_told: set[tuple[str, str]] = set()
        while True:
            self.check_children()
            close_old_connections()
            now = time.monotonic()
            if not live_said and now >= demo_living["_starts_at"]:
                live_said = True
                self.event(f"▶ 演示直播开始 / the demo lesson is live: {self.demo_theme}")
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
                    what = self.demo_theme if run.livingid == demo_living["livingid"] else ""
                    what = what or run.livingid or run.get_kind_display()
                    self.event(f"⟳ 同步 / sync {what}: {run.get_status_display()}, {run.rows} rows")
            with contextlib.suppress(requests.RequestException, ValueError, KeyError):
                messages = requests.get(f"{sandbox_url}/sandbox/messages", timeout=2).json()
                for message in messages["messages"][seen_messages:]:
                    seen_messages += 1
                    card = message["body"].get("textcard") or {}
                    title = card.get("title") or message["body"].get("msgtype", "")
                    if self.demo_theme in str(message["body"]):
                        to = ", ".join(message.get("recipients") or [])
                        self.event(f"💬 企业微信消息 / WeCom message → {to or '…'}: {title}")
                    else:
                        other_messages += 1
            others = (self.other_emails, other_messages)
            if others != announced_others and now - getattr(self, "_others_at", 0) > 5:
                self._others_at = now
                announced_others = others
                self.event(
                    f"(往期直播报告 / reports of earlier lessons: {others[0]} emails, "
                    f"{others[1]} WeCom messages)"
                )
            time.sleep(1)
