"""The one single-flight refresh of a cached value (wecom/single_flight.py): the access token
and the JS-SDK tickets both go through it, so each fetches once however many ask at a time."""

import threading

import pytest
from django.core.cache import cache
from django.core.cache.backends.locmem import LocMemCache

from school_live.wecom.errors import BUSY, WeComTransientError
from school_live.wecom.jsapi import CORP, TicketStore
from school_live.wecom.single_flight import lock_wait, single_flight


@pytest.fixture
def mem():
    """A cache of this process only, which threads can share (the helper takes any cache)."""
    memory = LocMemCache("single-flight-test", {})
    yield memory
    memory.clear()


def _flight(mem, fetch, *, wait=5.0, on_timeout=None, stale=None):
    return single_flight(
        mem,
        key="test:value",
        lock="test:lock",
        fetch=fetch,
        lock_timeout=30,
        wait=wait,
        on_timeout=on_timeout or (lambda: "timed out"),
        stale=stale,
        poll=0.01,
    )


def test_a_cached_value_is_returned_without_fetching(mem):
    mem.set("test:value", "v1", 60)
    assert _flight(mem, lambda: pytest.fail("fetched")) == "v1"


def test_a_stale_value_counts_as_missing_and_the_lock_is_released(mem):
    mem.set("test:value", "old", 60)

    def fetch():
        mem.set("test:value", "new", 60)
        return "new"

    assert _flight(mem, fetch, stale="old") == "new"
    assert mem.get("test:lock") is None


def test_one_fetch_while_others_wait_for_its_value(mem):
    fetched = []
    started = threading.Event()
    release = threading.Event()

    def fetch():
        fetched.append(1)
        started.set()
        release.wait(5)
        mem.set("test:value", "fresh", 60)
        return "fresh"

    results = []
    first = threading.Thread(target=lambda: results.append(_flight(mem, fetch)))
    first.start()
    assert started.wait(5)
    others = [
        threading.Thread(target=lambda: results.append(_flight(mem, fetch))) for _ in range(3)
    ]
    for thread in others:
        thread.start()
    release.set()
    for thread in [first, *others]:
        thread.join(10)
    assert results == ["fresh"] * 4 and fetched == [1]


def test_a_lock_held_too_long_gives_the_waiters_answer(mem):
    mem.add("test:lock", "someone else", 30)
    assert (
        _flight(mem, lambda: pytest.fail("fetched under another's lock"), wait=0.05) == "timed out"
    )
    assert mem.get("test:lock") == "someone else"  # not ours to release


def test_the_token_is_fetched_anyway_when_its_lock_outlives_the_wait(
    wecom_settings, wecom_sandbox, db
):
    from school_live.wecom.client import WeComClient

    with WeComClient.from_settings(token_lock_wait=0.05) as client:
        cache.add(client._lock_key, "a hung process", 30)
        assert client.get_access_token()


def test_a_ticket_is_refused_as_busy_when_its_lock_outlives_the_wait(db):
    class Client:
        base_url, corp_id, agent_id = "http://sandbox.invalid", "wwcorp", 1000002

        def __init__(self):
            self.cache = cache

        def get_jsapi_ticket(self, *, agent):
            pytest.fail("fetched under another's lock")

    store = TicketStore(Client(), lock_wait=0.05)
    cache.add(store._key(CORP, "lock"), "a hung process", 30)
    with pytest.raises(WeComTransientError) as caught:
        store.ticket(CORP)
    assert caught.value.errcode == BUSY


def test_a_lock_is_taken_when_free_and_refused_after_the_wait(mem):
    assert lock_wait(mem, "test:plain", timeout=30, wait=0)
    assert not lock_wait(mem, "test:plain", timeout=30, wait=0.05, poll=0.01)
    mem.delete("test:plain")
    assert lock_wait(mem, "test:plain", timeout=30, wait=0.05, poll=0.01)
