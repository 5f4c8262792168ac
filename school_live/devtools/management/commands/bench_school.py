"""How long a full school sync takes, in this process and on 1, 2, ... Celery worker processes.

Starts a WeCom sandbox on 127.0.0.1 with a generated school (about 3,000 students in 60 classes
and 500 livings by default; its clock stands still, so every run reads the same rows), then
syncs it from empty: once here (``sync_school``'s service), then with each number of worker
processes of ``--workers`` (real ``celery worker`` processes on the configured broker, database
and cache). Each run reports its wall time, the livings and rows stored, WeCom calls per API,
the most calls to one API within any 60 s and the frequency-limit answers; the worker runs their peak RSS.
``--faults 0.2`` adds a run with 20% transient faults and compares every living's stored rows
with the fault-free run's. It empties the school tables of the configured database first: give
it a database of its own.
"""

import os
import time
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from school_live.devtools.bench_school_runs import (
    Calls,
    CountingState,
    Workers,
    living_rows,
    school_forget,
    stored_totals,
    unfinished,
    worker_env,
)
from school_live.school.models import Living, SyncRun
from school_live.school.tenancy import default_school
from school_live.sync.cli import database_prepare, quiet_logs
from school_live.sync.patience import Patience
from school_live.sync.school import school_sync
from school_live.sync.triggers import school_sync_request
from school_live.wecom.client import WeComClient
from school_live.wecom_sandbox.school import generate_school
from school_live.wecom_sandbox.server import SandboxServer

REPO = Path(__file__).resolve().parents[4]
TEACHERS_PER_CLASS = 2  # the generated school's 班主任 and one subject teacher
RUN_TIMEOUT = 30 * 60
# With faults, a frequency limit waits 60 s × this instead of a minute (as the fault tests shrink it).
FAULT_WAIT_SCALE = 0.01


def _worker_counts(text: str) -> list[int]:
    try:
        counts = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise CommandError("--workers takes numbers separated by commas, e.g. 1,2") from None
    if not counts or min(counts) < 1:
        raise CommandError("--workers takes numbers of at least 1, e.g. 1,2")
    return counts


class Command(BaseCommand):
    help = "Benchmark a full school sync from a local WeCom sandbox, here and on Celery workers."

    def add_arguments(self, parser):
        parser.add_argument("--students", type=int, default=3000, help="default 3000")
        parser.add_argument("--classes", type=int, default=60, help="default 60")
        parser.add_argument("--livings", type=int, default=500, help="about; default 500")
        parser.add_argument(
            "--workers",
            default="1,2",
            help="worker processes per run: 1,2 (1,2,1,2: each twice, the best time counts)",
        )
        parser.add_argument(
            "--faults", type=float, default=0.0, help="share of calls that fail, e.g. 0.2"
        )
        parser.add_argument("--seed", type=int, default=1)
        parser.add_argument("--no-here", action="store_true", help="skip the run in this process")
        parser.add_argument(
            "--yes", action="store_true", help="empty a database that holds livings"
        )

    def handle(self, *args, workers, faults, no_here, yes, verbosity, **options):
        counts = _worker_counts(workers)
        if not 0 <= faults < 1:
            raise CommandError("--faults is a share of calls between 0 and 1, e.g. 0.2")
        database_prepare(stderr=self.stderr)
        if Living.objects.exists() and not yes:
            raise CommandError(
                "The configured database holds livings; this benchmark empties it. Point "
                "DATABASE_URL at a database of its own, or pass --yes."
            )
        state, weeks = self._school(options)
        # Every generated living is recent enough for the sweep.
        settings.SYNC_BACKFILL_DAYS = weeks * 7 + 2
        self._say(
            f"school: {options['classes']} classes, {options['students']} students, "
            f"{sum(not lv.foreign for lv in state.school.livings.values())} livings of this app "
            f"({len(state.school.livings)} in all); broker {settings.CELERY_BROKER_URL.split(':')[0]}, "
            f"database {settings.DATABASES['default']['ENGINE'].rsplit('.', 1)[-1]}, "
            f"budget {settings.WECOM_CALLS_PER_MINUTE}/min per API; "
            f"load {self._load()}"
        )
        with quiet_logs(verbosity), SandboxServer(state) as server:
            self.server, self.state = server, state
            self.backfill = settings.SYNC_BACKFILL_DAYS
            try:
                self._bench(counts, faults, no_here, options["seed"])
            finally:
                school_forget()

    def _school(self, options) -> tuple[CountingState, int]:
        classes = max(1, options["classes"])
        grades = 6 if classes % 6 == 0 else 1
        teachers = classes * TEACHERS_PER_CLASS
        # The generated school gives each teacher two livings a week.
        weeks = max(1, round(options["livings"] / (2 * teachers)))
        school = generate_school(
            seed=options["seed"],
            grades=grades,
            classes_per_grade=classes // grades,
            students_per_class=max(1, options["students"] // classes),
            weeks=weeks,
        )
        state = CountingState(school, page_size=100)
        frozen = state.clock()
        state.clock = lambda: frozen
        return state, weeks

    def _bench(self, counts: list[int], faults: float, no_here: bool, seed: int) -> None:
        times: dict[str, float] = {}
        reference = None
        if not no_here:
            times["here"] = self._run_here()
            reference = living_rows()
        for count in counts:  # a count given twice (1,2,1,2) keeps its best time
            took = self._run_workers(count)
            times[count] = min(took, times.get(count, took))
            if reference is None:
                reference = living_rows()
        if 1 in times and 2 in times:
            self._say(f"speed-up, 1 → 2 worker processes: {times[1] / times[2]:.2f}×")
        if 1 in times and "here" in times:
            self._say(
                f"1 worker process vs sync_school here: {times[1] / times['here']:.2f}× the time"
            )
        if faults:
            share = {"busy": faults / 2, "limit": faults / 4, "http502": faults / 4}
            self.state.set_faults(**share, seed=seed)
            self._run_workers(max(counts), faults=faults)
            self.state.clear_faults()
            self._compare(reference, living_rows())
        self._say(f"load at the end: {self._load()}")

    def _fresh(self) -> None:
        school_forget()
        self.state.calls_clear()

    def _run_here(self) -> float:
        self._fresh()
        with WeComClient(
            base_url=self.server.url,
            corp_id=self.state.corp_id,
            secret=self.state.secret,
            waiter=Patience(report=lambda line: None),
        ) as client:
            started = time.perf_counter()
            run = school_sync(school=default_school(), client=client)
            took = time.perf_counter() - started
        self._report("sync_school, in this process", took, run.status)
        return took

    def _run_workers(self, count: int, *, faults: float = 0.0) -> float:
        from school_live.celery import app

        self._fresh()
        app.control.purge()  # nothing left over from an earlier run
        extra = {"SYNC_BACKFILL_DAYS": str(self.backfill)}
        if faults:
            extra["SYNC_WAIT_SCALE"] = str(FAULT_WAIT_SCALE)
        env = worker_env(
            sandbox_url=self.server.url,
            corp_id=self.state.corp_id,
            secret=self.state.secret,
            extra=extra,
        )
        log_dir = Path(settings.VAR_DIR) / "bench_school"
        log_dir.mkdir(parents=True, exist_ok=True)
        with Workers(count=count, env=env, log_dir=log_dir, cwd=REPO) as running:
            cpu, workers_cpu = time.process_time(), running.cpu_seconds()
            started = time.time()
            run, _created = school_sync_request(school=default_school())
            deadline = time.monotonic() + RUN_TIMEOUT
            while True:
                time.sleep(0.5)  # the end is read from the runs, not from this loop
                running.supervisor.check()
                school = SyncRun.objects.get(pk=run.pk)
                if school.finished_at and not unfinished():
                    break
                if time.monotonic() > deadline:
                    raise CommandError(f"the sync did not finish within {RUN_TIMEOUT} s")
            last = SyncRun.objects.order_by("-finished_at").values_list("finished_at", flat=True)
            took = last.first().timestamp() - started
            self.sandbox_cpu = (time.process_time() - cpu) / took
            self.workers_cpu = (running.cpu_seconds() - workers_cpu) / took
            rss = running.peak_rss_mib()
        what = f"{count} worker process{'es' if count > 1 else ''}"
        if faults:
            what += f", {faults:.0%} faults"
        failed = SyncRun.objects.filter(status=SyncRun.Status.FAILED).count()
        self._report(what, took, school.status, rss=rss, failed=failed)
        return took

    def _report(self, what: str, took: float, status: str, *, rss=None, failed=0) -> None:
        livings, rows = stored_totals()
        line = f"{what}: {took:.1f} s ({status}), {livings} livings and {rows} rows stored"
        if failed:
            line += f", {failed} runs failed"
        if rss is not None:
            line += f", worker peak RSS {rss:.0f} MiB"
            # Cores used on average: the workers', and this process's (it serves the sandbox). On
            # a shared machine, workers far below a core each are waiting for CPU or the database.
            line += f", CPU: workers {self.workers_cpu:.2f} cores, sandbox {self.sandbox_cpu:.2f}"
        self._say(line)
        injected = " (the injected faults among them)" if self.state.faults.limit else ""
        self._say(f"    {Calls.of(self.state).text()}{injected}")

    def _compare(self, reference: dict | None, faulty: dict) -> None:
        if reference is None:
            return
        differ = sorted(
            k for k in reference.keys() | faulty.keys() if reference.get(k) != faulty.get(k)
        )
        if not differ:
            self._say(f"with faults: all {len(reference)} livings' rows equal the fault-free run's")
        else:
            self._say(
                f"with faults: {len(differ)} of {len(reference)} livings differ from the "
                f"fault-free run: {', '.join(differ[:10])}"
            )

    def _say(self, line: str) -> None:
        self.stdout.write(line)
        self.stdout.flush()

    @staticmethod
    def _load() -> str:
        return " ".join(f"{n:.2f}" for n in os.getloadavg()) + f" on {os.cpu_count()} cores"
