"""How long one big living takes: download only, versus download + store (fresh and re-sync);
and how much memory a worker needs for it (peak RSS of a first sync and of a re-sync).

Starts its own WeCom sandbox on 127.0.0.1 with one school-wide living of ``--rows`` watch rows,
syncs it into the configured database and removes it afterwards (``--keep`` leaves it).

The memory figures come from child processes, one per sync, each importing what a Celery worker
imports (the Celery app and the sync tasks) before it syncs: a worker's pool child runs the same
code on the same imports. The sandbox stays in this process, so its copy of the rows is not
counted.
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from school_live.school.models import Living
from school_live.school.tenancy import default_school
from school_live.sync.cli import database_prepare, quiet_logs
from school_live.sync.living_stats import (
    living_snapshot_fetch,
    living_snapshot_store,
    living_stats_sync,
)
from school_live.wecom.client import WeComClient
from school_live.wecom_sandbox.school import generate_school
from school_live.wecom_sandbox.server import SandboxServer
from school_live.wecom_sandbox.state import SandboxState


def _status_mib(name: str) -> float:
    """A line of /proc/self/status (VmRSS: now, VmHWM: the peak), in MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{name}:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class Command(BaseCommand):
    help = "Benchmark downloading and syncing one big living from a local WeCom sandbox."

    def add_arguments(self, parser):
        parser.add_argument("--rows", type=int, default=20_000, help="watch rows (default 20000)")
        parser.add_argument(
            "--page-size", type=int, default=100, help="rows per WeCom page (default 100)"
        )
        parser.add_argument("--repeat", type=int, default=3, help="best of N (default 3)")
        parser.add_argument("--keep", action="store_true", help="keep the living afterwards")
        parser.add_argument(
            "--timing",
            action=argparse.BooleanOptionalAction,
            default=True,
            help="time download and sync (--no-timing: memory only)",
        )
        # (internal) one sync in this process, for the memory figures: a JSON line on stdout.
        parser.add_argument("--sync-child", nargs=4, help=argparse.SUPPRESS)

    def handle(self, *args, rows, page_size, repeat, keep, timing, verbosity, **options):
        if options["sync_child"]:
            return self.sync_child(*options["sync_child"])
        database_prepare(stderr=self.stderr)
        state = SandboxState(generate_school(big_living_rows=rows), page_size=page_size)
        livingid = state.school.big_livingid
        with quiet_logs(verbosity), SandboxServer(state) as server:
            client = WeComClient(
                base_url=server.url, corp_id=state.corp_id, secret=state.secret, cache=None
            )
            client.get_access_token()  # not part of either measure
            try:
                if timing:
                    self._bench(client, livingid, repeat)
                self._memory([livingid, server.url, state.corp_id, state.secret])
            finally:
                client.close()
                if not keep:
                    Living.objects.filter(school=default_school(), livingid=livingid).delete()

    def _bench(self, client: WeComClient, livingid: str, repeat: int) -> None:
        def best(action) -> float:
            times = []
            for _ in range(repeat):
                started = time.perf_counter()
                action()
                times.append(time.perf_counter() - started)
            return min(times)

        school = default_school()
        snapshot = living_snapshot_fetch(client=client, livingid=livingid)
        self.stdout.write(f"living {livingid}: {snapshot.pages} pages")

        download = best(lambda: living_snapshot_fetch(client=client, livingid=livingid))

        def fresh():
            Living.objects.filter(school=school, livingid=livingid).delete()
            started = time.perf_counter()
            living_stats_sync(school=school, client=client, livingid=livingid)
            return time.perf_counter() - started

        fresh_time = min(fresh() for _ in range(repeat))
        resync = best(lambda: living_stats_sync(school=school, client=client, livingid=livingid))

        def store_fresh():
            Living.objects.filter(school=school, livingid=livingid).delete()
            started = time.perf_counter()
            living_snapshot_store(school=school, snapshot=snapshot)
            return time.perf_counter() - started

        store_fresh_time = min(store_fresh() for _ in range(repeat))
        store_unchanged = best(lambda: living_snapshot_store(school=school, snapshot=snapshot))

        tracemalloc.start()
        Living.objects.filter(school=school, livingid=livingid).delete()
        living_stats_sync(school=school, client=client, livingid=livingid)
        _current, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()

        self.stdout.write(f"download only:        {download:6.2f} s")
        self.stdout.write(
            f"sync, fresh:          {fresh_time:6.2f} s  ({fresh_time / download:.2f}× download)"
        )
        self.stdout.write(
            f"sync, unchanged:      {resync:6.2f} s  ({resync / download:.2f}× download)"
        )
        self.stdout.write(
            f"  of which storing:   {store_fresh_time:6.2f} s fresh, {store_unchanged:.2f} s unchanged"
        )
        self.stdout.write(f"peak Python memory of one fresh sync: {peak / 2**20:.1f} MiB")

    def _memory(self, child_args: list[str]) -> None:
        Living.objects.filter(school=default_school(), livingid=child_args[0]).delete()
        for label in ("first sync", "re-sync"):
            figures = self._child(child_args)
            self.stdout.write(
                f"{label + ':':12} peak RSS {figures['peak']:6.1f} MiB "
                f"(imports {figures['before']:.1f} MiB, after {figures['after']:.1f} MiB; "
                f"{figures['rows']} rows in {figures['seconds']:.2f} s)"
                + (f"; peak Python memory {figures['traced']:.1f} MiB" if figures["traced"] else "")
            )

    def _child(self, child_args: list[str]) -> dict:
        command = [
            sys.executable,
            str(Path(settings.BASE_DIR) / "manage.py"),
            "bench_sync",
            "--sync-child",
            *child_args,
        ]
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        if result.returncode:
            raise CommandError(f"The sync in a child process failed:\n{result.stderr}")
        return json.loads(result.stdout.strip().splitlines()[-1])

    def sync_child(self, livingid: str, base_url: str, corp_id: str, secret: str) -> None:
        import school_live.celery  # noqa: F401 - what a worker has imported
        import school_live.sync.tasks  # noqa: F401

        before = _status_mib("VmRSS")
        client = WeComClient(base_url=base_url, corp_id=corp_id, secret=secret, cache=None)
        trace = os.environ.get("BENCH_TRACEMALLOC") == "1"
        if trace:
            tracemalloc.start()
        started = time.perf_counter()
        run = living_stats_sync(school=default_school(), client=client, livingid=livingid)
        seconds = time.perf_counter() - started
        traced = tracemalloc.get_traced_memory()[1] / 2**20 if trace else 0.0
        if run.status != run.Status.SUCCEEDED:
            raise CommandError(run.error)
        figures = {
            "before": before,
            "peak": _status_mib("VmHWM"),
            "after": _status_mib("VmRSS"),
            "rows": run.rows,
            "seconds": seconds,
            "traced": traced,
        }
        self.stdout.write(json.dumps(figures))
