"""Shared fixtures and the session's hooks. Every module in tests/fixtures/ is a plugin: the
people of a small school, the WeCom sandbox as a real server on 127.0.0.1 (sandbox.py, the one
module that starts it), a real Celery worker, and whatever later areas add. pytest hooks live
here, not in the plugins."""

import shutil
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
    # What pages keep in memory (the class page's warnings) is keyed by versions kept in the
    # default cache, which start again with each test: so does it.
    caches["pages"].clear()
    yield


def pytest_collection_modifyitems(config, items):
    """A worker is another process: it must see the test's rows, so on SQLite the test database
    is a file (WAL) instead of memory — only in sessions that run worker tests, or tests whose
    threads write at once (an in-memory database shared between connections answers "database
    table is locked" at once instead of waiting). PostgreSQL's test database is shared as it is."""
    if not any(
        item.get_closest_marker("worker") or item.get_closest_marker("threads") for item in items
    ):
        return
    from django.db import connections

    from tests.fixtures.worker import WORKER_DB_DIR

    settings_dict = connections["default"].settings_dict
    if settings_dict["ENGINE"] == "django.db.backends.sqlite3":
        WORKER_DB_DIR.mkdir(parents=True, exist_ok=True)
        settings_dict.setdefault("TEST", {})["NAME"] = str(WORKER_DB_DIR / "test.sqlite3")


def pytest_sessionfinish(session, exitstatus):
    # pytest-django has dropped the test database file by now; remove its folder too.
    # (Imported here: a plugin imported before pytest registers it loses assertion rewriting.)
    from tests.fixtures.worker import WORKER_DB_DIR

    shutil.rmtree(WORKER_DB_DIR, ignore_errors=True)
