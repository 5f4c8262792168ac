"""One sync per living at a time, across every process and host.

A living is its school's livingid (a livingid is unique only within its corp): the key names both.

The lock is an atomic ``cache.add`` in the shared Django cache (the database cache by default,
Redis in production), holding the id of the run that owns it. A run that finds the lock held by
its own id takes it over: that is the same run again, redelivered after its worker was killed
(Celery gives an unacknowledged task back), never "someone else is syncing". Two deliveries of one
run cannot overlap: Redis redelivers only after its visibility timeout, which is longer than the
task's hard time limit.

The lock expires after that hard limit, so a worker killed mid-sync cannot hold it longer than
Celery would have let it run; the dead-run check (sync/liveness.py) releases it sooner, when it
fails the run whose heartbeat stopped.
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


def living_lock_key(livingid: str, *, school_id: int) -> str:
    return f"sync:living:{school_id}:{livingid}"


def living_lock_holder(livingid: str, *, school_id: int) -> int | None:
    return cache.get(living_lock_key(livingid, school_id=school_id))


def living_lock_release(livingid: str, *, school_id: int, run_id: int) -> None:
    """Drop the lock if ``run_id`` holds it (a dead run's, so its living can be synced again)."""
    key = living_lock_key(livingid, school_id=school_id)
    if cache.get(key) == run_id:
        cache.delete(key)


@contextmanager
def living_lock(livingid: str, *, school_id: int, run_id: int) -> Iterator[None]:
    key = living_lock_key(livingid, school_id=school_id)
    if not cache.add(key, run_id, timeout=task_time_limit()):
        holder = cache.get(key)
        if holder != run_id:
            raise LivingLocked(livingid, holder)
        cache.set(key, run_id, timeout=task_time_limit())  # our own, redelivered: take it over
    try:
        yield
    finally:
        # Only release our own lock: if ours expired, someone else may hold the key now.
        living_lock_release(livingid, school_id=school_id, run_id=run_id)
