"""How long one big living takes: download only, versus download + store (fresh and re-sync).

Starts its own WeCom sandbox on 127.0.0.1 with one school-wide living of ``--rows`` watch rows,
syncs it into the configured database and removes it afterwards (``--keep`` leaves it).
"""

import resource
import time
import tracemalloc

from django.core.management.base import BaseCommand

from school_live.school.models import Living
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


class Command(BaseCommand):
    help = "Benchmark downloading and syncing one big living from a local WeCom sandbox."

    def add_arguments(self, parser):
        parser.add_argument("--rows", type=int, default=20_000, help="watch rows (default 20000)")
        parser.add_argument(
            "--page-size", type=int, default=100, help="rows per WeCom page (default 100)"
        )
        parser.add_argument("--repeat", type=int, default=3, help="best of N (default 3)")
        parser.add_argument("--keep", action="store_true", help="keep the living afterwards")

    def handle(self, *args, rows, page_size, repeat, keep, verbosity, **options):
        database_prepare(stderr=self.stderr)
        state = SandboxState(generate_school(big_living_rows=rows), page_size=page_size)
        livingid = state.school.big_livingid
        with quiet_logs(verbosity), SandboxServer(state) as server:
            client = WeComClient(
                base_url=server.url, corp_id=state.corp_id, secret=state.secret, cache=None
            )
            client.get_access_token()  # not part of either measure
            try:
                self._bench(client, livingid, repeat)
            finally:
                client.close()
                if not keep:
                    Living.objects.filter(livingid=livingid).delete()

    def _bench(self, client: WeComClient, livingid: str, repeat: int) -> None:
        def best(action) -> float:
            times = []
            for _ in range(repeat):
                started = time.perf_counter()
                action()
                times.append(time.perf_counter() - started)
            return min(times)

        snapshot = living_snapshot_fetch(client=client, livingid=livingid)
        self.stdout.write(
            f"living {livingid}: {len(snapshot.watches)} watch rows, "
            f"{len(snapshot.visitors)} visitors, {len(snapshot.unwatches)} unwatched, "
            f"{snapshot.pages} pages"
        )

        download = best(lambda: living_snapshot_fetch(client=client, livingid=livingid))

        def fresh():
            Living.objects.filter(livingid=livingid).delete()
            started = time.perf_counter()
            living_stats_sync(client=client, livingid=livingid)
            return time.perf_counter() - started

        fresh_time = min(fresh() for _ in range(repeat))
        resync = best(lambda: living_stats_sync(client=client, livingid=livingid))

        def store_fresh():
            Living.objects.filter(livingid=livingid).delete()
            started = time.perf_counter()
            living_snapshot_store(snapshot=snapshot)
            return time.perf_counter() - started

        store_fresh_time = min(store_fresh() for _ in range(repeat))
        store_unchanged = best(lambda: living_snapshot_store(snapshot=snapshot))

        tracemalloc.start()
        Living.objects.filter(livingid=livingid).delete()
        living_stats_sync(client=client, livingid=livingid)
        _current, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux

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
        self.stdout.write(f"peak RSS of this process (sandbox included): {rss:.0f} MiB")
