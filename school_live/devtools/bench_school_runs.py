"""The parts of ``bench_school``: a sandbox that counts its calls by wall clock, real Celery worker
processes, a school emptied between runs, and what a run stored, by natural keys."""

import os
import subprocess
import sys
import time
import uuid
from collections import Counter, deque
from dataclasses import dataclass, field
from pathlib import Path

from django.core.management.base import CommandError

from school_live.devtools.supervisor import Supervisor
from school_live.school.models import (
    ClassAssignment,
    Department,
    Enrollment,
    Guardianship,
    Living,
    Parent,
    Student,
    StudentUnwatch,
    StudentWatch,
    SyncRun,
    Teacher,
    VisitorWatch,
)
from school_live.wecom.errors import FREQUENCY_LIMIT
from school_live.wecom_sandbox.state import SandboxState

WATCH_COLUMNS = (
    "student_userid",
    "parent_userid",
    "partyids",
    "watch_time",
    "enter_time",
    "leave_time",
    "is_comment",
)
VISITOR_COLUMNS = ("position", "nickname", "watch_time", "enter_time", "leave_time", "is_comment")
ACTIVE = (SyncRun.Status.QUEUED, SyncRun.Status.RUNNING)


class CountingState(SandboxState):
    """The sandbox's state with every call's wall-clock second kept as well: its own clock stands
    still in the benchmark, so that a living under way serves the same rows to every run."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.wall: deque[tuple[float, str, int | None]] = deque()

    def record_call(self, method: str, path: str, errcode: int | None) -> None:
        super().record_call(method, path, errcode)
        with self.lock:
            self.wall.append((time.time(), path.removeprefix("/cgi-bin/"), errcode))

    def calls_clear(self) -> None:
        with self.lock:
            self.calls.clear()
            self.wall.clear()


@dataclass
class Calls:
    per_api: Counter = field(default_factory=Counter)
    peak_api: str = ""
    peak: int = 0  # the most calls to one API within any 60 s
    limited: int = 0  # answers of the frequency limit

    @classmethod
    def of(cls, state: CountingState) -> "Calls":
        with state.lock:
            wall = list(state.wall)
        calls = cls(per_api=Counter(path for _at, path, _code in wall))
        calls.limited = sum(1 for *_rest, code in wall if code == FREQUENCY_LIMIT)
        for api in calls.per_api:
            times = sorted(at for at, path, _code in wall if path == api)
            start = 0
            for end, at in enumerate(times):
                while times[start] <= at - 60:
                    start += 1
                if end - start + 1 > calls.peak:
                    calls.peak, calls.peak_api = end - start + 1, api
        return calls

    def text(self) -> str:
        apis = ", ".join(f"{_short(api)} {n}" for api, n in self.per_api.most_common())
        return (
            f"{sum(self.per_api.values())} WeCom calls ({apis}); the most to one API in any "
            f"60 s: {self.peak} ({_short(self.peak_api)}); frequency-limit answers: {self.limited}"
        )


def _short(api: str) -> str:
    return api.removeprefix("school/").removeprefix("living/")


def school_forget() -> None:
    """An empty school, as before the first sync."""
    Living.objects.all().delete()
    SyncRun.objects.all().delete()
    for model in (Guardianship, Enrollment, ClassAssignment, Student, Parent, Teacher, Department):
        model.objects.all().delete()


def living_rows() -> dict[str, tuple]:
    """Every stored row of every living, by natural keys."""
    rows = {}
    for living in Living.objects.all():
        rows[living.livingid] = (
            living.stats_complete,
            sorted(living.watches.values_list(*WATCH_COLUMNS)),
            list(living.visitors.order_by("position").values_list(*VISITOR_COLUMNS)),
            sorted(living.unwatches.values_list("student_userid", "parent_userid", "partyids")),
        )
    return rows


def stored_totals() -> tuple[int, int]:
    """(livings whose stats are stored, their rows)."""
    synced = Living.objects.filter(stats_synced_at__isnull=False)
    rows = sum(
        model.objects.filter(living__in=synced).count()
        for model in (StudentWatch, VisitorWatch, StudentUnwatch)
    )
    return synced.count(), rows


def unfinished() -> bool:
    return SyncRun.objects.filter(status__in=ACTIVE).exists()


def _family(pid: int) -> list[int]:
    children = subprocess.run(
        ["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True, check=False
    ).stdout.split()
    return [pid, *map(int, children)]


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) used so far by ``pid`` and its children: the worker and its pool."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for each in _family(pid):
        try:
            fields = Path(f"/proc/{each}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / ticks


def peak_rss_mib(pid: int) -> float:
    """The largest peak RSS (VmHWM) of ``pid`` and its children: the worker and its pool."""
    peak = 0
    for each in _family(pid):
        try:
            status = Path(f"/proc/{each}/status").read_text()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("VmHWM:"):
                peak = max(peak, int(line.split()[1]))
    return peak / 1024


class Workers:
    """``count`` Celery worker processes (each ``--concurrency 1``) on the configured broker and
    database, logging under ``log_dir``."""

    def __init__(self, *, count: int, env: dict, log_dir: Path, cwd: Path) -> None:
        self.count = count
        self.env = env
        self.supervisor = Supervisor(log_dir=log_dir, cwd=cwd)

    def __enter__(self) -> "Workers":
        for n in range(self.count):
            self.supervisor.start(
                f"worker{n + 1}",
                [
                    sys.executable,
                    "-m",
                    "celery",
                    "-A",
                    "school_live",
                    "worker",
                    "--pool=prefork",
                    "--concurrency=1",
                    "--loglevel=INFO",
                    "--without-gossip",
                    "--without-mingle",
                    "--without-heartbeat",
                    f"--hostname=bench-{uuid.uuid4().hex[:8]}@%h",
                ],
                self.env,
            )
        deadline = time.monotonic() + 90
        for child in self.supervisor.children:
            while " ready." not in child.log_path.read_text(errors="replace"):
                self.supervisor.check()
                if time.monotonic() > deadline:
                    self.supervisor.stop_all()
                    raise CommandError(f"{child.name} did not start; see {child.log_path}")
                time.sleep(0.2)
        return self

    def peak_rss_mib(self) -> float:
        return max(peak_rss_mib(child.process.pid) for child in self.supervisor.children)

    def cpu_seconds(self) -> float:
        return sum(cpu_seconds(child.process.pid) for child in self.supervisor.children)

    def __exit__(self, *exc) -> None:
        self.supervisor.stop_all()


def worker_env(*, sandbox_url: str, corp_id: str, secret: str, extra: dict) -> dict:
    env = {
        **os.environ,
        "WECOM_API_BASE": sandbox_url,
        "WECOM_CORP_ID": corp_id,
        "WECOM_SECRET": secret,
        "DJANGO_SETTINGS_MODULE": "school_live.settings",
        "PYTHONUNBUFFERED": "1",
        **extra,
    }
    env.pop("WECOM_AGENT_ID", None)
    return env
