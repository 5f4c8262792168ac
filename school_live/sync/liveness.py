"""Is a running sync still alive? Its heartbeat says so.

A run that works refreshes ``SyncRun.heartbeat_at`` (at most every SYNC_HEARTBEAT_EVERY seconds):
when a page or a class arrives, while it waits out a WeCom limit, before it stores. The runs
under way in this process form a stack (a school run and the step it is in), and a beat refreshes
them all. A running run whose heartbeat is older than SYNC_DEAD_AFTER seconds lost its worker
(killed, restarted, the machine gone): whoever looks next (the dead-run check every minute, the
sweep, a sync request) fails it with the reason and starts its living again.

Beats are written by the process doing the work, so a process that stops beating is stopped or
stuck; one HTTP call that hangs (up to its read timeout of 20 s, attempt after attempt of the
client's one retry loop, with patience beating between them) is the one way a live run can be
late with its heartbeat, and then a second sync of the same living only stores the same snapshot
again.
"""

import datetime as dt
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from django.conf import settings
from django.db.models import Q, QuerySet
from django.db.models.functions import Coalesce
from django.utils import timezone

from school_live.school.models import SyncRun

_beating: ContextVar[tuple[int, ...]] = ContextVar("sync_runs_beating", default=())
_last_beat: ContextVar[float] = ContextVar("sync_last_beat", default=0.0)


def heartbeat_every() -> float:
    return float(getattr(settings, "SYNC_HEARTBEAT_EVERY", 10.0))


def dead_after() -> dt.timedelta:
    return dt.timedelta(seconds=float(getattr(settings, "SYNC_DEAD_AFTER", 60.0)))


@contextmanager
def beating(run: SyncRun) -> Iterator[None]:
    """While the block runs, ``heartbeat()`` refreshes this run too."""
    token = _beating.set((*_beating.get(), run.pk))
    try:
        yield
    finally:
        _beating.reset(token)


def heartbeat(*, force: bool = False) -> None:
    """Refresh the heartbeat of the runs under way here, unless that was done very recently."""
    ids = _beating.get()
    now = time.monotonic()
    if not ids or (not force and now - _last_beat.get() < heartbeat_every()):
        return
    _last_beat.set(now)
    SyncRun.objects.filter(pk__in=ids, status=SyncRun.Status.RUNNING).update(
        heartbeat_at=timezone.now()
    )


def runs_dead(runs: QuerySet[SyncRun], *, now: dt.datetime | None = None) -> QuerySet[SyncRun]:
    """Those of ``runs`` that are running with a heartbeat older than SYNC_DEAD_AFTER."""
    now = now or timezone.now()
    return runs.annotate(alive_at=Coalesce("heartbeat_at", "started_at", "created_at")).filter(
        status=SyncRun.Status.RUNNING, alive_at__lt=now - dead_after()
    )


def runs_alive(runs: QuerySet[SyncRun], *, now: dt.datetime | None = None) -> QuerySet[SyncRun]:
    """Those of ``runs`` that are running and have shown a sign of life recently."""
    now = now or timezone.now()
    return runs.annotate(alive_at=Coalesce("heartbeat_at", "started_at", "created_at")).filter(
        Q(status=SyncRun.Status.RUNNING) & Q(alive_at__gte=now - dead_after())
    )


def dead_error() -> str:
    seconds = dead_after().total_seconds()
    return (
        f"The worker running this sync stopped before it finished (killed or restarted): no sign "
        f"of life for {seconds:.0f} s. Nothing it fetched was stored; the sync is started again."
    )
