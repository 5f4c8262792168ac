"""Thin Celery tasks: they take ids, load what they need and call a service.

Shared policy, with the reasons:
- ``acks_late`` + ``reject_on_worker_lost`` (settings): a task is acknowledged after it ran, so a
  worker killed mid-sync gives the message back (Redis) instead of losing it. Every service is safe
  to re-run, and a finished run is never run twice.
- Two retry layers, no more (README, "Retries"): transient WeCom errors are first waited out
  call by call inside the service (patience.py: a minute limit waits out the minute). What is left after that — a call that kept failing for
  SYNC_WAIT_TOTAL, a school run whose units failed only on transient errors (SyncProblem with
  ``transient``), raw network errors — is retried by the task: after a backoff from 15 s with
  full jitter (workers do not come back in step), never sooner than WeCom's ``retry_after`` (60 s
  for the frequency limit), at most 5 retries. Permanent errors (another app's living, bad secret, malformed data) fail at
  once: retrying cannot change WeCom's answer.
- Time limits: a 20,000-row living downloads and stores in well under a minute, so a task still
  running after CELERY_TASK_SOFT_TIME_LIMIT (600 s) is stuck on WeCom; the soft limit lets the
  service record why, the hard limit (660 s) kills what ignores it. Both stay below Redis's
  visibility timeout (3600 s), or Redis would hand a running task to a second worker.
"""

import datetime as dt
import functools
import logging
import random

from celery import shared_task
from django.conf import settings

from school_live.school.models import SyncRun
from school_live.school.tenancy import default_school
from school_live.sync.discovery import livings_discover
from school_live.sync.live import live_syncs_queue
from school_live.sync.living_stats import living_stats_sync
from school_live.sync.patience import wait_scale
from school_live.sync.roster import roster_sync
from school_live.sync.runs import SyncProblem
from school_live.sync.school import school_sync
from school_live.sync.sweep import recent_livings_sweep
from school_live.sync.triggers import dead_runs_recover
from school_live.wecom.errors import WeComTransientError

logger = logging.getLogger(__name__)

RETRYABLE = (WeComTransientError, ConnectionError, TimeoutError, SyncProblem)
RETRY_BACKOFF, RETRY_BACKOFF_MAX = 15, 300
SYNC_TASK = {
    "acks_late": True,
    "max_retries": 5,
    # Read when the worker imports this module, so a worker started with short limits in its
    # environment (the worker tests) gets them.
    "soft_time_limit": getattr(settings, "CELERY_TASK_SOFT_TIME_LIMIT", 600),
    "time_limit": getattr(settings, "CELERY_TASK_TIME_LIMIT", 660),
}

FINISHED = (SyncRun.Status.SUCCEEDED, SyncRun.Status.FAILED)


def _run_for(task, run_id: int | None, kind: str, **fields) -> SyncRun | None:
    """The run this message is about; None when it is gone or already finished (a duplicate).
    Without a run (beat, shell), a new run of the default school."""
    if run_id is None:
        return SyncRun.objects.create(
            school=default_school(), kind=kind, task_id=task.request.id or "", **fields
        )
    run = SyncRun.objects.filter(pk=run_id).first()
    if run is None:
        logger.info("sync run %s is gone; nothing to do", run_id)
        return None
    # A retry finds its run queued again (see _retrying); a finished run came back as a duplicate.
    if run.status in FINISHED:
        logger.info("sync run %s already %s; not run again", run_id, run.status)
        return None
    run.task_id = task.request.id or run.task_id
    return run


def retry_countdown(error: Exception, retries: int) -> float:
    """Seconds before retry number ``retries + 1``: full jitter, never before WeCom lets us."""
    backoff = random.uniform(0, min(RETRY_BACKOFF_MAX, RETRY_BACKOFF * 2**retries))
    return max(backoff, getattr(error, "retry_after", None) or 0) * wait_scale()


def _retrying(task, run: SyncRun, error: Exception):
    """Re-queue the task if waiting can fix ``error`` (else re-raise it), showing the admin
    that the run waits rather than failed."""
    if isinstance(error, SyncProblem) and not error.transient:
        raise error
    if task.request.retries < task.max_retries:
        SyncRun.objects.filter(pk=run.pk).update(
            status=SyncRun.Status.QUEUED,
            error=f"{error} — retry {task.request.retries + 1} of {task.max_retries} is queued.",
        )
    # Past max_retries, retry() raises ``error`` itself.
    raise task.retry(exc=error, countdown=retry_countdown(error, task.request.retries))


def _run_task(task, run_id: int | None, kind: str, service, **fields) -> int | None:
    """The body of every sync task: its run (None when gone or finished), the service, the
    retry of what waiting can fix. Returns the id of the run that did the work: the service's,
    when it returns a run (another run already syncing the living), else this one."""
    run = _run_for(task, run_id, kind, **fields)
    if run is None:
        return None
    try:
        result = service(run=run)
    except RETRYABLE as error:
        _retrying(task, run, error)
    return result.pk if isinstance(result, SyncRun) else run.pk


@shared_task(bind=True, name="sync.living_stats", **SYNC_TASK)
def living_stats_task(
    self, run_id: int | None = None, livingid: str = "", info_since: str | None = None
) -> int | None:
    """One living's info and stats. Takes the SyncRun id, or a livingid (beat, shell);
    ``info_since`` (ISO time): the school sync's discovery stored the info then, use it."""
    fields = {"livingid": livingid} if run_id is None else {}
    since = dt.datetime.fromisoformat(info_since) if info_since else None

    def service(*, run: SyncRun) -> SyncRun:
        return living_stats_sync(livingid=run.livingid, run=run, info_since=since)

    return _run_task(self, run_id, SyncRun.Kind.LIVING, service, **fields)


@shared_task(bind=True, name="sync.roster", **SYNC_TASK)
def roster_sync_task(self, run_id: int | None = None) -> int | None:
    return _run_task(self, run_id, SyncRun.Kind.ROSTER, roster_sync)


@shared_task(bind=True, name="sync.discover_livings", **SYNC_TASK)
def livings_discover_task(
    self, run_id: int | None = None, teachers: list[str] | None = None
) -> int | None:
    """All active teachers (beat), or those of one share of a school sync (``teachers``), whose
    livings to sync it then queues itself."""
    service = livings_discover
    if teachers is not None:
        service = functools.partial(livings_discover, teachers=teachers, enqueue=True)
    return _run_task(self, run_id, SyncRun.Kind.DISCOVERY, service)


@shared_task(bind=True, name="sync.sweep_recent_livings", **SYNC_TASK)
def recent_livings_sweep_task(self, run_id: int | None = None) -> int | None:
    """Fails runs whose worker died and queues one task per living to sync."""
    return _run_task(self, run_id, SyncRun.Kind.SWEEP, recent_livings_sweep)


@shared_task(bind=True, name="sync.school", **SYNC_TASK)
def school_sync_task(self, run_id: int | None = None) -> int | None:
    """Roster and discovery here; the livings' stats as their own tasks."""
    service = functools.partial(school_sync, enqueue=True)
    return _run_task(self, run_id, SyncRun.Kind.SCHOOL, service)


@shared_task(name="sync.recover_dead_runs", acks_late=True)
def dead_runs_recover_task() -> int:
    """Every minute, day and night: fail runs whose heartbeat stopped and start them again."""
    return len(dead_runs_recover())


@shared_task(name="sync.live_tick", acks_late=True)
def live_tick_task() -> int:
    """Every SYNC_LIVE_TICK_SECONDS: queue syncs of live lessons whose numbers are going stale
    and of lessons that just ended (sync/live.py). Cheap: a few queries, no WeCom call; a tick
    that waited in the queue past the next one is dropped (``expire_seconds`` on its schedule)."""
    return len(live_syncs_queue(school=default_school()))
