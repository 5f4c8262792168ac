"""What the sync management commands share: quiet logs, a client that waits like a worker, and
one readable line per outcome."""

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import OperationalError

from school_live.db_internals import migration_status
from school_live.school.models import Living, SyncRun
from school_live.sync.patience import Patience
from school_live.wecom.client import WeComClient

# SyncRun.livingid's column; WeCom's livingids are far shorter.
MAX_LIVINGID = 128


def command_client(*, stderr) -> WeComClient:
    """A client that waits out WeCom's transient errors like a worker does (patience.py), within
    SYNC_WAIT_TOTAL per call, writing one line to ``stderr`` each time it waits, e.g.
    ``WeCom <errcode> frequency limit: waiting 60 s (attempt 2)``. Raises WeComError when WeCom is
    not configured."""
    return WeComClient.from_settings(waiter=Patience(report=stderr.write))


def livingid_problem(livingid: str) -> str:
    """Why ``livingid`` cannot be one (said before WeCom is asked), or ""."""
    if not livingid.strip():
        return "an empty livingid is not a living: give the id from the living's link or the admin."
    if len(livingid) > MAX_LIVINGID:
        return f"a livingid has at most {MAX_LIVINGID} characters; this one has {len(livingid)}."
    return ""


def database_prepare(*, stderr) -> None:
    """Make sure the tables exist before a command reads or writes them.

    A brand-new database (nothing applied yet, as after a clone) is migrated on the spot, so
    ``sync_living`` works as the first command anyone runs. A database with only some migrations
    applied is an operator's decision (other processes may be running old code): stop and say so.
    Messages go to stderr so that a command's stdout (CSV) stays clean.
    """
    try:
        status = migration_status()
    except OperationalError as error:
        # libpq's and sqlite3's first line names the host and database, never the password.
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise CommandError(
            f"Cannot open the database ({reason}). Create it, or point DATABASE_URL at one that "
            "exists, then run this command again."
        ) from None
    if not status.unapplied:
        return
    if status.fresh:
        stderr.write("The database is new: creating its tables first (python manage.py migrate).")
        call_command("migrate", verbosity=0, interactive=False)
        return
    raise CommandError(
        "The database has migrations that are not applied yet. Run `python manage.py migrate`, "
        "then run this command again."
    )


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
