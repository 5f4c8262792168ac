"""One sync per living at a time, across every process and host.

The lock is an atomic ``cache.add`` in the shared Django cache (the database cache by default,
Redis in production), holding the id of the run that owns it. It expires after the task's hard
time limit: a worker killed mid-sync cannot hold it longer than Celery would have let it run, and
that limit is below Redis's visibility timeout, so a redelivered task finds the lock free.
"""

from collections.abc import Iterator
from contextlib import contextmanager

from django.core.cache import cache

from school_live.sync.runs import task_time_limit


class LivingLocked(Exception):
    """Another run is syncing this living right now."""

    def __init__(self, livingid: str, holder: int | None) -> None:
        self.livingid = livingid
        self.holder = holder
        super().__init__(f"living {livingid} is being synced by run {holder}")


def living_lock_key(livingid: str) -> str:
    return f"sync:living:{livingid}"


def living_lock_holder(livingid: str) -> int | None:
    return cache.get(living_lock_key(livingid))


@contextmanager
def living_lock(livingid: str, *, run_id: int) -> Iterator[None]:
    key = living_lock_key(livingid)
    if not cache.add(key, run_id, timeout=task_time_limit()):
        raise LivingLocked(livingid, cache.get(key))
    try:
        yield
    finally:
        # Only release our own lock: if ours expired, someone else may hold the key now.
        if cache.get(key) == run_id:
            cache.delete(key)
