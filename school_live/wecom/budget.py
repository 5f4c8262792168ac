"""One rate budget per WeCom API for every process: workers, web processes and commands.

WeCom allows a corp at most 10,000 calls a minute to one API (api.md §9) and answers 45009 past
that, blocking the API for 60 s. Each process alone cannot know what the others call, so calls
are counted in the shared Django cache (Redis in production, the database cache embedded), per
corp and API, in buckets of BUCKET seconds. A call may go when the current bucket and the
WINDOW_BUCKETS before it, which together cover more than any 60 s, hold fewer calls than
WECOM_CALLS_PER_MINUTE: so no minute, however it is cut, sees more than the budget.

Counting is an atomic add: ``cache.incr`` where the backend adds natively (Redis, memcached,
local memory); Django's own two-step ``incr`` (a read and a write, the database and file caches)
is made atomic by a short ``cache.add`` lock. To keep the cache's work small a
process takes its calls in small batches (``batch``) and spends them itself before the bucket
ends; a batch left over when the bucket ends is counted and not used, which only errs on the
safe side.
"""

import threading
import time
from collections.abc import Callable

from django.conf import settings
from django.core.cache.backends.base import BaseCache

from school_live.wecom.single_flight import lock_wait

BUCKET = 10  # seconds
WINDOW_BUCKETS = 6  # the buckets before the current one that a call still counts against
LOCK_TIMEOUT = 5
LOCK_POLL = 0.005
DEFAULT_CALLS_PER_MINUTE = 5000

# (scope, api) → (bucket, calls this process took there and has not spent yet), shared by the
# process's clients.
_taken: dict[tuple[str, str], tuple[int, int]] = {}
_taken_lock = threading.Lock()


def calls_per_minute() -> int:
    return int(getattr(settings, "WECOM_CALLS_PER_MINUTE", DEFAULT_CALLS_PER_MINUTE))


def atomic_incr(cache) -> bool:
    """Does this cache's ``incr`` add atomically across processes? Django's backends that have a
    native increment override ``BaseCache.incr``; the others inherit its get-then-set (Django's
    cache docs, "Cache key increment"). ``cache`` may be ``django.core.cache.cache``: its
    ``incr`` is the configured backend's."""
    return getattr(cache.incr, "__func__", BaseCache.incr) is not BaseCache.incr


class RateBudget:
    """The calls-per-minute budget of one corp (``scope``); ``take(api)`` is asked before each
    call and answers how long to wait first (0 when the call may go now)."""

    def __init__(
        self,
        *,
        cache,
        scope: str,
        per_minute: int | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.cache = cache
        self.scope = scope
        self.per_minute = calls_per_minute() if per_minute is None else per_minute
        self.clock = clock
        # Batches of about a hundredth of the budget, at most 10: a few calls' worth.
        self.batch = max(1, min(10, self.per_minute // 100))
        self._atomic = atomic_incr(cache)

    def _key(self, api: str, bucket: int) -> str:
        return f"wecom:budget:{self.scope}:{api}:{bucket}"

    def take(self, api: str) -> float:
        """Count one call to ``api``; returns 0 if it may go now, else the seconds to wait
        before asking again (the call was not counted)."""
        if self.per_minute <= 0:
            return 0.0
        now = self.clock()
        bucket = int(now // BUCKET)
        with _taken_lock:
            held_bucket, held = _taken.get((self.scope, api), (bucket, 0))
            if held_bucket == bucket and held > 0:
                _taken[(self.scope, api)] = (bucket, held - 1)
                return 0.0
        granted = self._draw(api, bucket)
        if granted <= 0:
            return max(0.05, (bucket + 1) * BUCKET - now)
        with _taken_lock:
            _taken[(self.scope, api)] = (bucket, granted - 1)
        return 0.0

    def _draw(self, api: str, bucket: int) -> int:
        """Take up to ``batch`` calls from the shared count; returns how many were granted."""
        key = self._key(api, bucket)
        previous = [self._key(api, bucket - n) for n in range(1, WINDOW_BUCKETS + 1)]
        timeout = BUCKET * (WINDOW_BUCKETS + 2)
        counted = self._incr(key, self.batch, timeout)
        before = sum(v for v in self.cache.get_many(previous).values() if isinstance(v, int))
        over = counted + before - self.per_minute
        granted = self.batch - max(0, over)
        if granted < self.batch:
            give_back = self.batch - max(0, granted)
            self._incr(key, -give_back, timeout)
        return max(0, granted)

    def _incr(self, key: str, delta: int, timeout: int) -> int:
        if self._atomic:
            while True:
                self.cache.add(key, 0, timeout=timeout)
                try:
                    return self.cache.incr(key, delta)
                except ValueError:  # expired between add and incr
                    continue
        return self._locked_incr(key, delta, timeout)

    def _locked_incr(self, key: str, delta: int, timeout: int) -> int:
        lock = f"{key}:lock"
        # Not taken in time: its holder died and its lock is about to expire, so count anyway.
        locked = lock_wait(
            self.cache, lock, timeout=LOCK_TIMEOUT, wait=LOCK_TIMEOUT, poll=LOCK_POLL
        )
        try:
            value = (self.cache.get(key) or 0) + delta
            self.cache.set(key, value, timeout=timeout)
            return value
        finally:
            if locked:
                self.cache.delete(lock)
