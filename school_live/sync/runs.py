"""The life of a SyncRun: queued → running → succeeded or failed, with an error an admin can act on.

The error text is ``str(WeComError)`` (written for admins, free of URLs, tokens and secrets) or one
of the messages below; never a traceback or an exception's repr, which may carry a URL.
"""

import datetime as dt
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import DatabaseError
from django.utils import timezone

from school_live.school.models import SyncRun
from school_live.sync.liveness import beating, heartbeat
from school_live.wecom.errors import (
    CONFIG_ERRCODES,
    CONFIG_ERROR,
    TOKEN_ERRCODES,
    WeComConfigError,
    WeComError,
    errcode_transient,
)
from school_live.wecom.redact import redact

logger = logging.getLogger(__name__)

ACTIVE = (SyncRun.Status.QUEUED, SyncRun.Status.RUNNING)
# A running run saves its page count at most this often, so the status page moves without
# costing a write per page.
PROGRESS_EVERY = 1.0
MAX_ERRORS_SHOWN = 5


# Codes about the app or the corp (secret, corp id, trusted IP, the app's API lists), not about
# one living: every call fails the same way until an admin fixes the setup.
APP_WIDE_ERRCODES = CONFIG_ERRCODES | TOKEN_ERRCODES | {CONFIG_ERROR}


class SyncProblem(Exception):
    """A failure whose message is already written for the admin. ``transient``: every unit that
    failed did so on an error that waiting can fix (the task tries the run again later)."""

    def __init__(self, message: str, *, transient: bool = False) -> None:
        super().__init__(message)
        self.transient = transient


class SyncProblemTransient(SyncProblem):
    """Some units failed only on transient errors: worth another round later."""

    def __init__(self, message: str) -> None:
        super().__init__(message, transient=True)


def error_transient(error: BaseException) -> bool:
    """Waiting and trying again can fix this failure."""
    if isinstance(error, WeComError):
        return error.transient
    return bool(getattr(error, "transient", False))


def units_problem(what: str, total: int, errors: dict[str, BaseException]) -> SyncProblem:
    """One failure for the units (classes, teachers, livings) that failed; the others went on.
    Each permanent error says what to fix; transient ones are tried again by the next round."""
    shown = "; ".join(f"{unit}: {error}" for unit, error in list(errors.items())[:MAX_ERRORS_SHOWN])
    more = len(errors) - MAX_ERRORS_SHOWN
    suffix = f" (and {more} more)" if more > 0 else ""
    message = f"{len(errors)} of {total} {what} could not be read: {shown}{suffix}"
    if all(error_transient(error) for error in errors.values()):
        return SyncProblemTransient(message + " — they are tried again by the next round.")
    return SyncProblem(message)


def error_app_wide(error: WeComError) -> bool:
    """Every other WeCom call of this app would fail the same way: stop instead of trying more."""
    return isinstance(error, WeComConfigError) or error.token_problem


def errcode_permanent(errcode: int | None) -> bool:
    """WeCom refused this one living for good (another app's living; a bad
    livingid): asking again gets the same answer until someone changes something.

    Not our negative sentinels (network, HTTP, malformed answer: the next try may pass), not the
    transient codes, and not the app-wide ones (fixing the setup fixes every living at once)."""
    return (
        errcode is not None
        and errcode > 0
        and not errcode_transient(errcode)
        and errcode not in APP_WIDE_ERRCODES
    )


def task_time_limit() -> int:
    """The hard limit after which Celery kills a task: a run older than this has lost its worker."""
    return int(getattr(settings, "CELERY_TASK_TIME_LIMIT", 660))


def queued_stale_after() -> dt.timedelta:
    """A queued run this old lost its message (a worker died between taking it and starting)."""
    return dt.timedelta(seconds=int(getattr(settings, "SYNC_QUEUED_STALE_AFTER", 2 * 3600)))


def run_error_text(error: BaseException) -> str:
    """What the admin reads for a failure: actionable, no secrets, no traceback."""
    if isinstance(error, WeComError | SyncProblem):
        return str(error)
    if isinstance(error, SoftTimeLimitExceeded):
        return (
            f"The sync took longer than its time limit ({task_time_limit()} s) and was stopped; "
            "nothing was changed. It will be tried again by the next sweep."
        )
    if isinstance(error, DatabaseError):
        return redact(f"Storing the data failed ({type(error).__name__}: {error})")[:500]
    return f"Internal error ({type(error).__name__}); see the worker log."


def run_start(run: SyncRun, *, task_id: str = "") -> SyncRun:
    run.status = SyncRun.Status.RUNNING
    run.started_at = run.heartbeat_at = timezone.now()
    run.finished_at = None
    run.error = ""
    run.errcode = None
    run.pages = 0
    run.rows = 0
    if task_id:
        run.task_id = task_id
    run.save(
        update_fields=[
            "status",
            "started_at",
            "heartbeat_at",
            "finished_at",
            "error",
            "errcode",
            "pages",
            "rows",
            "task_id",
        ]
    )
    return run


def run_finish(run: SyncRun, *, error: BaseException | str | None = None) -> SyncRun:
    run.errcode = None
    if error is None:
        run.status = SyncRun.Status.SUCCEEDED
        run.error = ""
    else:
        run.status = SyncRun.Status.FAILED
        run.error = error if isinstance(error, str) else run_error_text(error)
        if isinstance(error, WeComError):
            run.errcode = error.errcode  # the sweep reads it: see sweep.living_error_permanent
    run.finished_at = timezone.now()
    run.save(update_fields=["status", "error", "errcode", "finished_at", "pages", "rows", "living"])
    return run


@contextmanager
def run_recorded(run: SyncRun, *, task_id: str = "") -> Iterator[SyncRun]:
    """Mark the run running; succeeded when the block ends, failed (and re-raised) when it raises."""
    run_start(run, task_id=task_id)
    try:
        with beating(run):
            yield run
    except BaseException as error:
        if not isinstance(error, WeComError | SyncProblem | SoftTimeLimitExceeded):
            logger.exception("sync run %s failed", run.pk)
        run_finish(run, error=error)
        raise
    if run.status == SyncRun.Status.RUNNING:
        run_finish(run)


class Progress:
    """Counts pages while downloading and saves the count now and then."""

    def __init__(self, run: SyncRun) -> None:
        self.run = run
        self._saved = time.monotonic()

    def page(self) -> None:
        self.run.pages += 1
        heartbeat()
        now = time.monotonic()
        if now - self._saved >= PROGRESS_EVERY:
            self._saved = now
            SyncRun.objects.filter(pk=self.run.pk).update(pages=self.run.pages)
