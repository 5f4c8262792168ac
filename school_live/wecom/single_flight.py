"""One process at a time: a value refreshed by one while the others wait, and plain locks.

The access token (client.py) and the JS-SDK tickets (jsapi.py) each cost a WeCom call that WeCom
counts (a token a few thousand times a day, a ticket 400 or 100 an hour), so when the cached value
is missing every process would fetch at once. ``single_flight`` lets one fetch under an atomic
``cache.add`` lock while the others poll the cache for what it stored. ``lock_wait`` is the same
lock on its own, for a short section only one process may run (the budget's count, a reminder).
"""

import time
import uuid
from collections.abc import Callable
from typing import Any

POLL = 0.05


def single_flight(
    cache,
    *,
    key: str,
    lock: str,
    fetch: Callable[[], Any],
    lock_timeout: float,
    wait: float,
    on_timeout: Callable[[], Any],
    stale: Any = None,
    poll: float = POLL,
) -> Any:
    """The value under ``key`` (a value equal to ``stale`` counts as missing).

    When it is missing, the process that takes ``lock`` calls ``fetch()``, which stores the value
    under ``key`` and returns it; the lock expires after ``lock_timeout`` seconds should its holder
    die. Another process polls the cache for up to ``wait`` seconds, then returns
    ``on_timeout()`` (which fetches anyway or raises)."""

    def fresh():
        value = cache.get(key)
        return value if value and value != stale else None

    deadline = time.monotonic() + wait
    owner = uuid.uuid4().hex
    while True:
        if (value := fresh()) is not None:
            return value
        if cache.add(lock, owner, timeout=lock_timeout):
            try:
                if (value := fresh()) is not None:
                    return value
                return fetch()
            finally:
                if cache.get(lock) == owner:
                    cache.delete(lock)
        if time.monotonic() >= deadline:
            return on_timeout()
        time.sleep(poll)


def lock_wait(cache, key: str, *, timeout: float, wait: float, value: Any = 1, poll: float = POLL):
    """Take the lock ``key`` (an atomic ``cache.add`` that expires after ``timeout`` seconds),
    waiting up to ``wait`` seconds for its holder; whether it was taken."""
    deadline = time.monotonic() + wait
    while not cache.add(key, value, timeout=timeout):
        if time.monotonic() >= deadline:
            return False
        time.sleep(poll)
    return True
