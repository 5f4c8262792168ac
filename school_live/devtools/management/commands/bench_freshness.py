"""``python manage.py bench_freshness``: how long after a student enters a live lesson does the
roll call show them?

The whole path runs as in production, on the embedded defaults: a WeCom sandbox on 127.0.0.1 with
a lesson whose students arrive over its first 80% (wecom_sandbox/watch.py), a real Celery worker
and beat (the beat schedule the migrations seed, so the live tick every 20 s), and the roll
call's JSON (``dashboard:rollcall``), read every ``--poll`` seconds as rollcall.js reads it. Each
arrival's time comes from the sandbox's control API (``/sandbox/livings/<id>/watchers``); its lag
is when the JSON first listed the student as joined, minus that arrival. No status callbacks are
sent (there is no web server to receive them): the tick alone has to notice the lesson, the
slower path.

Unless ``--in-place``, it runs in a fresh ``var/bench_freshness/`` (its own SQLite database,
filesystem broker and cache), so nothing of the demo's or the tests' is touched or counted; it
re-runs itself there as a child process.
"""

import os
import shutil
import statistics
import sys
import time
from pathlib import Path

import requests
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import close_old_connections
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from school_live.devtools.supervisor import Supervisor
from school_live.school.models import Living, SyncRun
from school_live.school.tenancy import default_school
from school_live.sync.living_stats import living_stats_sync
from school_live.sync.roster import roster_sync
from school_live.wecom.client import WeComClient
from school_live.wecom_sandbox.school import generate_school
from school_live.wecom_sandbox.server import SandboxServer
from school_live.wecom_sandbox.state import SandboxState

CORP_ID = "ww_bench_freshness"
SECRET = "bench-freshness-secret"  # noqa: S105 - a fake app on loopback
CHILD = "BENCH_FRESHNESS_CHILD"
START_IN = 30  # seconds: the worker and beat are up by then
ARRIVALS_OVER = 0.8  # of the lesson
AFTER_END = 75  # seconds to keep watching after the end (the final sync)


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(share * len(ordered) + 0.5) - 1))
    return ordered[index]


class Command(BaseCommand):
    help = (
        "Measure the lag between a student's arrival in a live lesson (WeCom sandbox) and their "
        "appearance in the roll call's JSON, through a real Celery worker and beat."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--duration", type=int, default=240, help="seconds the lesson is live (240)"
        )
        parser.add_argument("--classes", type=int, default=2, help="classes in the lesson (2)")
        parser.add_argument("--students", type=int, default=40, help="students per class (40)")
        parser.add_argument("--poll", type=float, default=2.0, help="seconds between reads (2)")
        parser.add_argument("--seed", type=int, default=1, help="seed of the sandbox school (1)")
        parser.add_argument(
            "--in-place",
            action="store_true",
            help="use the configured database and broker instead of a fresh var/bench_freshness",
        )

    def handle(self, *args, **options):
        if options["duration"] < 60:
            raise CommandError("--duration must be at least 60 seconds")
        if not options["in_place"] and os.environ.get(CHILD) != "1":
            self._rerun_fresh(options)
            return
        self.var_dir = Path(settings.VAR_DIR)
        self.children = Supervisor(log_dir=self.var_dir, cwd=Path(settings.BASE_DIR))
        try:
            self._bench(**options)
        finally:
            self.children.stop_all()

    def _rerun_fresh(self, options) -> None:
        var_dir = Path(settings.VAR_DIR) / "bench_freshness"
        shutil.rmtree(var_dir, ignore_errors=True)
        var_dir.mkdir(parents=True)
        env = {**os.environ, CHILD: "1", "SCHOOL_LIVE_VAR_DIR": str(var_dir)}
        for name in ("DATABASE_URL", "CELERY_BROKER_URL", "CACHE_URL"):
            env.pop(name, None)
        argv = [sys.executable, str(Path(settings.BASE_DIR) / "manage.py"), "bench_freshness"]
        for name in ("duration", "classes", "students", "poll", "seed"):
            argv += [f"--{name}", str(options[name])]
        self.stdout.write(f"(in a fresh {var_dir}; logs there)")
        self.stdout.flush()
        code = os.spawnve(os.P_WAIT, sys.executable, argv, env)  # noqa: S606 - ourselves
        if code:
            raise CommandError(f"the benchmark failed (exit {code})")

    def _bench(self, *, duration, classes, students, poll, seed, **_):
        call_command("migrate", interactive=False, verbosity=0)
        school = generate_school(
            seed=seed, grades=1, classes_per_grade=classes, students_per_class=students, weeks=1
        )
        state = SandboxState(school, corp_id=CORP_ID, secret=SECRET, seed=seed)
        with SandboxServer(state) as server:
            env = dict(os.environ)
            env.update(
                PYTHONUNBUFFERED="1",
                SCHOOL_LIVE_VAR_DIR=str(self.var_dir),
                WECOM_API_BASE=server.url,
                WECOM_CORP_ID=CORP_ID,
                WECOM_SECRET=SECRET,
            )
            settings.WECOM_API_BASE, settings.WECOM_CORP_ID = server.url, CORP_ID
            settings.WECOM_SECRET = SECRET
            livingid = self._prepare(state, duration)
            calls_before = requests.get(f"{server.url}/sandbox/calls", timeout=5).json()
            celery = [sys.executable, "-m", "celery", "-A", "school_live"]
            self.children.start("worker", [*celery, "worker", "-l", "info", "-c", "1"], env)
            beat_file = str(self.var_dir / "beat-schedule")
            self.children.start("beat", [*celery, "beat", "-l", "info", "-s", beat_file], env)
            seen, synced = self._watch(server.url, livingid, poll)
            calls_after = requests.get(f"{server.url}/sandbox/calls", timeout=5).json()
            arrivals = requests.get(
                f"{server.url}/sandbox/livings/{livingid}/watchers", timeout=5
            ).json()
        self._report(livingid, arrivals, seen, synced, calls_before, calls_after, duration)

    def _prepare(self, state: SandboxState, duration: int) -> str:
        """The school's roster and the lesson, reserved, known to the site before it starts."""
        client = WeComClient(base_url=settings.WECOM_API_BASE, corp_id=CORP_ID, secret=SECRET)
        with client:
            run = roster_sync(school=default_school(), client=client)
            if run.status != SyncRun.Status.SUCCEEDED:
                raise CommandError(f"the roster sync failed: {run.error}")
            classes = tuple(sorted(d.id for d in state.school.departments.values() if d.type == 1))
            living = state.schedule_demo_living(
                start_in=START_IN,
                duration=duration,
                partyids=classes,
                anchor_userid=next(iter(state.school.teachers)),
                theme="新鲜度基准",
                spread=ARRIVALS_OVER,
            )
            run = living_stats_sync(
                school=default_school(), client=client, livingid=living.livingid
            )
            if run.status != SyncRun.Status.SUCCEEDED:
                raise CommandError(f"the first sync failed: {run.error}")
        user, _created = get_user_model().objects.get_or_create(username="bench-freshness")
        user.is_staff = user.is_superuser = True
        user.save()
        self.user = user
        self.stdout.write(
            f"lesson {living.livingid}: {len(classes)} classes, "
            f"{len(state.roster(living))} students, live in {START_IN} s for {duration} s"
        )
        self.stdout.flush()
        self.lesson_end = living.living_end
        return living.livingid

    def _watch(self, sandbox_url: str, livingid: str, poll: float):
        """Read the roll call's JSON until AFTER_END past the end; returns when each student
        was first seen joined (Unix s) and the distinct sync times seen."""
        client = Client(HTTP_HOST="127.0.0.1")
        client.force_login(self.user)
        url = reverse("dashboard:rollcall", args=[livingid])
        seen: dict[str, float] = {}
        synced: set[str] = set()
        class_ids = None
        while time.time() < self.lesson_end + AFTER_END:
            self.children.check()
            close_old_connections()
            started = time.time()
            answer = client.get(url).json()
            class_ids = class_ids or [entry["id"] for entry in answer["classes"]]
            for class_id in class_ids:
                if class_id != (answer["class"] or {}).get("id"):
                    answer = client.get(url, {"class": class_id}).json()
                for student in answer["class"]["students"]:
                    if student["group"] == "joined":
                        seen.setdefault(student["userid"], started)
            if answer["synced_at"]:
                synced.add(answer["synced_at"])
            time.sleep(max(0.0, poll - (time.time() - started)))
        return seen, synced

    def _report(self, livingid, arrivals, seen, synced, before, after, duration) -> None:
        first: dict[str, int] = {}
        for watcher in arrivals["watchers"]:
            if watcher["live"]:
                userid = watcher["student_userid"]
                first[userid] = min(first.get(userid, watcher["arrival"]), watcher["arrival"])
        lags = [seen[userid] - arrival for userid, arrival in first.items() if userid in seen]
        missing = sorted(set(first) - set(seen))
        close_old_connections()
        living = Living.objects.get(school=default_school(), livingid=livingid)
        runs = SyncRun.objects.filter(
            school=default_school(), livingid=livingid, kind=SyncRun.Kind.LIVING
        )
        finished = sorted(
            run.finished_at
            for run in runs.filter(status=SyncRun.Status.SUCCEEDED)
            if run.finished_at
        )
        start, end = living.living_start, living.living_end
        live_syncs = [moment for moment in finished if start <= moment <= end]
        gaps = [
            (b - a).total_seconds() for a, b in zip([start, *live_syncs], live_syncs, strict=False)
        ]
        final = next((m for m in finished if m >= end), None)
        calls = after["total"] - before["total"]
        out = self.stdout.write
        out("")
        out(f"arrivals during the lesson: {len(first)}, seen in the roll call: {len(lags)}")
        if missing:
            out(f"  never seen: {', '.join(missing)}")
        if lags:
            out(
                f"lag arrival → roll call JSON: median {statistics.median(lags):.1f} s, "
                f"p95 {_percentile(lags, 0.95):.1f} s, max {max(lags):.1f} s"
            )
        out(
            f"living syncs: {runs.count()} runs ({len(live_syncs)} succeeded while live); "
            f"longest gap while live {max(gaps, default=0):.0f} s"
        )
        if final is not None:
            out(
                f"final sync {(final - end).total_seconds():.0f} s after the end "
                f"(complete: {living.stats_complete})"
            )
        else:
            out("no sync after the end was seen")
        by_path = {
            path: count - before["calls"].get(path, 0)
            for path, count in after["calls"].items()
            if count - before["calls"].get(path, 0)
        }
        out(
            f"WeCom calls while measured: {calls} ({calls / (duration / 60):.1f} per live minute): "
            + ", ".join(f"{path.rsplit('/', 1)[-1]} {count}" for path, count in by_path.items())
        )
        out(f"distinct sync times seen by the poller: {len(synced)}")
        out(f"measured at {timezone.localtime():%Y-%m-%d %H:%M} (Beijing time)")
