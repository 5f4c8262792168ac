"""Shared fixtures. Every module in tests/fixtures/ is a plugin: the people of a small school,
the WeCom sandbox as a real server on 127.0.0.1, and whatever later areas add."""

from pathlib import Path

import pytest
from django.core.cache import caches

pytest_plugins = sorted(
    f"tests.fixtures.{path.stem}"
    for path in (Path(__file__).parent / "fixtures").glob("*.py")
    if path.stem != "__init__"
)


@pytest.fixture(autouse=True)
def _fresh_shared_cache(settings):
    """Redis keeps the cache between tests (tokens, sync locks); the database cache is rolled back
    with each test's transaction. Start every test with an empty Redis cache, as a fresh process
    would find it."""
    backend = settings.CACHES["default"]["BACKEND"]
    if "redis" in backend.lower():
        caches["default"].clear()
    yield
