"""How the rate budget counts (wecom/budget.py) follows from what the cache backend can do, not
from its module's name (issue 21): a backend with a native ``incr`` adds atomically; Django's
two-step ``incr`` gets a lock. ``django.core.cache.cache`` (what WeComClient passes) is judged
by the backend it stands for."""

import pytest
from django.core.cache import cache as default_cache
from django.core.cache.backends.db import DatabaseCache
from django.core.cache.backends.filebased import FileBasedCache
from django.core.cache.backends.locmem import LocMemCache
from django.core.cache.backends.redis import RedisCache
from django.test import override_settings

from school_live.wecom.budget import RateBudget, atomic_incr

LOCMEM = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
DBCACHE = {
    "default": {
        "BACKEND": "django.core.cache.backends.db.DatabaseCache",
        "LOCATION": "school_live_cache",
    }
}


@pytest.mark.parametrize(
    ("backend", "atomic"),
    [
        (RedisCache("redis://127.0.0.1:1/0", {}), True),
        (LocMemCache("budget-test", {}), True),
        (DatabaseCache("school_live_cache", {}), False),
        (FileBasedCache("/nonexistent/budget-test", {}), False),
    ],
)
def test_a_backend_counts_atomically_when_it_has_its_own_incr(backend, atomic):
    assert atomic_incr(backend) is atomic


def test_the_default_cache_is_judged_by_its_backend():
    # WeComClient passes django.core.cache.cache, a proxy whose own type says nothing.
    with override_settings(CACHES=LOCMEM):
        assert atomic_incr(default_cache) is True
    with override_settings(CACHES=DBCACHE):
        assert atomic_incr(default_cache) is False


def test_a_budget_on_the_default_local_memory_cache_grants_exactly_its_calls():
    with override_settings(CACHES=LOCMEM):
        budget = RateBudget(cache=default_cache, scope="t", per_minute=30, clock=lambda: 1000.0)
        granted = [budget.take("api") == 0 for _ in range(40)]
    assert granted == [True] * 30 + [False] * 10
