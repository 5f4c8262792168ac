"""``python manage.py demo``: the whole product on its embedded defaults, in one command.

It migrates the database, starts the WeCom sandbox, a Celery worker, Celery beat and the web
server as child processes (each in its own process group, see devtools/supervisor.py) plus a
small SMTP sink in this process, runs a first full sync through the worker, creates demo logins
and makes the schedules fast (devtools/demo_setup.py). The head teacher's demo lesson is then
scheduled through the lessons service (living/create in the sandbox); the sandbox starts and
ends it by its clock and calls the site's /wecom/callback/ with WeCom's encrypted status events,
sealed with a token and key made up for this run, so the lesson goes live and ends on the pages
and in a report while one watches (devtools/demo_lesson.py).
Ctrl-C (or SIGTERM) stops every child: SIGTERM to its group, SIGKILL after a timeout.
Running it again is safe: migrations, schedules and logins are brought to the same state.
"""

import logging
import os
import signal
import sys
import time
from pathlib import Path

import requests
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import close_old_connections
from django.utils import timezone

from school_live.devtools.demo_lesson import (
    DEMO_ARRIVAL_SPREAD,
    DEMO_LIVING_DURATION,
    DemoLesson,
)
from school_live.devtools.demo_setup import (
    callback_secrets,
    database_label,
    forget_previous_run,
    make_logins,
    schedule_fast,
)
from school_live.devtools.supervisor import Supervisor, free_port, port_is_free
from school_live.school.models import Department, SyncRun, Teacher
from school_live.school.tenancy import default_school
from school_live.wecom.client import WeComClient

# The sandbox's fake app; the children get the same values, so the client and the sandbox agree.
DEMO_CORP_ID = "ww_demo_school"
DEMO_SECRET = "demo-secret-for-the-sandbox-only"  # noqa: S105 - a fake app on loopback
DEMO_AGENT_ID = "1000002"
FIRST_SYNC_TIMEOUT = 120  # seconds; the seeded school syncs in a few


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
        self.log_dir = Path(settings.VAR_DIR) / "demo"
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.children = Supervisor(log_dir=self.log_dir, cwd=Path(settings.BASE_DIR))
        self.lesson = DemoLesson(event=self.event)
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
            self.children.stop_all()
            self.lesson.stop_mail_sink()
        self.say("已停止 / stopped.")

    def run_demo(self, *, port: int, sandbox_port: int, seed: int, interval: int, **_) -> None:
        call_command("migrate", interactive=False, verbosity=0)
        forget_previous_run()
        schedule_fast(seconds=interval)
        self.ok(f"数据库 / database: {database_label()}")

        sandbox_port = sandbox_port or free_port()
        sandbox_url = f"http://127.0.0.1:{sandbox_port}"
        mail_port = self.lesson.start_mail_sink()
        env = self.child_env(sandbox_url=sandbox_url, mail_port=mail_port, site_port=port)
        self.children.start(
            "sandbox",
            [
                *self.manage("wecom_sandbox"),
                *("--host", "127.0.0.1", "--port", str(sandbox_port), "--seed", str(seed)),
                *("--corp-id", DEMO_CORP_ID, "--secret", DEMO_SECRET, "--agent-id", DEMO_AGENT_ID),
                # The demo lesson is scheduled through the lessons service, as a teacher would.
                *("--demo-living-in", "-1"),
                # Its class arrives over most of its three minutes: the roll call fills up.
                *("--arrival-spread", str(DEMO_ARRIVAL_SPREAD)),
                # The token and key travel in the environment, as the site's do.
                *("--callback-url", f"http://127.0.0.1:{port}/wecom/callback/"),
            ],
            env,
        )
        self.children.start("worker", [*self.celery("worker"), "--concurrency", "2"], env)
        self.children.start(
            "web", [*self.manage("runserver"), "--noreload", f"127.0.0.1:{port}"], env
        )
        self.children.wait_http(f"{sandbox_url}/sandbox/summary", "sandbox")
        summary = requests.get(f"{sandbox_url}/sandbox/summary", timeout=5).json()
        counts = summary["counts"]
        self.ok(
            f"企业微信沙箱 / WeCom sandbox: {sandbox_url} — {summary['school']}, "
            f"{counts['classes']} classes, {counts['students']} students, "
            f"{counts['livings']} livings"
        )
        self.first_sync()
        # Beat starts after the first sync, so its first round does not race it.
        self.children.start(
            "beat", [*self.celery("beat"), "--schedule", str(self.log_dir / "beat-schedule")], env
        )
        self.ok(f"Celery worker + beat (日志 / logs: {self.log_dir})")
        client = WeComClient(
            base_url=sandbox_url,
            corp_id=DEMO_CORP_ID,
            secret=DEMO_SECRET,
            agent_id=int(DEMO_AGENT_ID),
        )
        with client:
            demo_living = self.lesson.schedule(client=client)
        klass = demo_living.classes.get()  # the one class it was scheduled for
        logins = make_logins(class_id=klass.pk)
        starts_in = max(0, int((demo_living.living_start - timezone.now()).total_seconds()))
        self.ok(
            f"演示直播 / demo lesson: {demo_living.livingid}「{self.lesson.theme}」 — "
            f"scheduled by {klass.name} 班主任 {demo_living.anchor_userid} "
            f"(living/create), starts in {starts_in} s"
        )
        self.children.wait_http(f"http://127.0.0.1:{port}/accounts/login/", "web")
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
            f"演示直播「{self.lesson.theme}」约 {starts_in} 秒后开始，"
            f"{DEMO_LIVING_DURATION // 60} 分钟后结束；企业微信沙箱的状态回调通知网站，"
            f"每 {interval} 秒同步一次，结束后发出报告。"
        )
        self.say(
            f"The demo lesson goes live in about {starts_in} s and ends "
            f"{DEMO_LIVING_DURATION // 60} min later; the sandbox's status callbacks tell the "
            f"site, syncs run every {interval} s and its report goes out (email below, WeCom "
            "message in the sandbox) once it has ended."
        )
        self.say("按 Ctrl-C 停止 / press Ctrl-C to stop.")
        self.lesson.watch(
            sandbox_url=sandbox_url, demo_living=demo_living, check=self.children.check
        )

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
        # Made up for this run: the sandbox seals its callbacks with them, the site opens them.
        token, aes_key = callback_secrets()
        env.update(
            DJANGO_SETTINGS_MODULE=os.environ.get("DJANGO_SETTINGS_MODULE", "school_live.settings"),
            PYTHONUNBUFFERED="1",
            SCHOOL_LIVE_VAR_DIR=str(settings.VAR_DIR),
            WECOM_API_BASE=sandbox_url,
            WECOM_OAUTH_BASE=sandbox_url,
            WECOM_CORP_ID=DEMO_CORP_ID,
            WECOM_SECRET=DEMO_SECRET,
            WECOM_AGENT_ID=DEMO_AGENT_ID,
            WECOM_CALLBACK_TOKEN=token,
            WECOM_CALLBACK_AES_KEY=aes_key,
            # The pages load the sandbox's stand-in ww, whose startLiving creates the living there.
            WECOM_JSSDK_URL=f"{sandbox_url}/sandbox/ww.js",
            SITE_URL=f"http://127.0.0.1:{site_port}",
            # The filesystem broker polls: a short interval makes the refresh button feel quick.
            CELERY_POLLING_INTERVAL="0.2",
            # The sandbox's school has four weeks of lessons: sync them all, so trends have data.
            SYNC_BACKFILL_DAYS="35",
        )
        if not os.environ.get("EMAIL_URL"):
            env["EMAIL_URL"] = f"smtp://127.0.0.1:{mail_port}"
        return env

    # -- first sync -----------------------------------------------------------------------------

    def first_sync(self) -> None:
        """The full school sync through the worker; done when the school run and the discovery
        and living syncs it queued have finished."""
        from school_live.sync.triggers import school_sync_request

        run, _created = school_sync_request(school=default_school())
        started = time.monotonic()
        last = None
        while True:
            self.children.check()
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
            # The school run queues the discovery in shares, which queue the livings' syncs.
            pending = SyncRun.objects.filter(
                created_at__gte=run.created_at,
                status__in=[SyncRun.Status.QUEUED, SyncRun.Status.RUNNING],
            )
            if run.status == SyncRun.Status.SUCCEEDED and not pending.exists():
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
