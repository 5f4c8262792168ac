"""What the sync management commands share: quiet logs and one readable line per outcome."""

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from school_live.school.models import Living, SyncRun


@contextmanager
def quiet_logs(verbosity: int) -> Iterator[None]:
    """Below verbosity 2 the command's own lines are the whole story: no log records (which may
    carry tracebacks) on stderr. The worker keeps its logs; run with -v 2 to see them here."""
    if verbosity >= 2:
        yield
        return
    previous = logging.root.manager.disable
    logging.disable(logging.CRITICAL)
    try:
        yield
    finally:
        logging.disable(previous)


def living_summary(living: Living, run: SyncRun) -> str:
    """e.g. ``lv123: 2 pages, 57 watch rows, 3 visitors, 12 unwatched — complete``."""
    state = "complete" if living.stats_complete else "not complete (the living has not ended)"
    return (
        f"{living.livingid}: {run.pages} pages, {living.watches.count()} watch rows, "
        f"{living.visitors.count()} visitors, {living.unwatches.count()} unwatched — {state}"
    )


def run_summary(run: SyncRun) -> str:
    duration = run.duration
    took = f" in {duration.total_seconds():.1f} s" if duration else ""
    line = f"{run.get_kind_display()}: {run.pages} pages, {run.rows} rows — {run.get_status_display()}{took}"
    if run.error:
        line += f": {run.error}"
    return line
