"""A re-sync compares WeCom's snapshot with the stored rows in the database: new, changed and
vanished rows are told apart there, the stored rows are never loaded into Python, and a failure
part-way through the store leaves the previous snapshot whole."""

import os
import subprocess
import sys

import pytest
from django.db import DatabaseError, connection
from django.test.utils import CaptureQueriesContext

from school_live.school.models import (
    Living,
    StudentUnwatch,
    StudentWatch,
    SyncRun,
    VisitorWatch,
    to_unix,
)
from school_live.school.tenancy import default_school
from school_live.sync.living_stats import (
    living_snapshot_fetch,
    living_snapshot_store,
    living_stats_sync,
)
from school_live.sync.upsert import Replaced
from tests.fixtures.sandbox import (
    ended_livingid,
    unwatch_page,
    visitor_row,
    watch_page,
    watch_row,
)
from tests.test_sync import script, stored


def unwatched(student: str, parent: str, *partyids: int) -> dict:
    return {"student_userid": student, "parent_userid": parent, "partyids": list(partyids)}


FIRST_WATCH = [
    watch_page(
        [watch_row("changes", "pa"), watch_row("vanishes"), watch_row("stays", "pc")],
        [visitor_row("v0"), visitor_row("v1")],
    ),
    watch_page([watch_row("stays_too")], [visitor_row("v2")]),
]
FIRST_UNWATCH = [unwatch_page([unwatched("u_changes", "p1", 3), unwatched("u_vanishes", "p2", 3)])]

SECOND_WATCH = [
    watch_page(
        [
            watch_row("changes", "pa", watch_time=7, is_comment=1, leave_time=0),
            watch_row("stays", "pc"),
        ],
        [visitor_row("v0"), visitor_row("v1 renamed")],
    ),
    watch_page([watch_row("new", "pn", partyids=[3, 4]), watch_row("stays_too")]),
]
SECOND_UNWATCH = [unwatch_page([unwatched("u_changes", "p1", 3, 4), unwatched("u_new", "", 3)])]


def fetch_and_store(client, livingid):
    snapshot = living_snapshot_fetch(client=client, livingid=livingid)
    try:
        return living_snapshot_store(school=default_school(), snapshot=snapshot)
    finally:
        snapshot.close()


def pks(model, livingid) -> dict:
    return {
        (row.student_userid, row.parent_userid): row.pk
        for row in model.objects.filter(living__livingid=livingid)
    }


def test_resync_creates_updates_and_deletes_only_what_wecom_changed(sync_sandbox, sync_client):
    state = sync_sandbox.state
    livingid = ended_livingid(state)
    other = sorted(
        lv.livingid
        for lv in state.school.livings.values()
        if lv.livingid != livingid and not lv.foreign and lv.viewers
    )[0]
    living_stats_sync(school=default_school(), client=sync_client, livingid=other)
    other_before = stored(other)
    script(state, livingid, FIRST_WATCH, FIRST_UNWATCH)
    first = fetch_and_store(sync_client, livingid)
    assert first.watches == Replaced(rows=4, created=4, updated=0, deleted=0)
    assert first.visitors == Replaced(rows=3, created=3, updated=0, deleted=0)
    assert first.unwatches == Replaced(rows=2, created=2, updated=0, deleted=0)
    watch_pks, unwatch_pks = pks(StudentWatch, livingid), pks(StudentUnwatch, livingid)

    script(state, livingid, SECOND_WATCH, SECOND_UNWATCH)
    second = fetch_and_store(sync_client, livingid)

    assert second.watches == Replaced(rows=4, created=1, updated=1, deleted=1)
    assert second.visitors == Replaced(rows=2, created=0, updated=1, deleted=1)
    assert second.unwatches == Replaced(rows=2, created=1, updated=1, deleted=1)
    assert second.rows == 8
    rows = {
        (w.student_userid, w.parent_userid): w
        for w in StudentWatch.objects.filter(living__livingid=livingid)
    }
    assert set(rows) == {("changes", "pa"), ("stays", "pc"), ("stays_too", ""), ("new", "pn")}
    changed = rows[("changes", "pa")]
    assert (changed.watch_time, changed.is_comment, changed.leave_time) == (7, True, None)
    assert to_unix(changed.enter_time) == 1700000000
    assert rows[("new", "pn")].partyids == [3, 4]
    # Rows keep their identity: updated in place, unchanged ones untouched.
    assert {key: rows[key].pk for key in rows if key != ("new", "pn")} == {
        key: pk for key, pk in watch_pks.items() if key != ("vanishes", "")
    }
    visitors = VisitorWatch.objects.filter(living__livingid=livingid).order_by("position")
    assert list(visitors.values_list("position", "nickname")) == [(0, "v0"), (1, "v1 renamed")]
    unwatches = dict(
        StudentUnwatch.objects.filter(living__livingid=livingid).values_list(
            "student_userid", "partyids"
        )
    )
    assert unwatches == {"u_changes": [3, 4], "u_new": [3]}
    assert pks(StudentUnwatch, livingid)[("u_changes", "p1")] == unwatch_pks[("u_changes", "p1")]
    # Another living's rows are out of the comparison's scope.
    assert stored(other) == other_before


def test_run_counts_each_key_once_and_the_later_page_wins(sync_sandbox, sync_client):
    livingid = ended_livingid(sync_sandbox.state)
    script(
        sync_sandbox.state,
        livingid,
        [
            watch_page([watch_row("a", "pa", watch_time=1), watch_row("b")]),
            watch_page([watch_row("a", "pa", watch_time=2)], [visitor_row("v")]),
            watch_page([watch_row("a", "pa", watch_time=3), watch_row("c")]),
        ],
        [unwatch_page([unwatched("d", "pd", 3)]), unwatch_page([unwatched("d", "pd", 3, 5)])],
    )
    run = living_stats_sync(school=default_school(), client=sync_client, livingid=livingid)
    assert run.status == SyncRun.Status.SUCCEEDED
    assert run.rows == 3 + 1 + 1
    watches = StudentWatch.objects.filter(living__livingid=livingid)
    assert sorted(watches.values_list("student_userid", "watch_time")) == [
        ("a", 3),
        ("b", 1200),
        ("c", 1200),
    ]
    assert list(StudentUnwatch.objects.values_list("partyids", flat=True)) == [[3, 5]]


def _refuse_writes(table: str) -> None:
    """A trigger that makes the database refuse any write to ``table``: a real failure in the
    middle of the store (the watch rows are already replaced when the unwatched rows fail)."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "CREATE FUNCTION refuse_write() RETURNS trigger LANGUAGE plpgsql AS "
                "$$ BEGIN RAISE EXCEPTION 'refused by the test'; END $$"
            )
            cursor.execute(
                f"CREATE TRIGGER refuse BEFORE INSERT OR UPDATE OR DELETE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION refuse_write()"
            )
        else:
            for event in ("INSERT", "UPDATE", "DELETE"):
                cursor.execute(
                    f"CREATE TRIGGER refuse_{event.lower()} BEFORE {event} ON {table} "
                    "BEGIN SELECT RAISE(ABORT, 'refused by the test'); END"
                )


def test_a_store_failing_half_way_leaves_the_previous_snapshot(sync_sandbox, sync_client):
    state = sync_sandbox.state
    livingid = ended_livingid(state)
    script(state, livingid, FIRST_WATCH, FIRST_UNWATCH)
    living_stats_sync(school=default_school(), client=sync_client, livingid=livingid)
    before = stored(livingid)
    script(state, livingid, SECOND_WATCH, SECOND_UNWATCH)
    _refuse_writes(StudentUnwatch._meta.db_table)

    with pytest.raises(DatabaseError, match="refused by the test"):
        living_stats_sync(school=default_school(), client=sync_client, livingid=livingid)

    assert stored(livingid) == before
    run = SyncRun.objects.filter(livingid=livingid).order_by("pk").last()
    assert run.status == SyncRun.Status.FAILED
    # Nothing staged is left behind for the next sync on this connection.
    with connection.cursor() as cursor:
        for stage in ("stage_watch", "stage_visitor", "stage_unwatch"):
            if connection.vendor == "postgresql":
                cursor.execute("SELECT to_regclass(%s)", [f"pg_temp.{stage}"])
                assert cursor.fetchone()[0] is None
            else:
                cursor.execute("SELECT COUNT(*) FROM temp.sqlite_master WHERE name = %s", [stage])
                assert cursor.fetchone()[0] == 0


def _store_queries(client, livingid) -> list[str]:
    snapshot = living_snapshot_fetch(client=client, livingid=livingid)
    try:
        with CaptureQueriesContext(connection) as captured:
            living_snapshot_store(school=default_school(), snapshot=snapshot)
    finally:
        snapshot.close()
    return [query["sql"] for query in captured]


def test_the_store_never_reads_the_stored_rows_into_python(sync_sandbox, sync_client):
    state = sync_sandbox.state
    livingid = ended_livingid(state)
    small = [watch_page([watch_row(f"s{i}") for i in range(3)], [visitor_row("v")])]
    big = [watch_page([watch_row(f"s{i}", watch_time=i) for i in range(40)], [visitor_row("v")])]
    script(state, livingid, small)
    living_stats_sync(school=default_school(), client=sync_client, livingid=livingid)

    unchanged = _store_queries(sync_client, livingid)
    script(state, livingid, big)
    grown = _store_queries(sync_client, livingid)
    big_unchanged = _store_queries(sync_client, livingid)
    script(state, livingid, small)
    shrunk = _store_queries(sync_client, livingid)

    assert StudentWatch.objects.filter(living__livingid=livingid).count() == 3
    # As many statements for 40 rows as for 3; one more per kind of write: 37 rows inserted and
    # 3 changed (one upsert), then 37 deleted and 3 changed back (a delete and an upsert).
    assert len(big_unchanged) == len(unchanged)
    assert len(grown) == len(unchanged) + 1
    assert len(shrunk) == len(unchanged) + 2
    for sql in unchanged + grown + big_unchanged + shrunk:
        if sql.startswith("SELECT") and "school_studentwatch" in sql:
            assert sql.startswith("SELECT COUNT(*)"), sql  # counted in the database, not read
    assert not any(
        sql.startswith(("INSERT", "DELETE", "UPDATE")) and '"school_studentwatch"' in sql
        for sql in unchanged + big_unchanged
    )
    assert Living.objects.get(livingid=livingid).stats_complete


def test_worker_children_are_recycled_by_tasks_and_memory_set_from_the_environment():
    code = (
        "import django, os; os.environ['DJANGO_SETTINGS_MODULE'] = 'school_live.settings'; "
        "from school_live.celery import app; "
        "print(app.conf.worker_max_tasks_per_child, app.conf.worker_max_memory_per_child)"
    )
    unset = {k: v for k, v in os.environ.items() if not k.startswith("CELERY_WORKER_MAX_")}
    defaults = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=unset
    ).stdout.split()
    assert defaults == ["200", str(150 * 1024)]
    env = {
        **unset,
        "CELERY_WORKER_MAX_TASKS_PER_CHILD": "7",
        "CELERY_WORKER_MAX_MEMORY_PER_CHILD": "123456",
    }
    chosen = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    ).stdout.split()
    assert chosen == ["7", "123456"]
