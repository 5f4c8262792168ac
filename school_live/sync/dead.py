"""Runs whose worker died: failed with the reason, their living's lock released.

A running run is dead when its heartbeat stopped (liveness.py); a queued run is lost when no
worker started it within SYNC_QUEUED_STALE_AFTER (its message was lost, e.g. taken by a worker
the filesystem broker then lost with it). Whoever finds them (the dead-run check every minute,
the sweep, a sync request) fails them here and starts their livings again (triggers.py).
"""

import datetime as dt

from django.db.models import Q, QuerySet
from django.utils import timezone

from school_live.school.models import SyncRun
from school_live.sync.liveness import dead_error, runs_dead
from school_live.sync.locks import living_lock_release
from school_live.sync.runs import queued_stale_after

LOST_ERROR = (
    "This sync was queued but no worker ever started it (its message was lost). It is started "
    "again; if this repeats, check that a Celery worker runs."
)


def dead_runs_fail(
    runs: QuerySet[SyncRun] | None = None, *, now: dt.datetime | None = None
) -> list[SyncRun]:
    """Fail the dead and the lost among ``runs`` (all runs by default); returns them."""
    now = now or timezone.now()
    runs = SyncRun.objects.all() if runs is None else runs
    dead = list(runs_dead(runs, now=now))
    lost = list(
        runs.filter(Q(status=SyncRun.Status.QUEUED, created_at__lt=now - queued_stale_after()))
    )
    failed = []
    for run, error in [(r, dead_error()) for r in dead] + [(r, LOST_ERROR) for r in lost]:
        # Conditional: a run that finished or beat meanwhile is left alone.
        still = SyncRun.objects.filter(pk=run.pk, status=run.status)
        if run.status == SyncRun.Status.RUNNING:
            still = still.filter(heartbeat_at=run.heartbeat_at)
        if still.update(status=SyncRun.Status.FAILED, error=error, finished_at=now):
            run.status, run.error, run.finished_at = SyncRun.Status.FAILED, error, now
            if run.livingid:
                living_lock_release(run.livingid, school_id=run.school_id, run_id=run.pk)
            failed.append(run)
    return failed
