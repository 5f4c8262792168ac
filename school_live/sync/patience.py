"""Waiting out WeCom's transient errors, call by call, in workers and in commands alike.

The client hands every transient failure of a call (busy, the frequency limit, the
concurrency limit, HTTP 5xx and network errors) to its ``waiter``, with no retry of its own
first; ``Patience`` is that waiter. It sleeps and lets the client ask again, or re-raises. With
the Celery task's retry (tasks.py) it is one of the two retry layers of a sync (README, "Retries"):

- the frequency limit: WeCom blocks the API for the rest of the limit window; a minute limit blocks 60 s
  (api.md §9), so asking sooner only burns a call. It waits the whole ``retry_after``.
- the others: exponential backoff from their ``retry_after`` (2 s when WeCom gives none), at most
  30 s a wait.
- one call gives up when its next wait would take its total past SYNC_WAIT_TOTAL (120 s).
- school_live's own rate budget (wecom/budget.py) spent: nothing was sent, and the budget frees
  up within seconds; it waits as told, however often, and that waiting is not counted above.

SYNC_WAIT_SCALE multiplies every wait and the total: tests shrink it, production keeps 1. Each
wait is reported as one line (``report``: the command's stderr, or the worker's log), and the
runs under way keep their heartbeat while it lasts.
"""

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from django.conf import settings

from school_live.sync.liveness import heartbeat, heartbeat_every
from school_live.wecom.client import WeComClient
from school_live.wecom.errors import (
    BUSY,
    CONCURRENCY_LIMIT,
    FREQUENCY_LIMIT,
    HTTP_ERROR,
    NETWORK_ERROR,
    RATE_BUDGET,
    WeComTransientError,
)

logger = logging.getLogger(__name__)

DEFAULT_BACKOFF = 2.0
MAX_BACKOFF = 30.0


def wait_scale() -> float:
    return float(getattr(settings, "SYNC_WAIT_SCALE", 1.0))


def wait_total() -> float:
    return float(getattr(settings, "SYNC_WAIT_TOTAL", 120.0)) * wait_scale()


def wait_seconds(error: WeComTransientError, attempt: int) -> float:
    """How long to wait after the ``attempt``-th failure of one call (1 = the first)."""
    if error.errcode == FREQUENCY_LIMIT:
        seconds = error.retry_after or 60.0
    else:
        seconds = min(MAX_BACKOFF, (error.retry_after or DEFAULT_BACKOFF) * 2 ** (attempt - 1))
    return seconds * wait_scale()


def wait_reason(error: WeComTransientError) -> str:
    """What happened, in a few words: ``WeCom <errcode> frequency limit``."""
    if error.errcode == FREQUENCY_LIMIT:
        return f"WeCom {FREQUENCY_LIMIT} frequency limit"
    if error.errcode == CONCURRENCY_LIMIT:
        return f"WeCom {CONCURRENCY_LIMIT} concurrency limit"
    if error.errcode == BUSY:
        return f"WeCom {BUSY} system busy"
    if error.errcode == RATE_BUDGET:
        return f"rate budget of {error.endpoint} spent"
    if error.errcode == HTTP_ERROR:
        return f"WeCom {error.errmsg}"  # "HTTP 502"
    if error.errcode == NETWORK_ERROR:
        return f"WeCom unreachable ({error.errmsg})"
    return f"WeCom errcode {error.errcode}"


def _seconds_text(seconds: float) -> str:
    return f"{seconds:.0f}" if seconds >= 10 else f"{seconds:.2g}"


class Patience:
    """A WeComClient waiter: ``waiter(error, attempt)`` sleeps, or re-raises ``error``."""

    def __init__(
        self,
        *,
        report: Callable[[str], None] | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.report = report or logger.warning
        self._sleep = sleep
        self._waited = 0.0

    def __call__(self, error: WeComTransientError, attempt: int) -> None:
        if error.errcode == RATE_BUDGET:
            # Real seconds (the shared budget's clock), never scaled; reported once a call.
            if attempt == 1:
                self.report(f"{wait_reason(error)}: waiting (WECOM_CALLS_PER_MINUTE)")
            self._pause(error.retry_after or 1.0)
            return
        if attempt == 1:
            self._waited = 0.0
        seconds = wait_seconds(error, attempt)
        if self._waited + seconds > wait_total():
            logger.info(
                "%s: giving up after waiting %.0f s (%d attempts)",
                wait_reason(error),
                self._waited,
                attempt,
            )
            raise error
        self.report(
            f"{wait_reason(error)}: waiting {_seconds_text(seconds)} s (attempt {attempt + 1})"
        )
        self._waited += seconds
        self._pause(seconds)

    def _pause(self, seconds: float) -> None:
        """Sleep in slices, beating the heartbeat in between, so a long wait is not death."""
        heartbeat(force=True)
        end = time.monotonic() + seconds
        while (left := end - time.monotonic()) > 0:
            self._sleep(min(left, heartbeat_every()))
            heartbeat()


@contextmanager
def patient(client: WeComClient) -> Iterator[WeComClient]:
    """The client waits out transient errors while the block runs, unless it already has a
    waiter (a command's, which reports to its stderr)."""
    if client.waiter is not None:
        yield client
        return
    client.waiter = Patience()
    try:
        yield client
    finally:
        client.waiter = None
