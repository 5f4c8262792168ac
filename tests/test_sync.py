"""The sync pipeline against the WeCom sandbox served on 127.0.0.1: every page, every failure,
and what is left stored when WeCom breaks part-way."""

import csv
import io
import re

import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.db import connection
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
from school_live.sync.living_stats import living_stats_sync
from school_live.sync.locks import living_lock_key
from school_live.wecom.client import WeComClient
from school_live.wecom.errors import WeComDataError, WeComError, WeComTransientError
from tests.fixtures.sandbox import (
    SYNC_SECRET,
    ended_livingid,
    foreign_livingid,
    live_livingid,
    unwatch_page,
    visitor_row,
    watch_page,
    watch_row,
)

WATCH = "/cgi-bin/school/living/get_watch_stat"


def served_rows(client: WeComClient, livingid: str) -> tuple[list, list, list]:
    """What the sandbox answers right now: (students, visitors, unwatched) over all pages."""
    students, visitors, unwatched = [], [], []
    for page in client.iter_watch_stat(livingid):
        students += page.students
        visitors += page.visitors
    for page in client.iter_unwatch_stat(livingid):
        unwatched += page.students
    return students, visitors, unwatched


def stored(livingid: str) -> dict:
    """Everything stored for the living, comparable across syncs."""
    living = Living.objects.get(livingid=livingid)
    return {
        "watches": sorted(
            StudentWatch.objects.filter(living=living).values_list(
                "student_userid",
                "parent_userid",
                "partyids",
                "watch_time",
                "enter_time",
                "leave_time",
                "is_comment",
            )
        ),
        "visitors": list(
            VisitorWatch.objects.filter(living=living)
            .order_by("position")
            .values_list("position", "nickname", "watch_time", "is_comment")
        ),
        "unwatches": sorted(
            StudentUnwatch.objects.filter(living=living).values_list(
                "student_userid", "parent_userid", "partyids"
            )
        ),
        "stats_synced_at": living.stats_synced_at,
        "stats_complete": living.stats_complete,
    }


def run_command(*args) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = 0
    try:
        call_command(*args, stdout=out, stderr=err)
    except SystemExit as exit_:
        code = exit_.code
    return code, out.getvalue(), err.getvalue()


def assert_clean(stderr: str, sandbox) -> None:
    assert "Traceback" not in stderr
    assert SYNC_SECRET not in stderr
    for token in list(sandbox.state._tokens):
        assert token not in stderr


# --- one living's statistics --------------------------------------------------------------------


def test_every_page_is_stored_as_wecom_sent_it(sync_sandbox, sync_client):
    livingid = ended_livingid(sync_sandbox.state)
    students, visitors, unwatched = served_rows(sync_client, livingid)
    assert len(students) > 5  # several pages of 5, chained by opaque keys

    run = living_stats_sync(school=default_school(), client=sync_client, livingid=livingid)

    assert run.status == SyncRun.Status.SUCCEEDED
    assert run.error == ""
    assert run.pages >= 3
    assert run.rows == len(students) + len(visitors) + len(unwatched)
    living = Living.objects.get(livingid=livingid)
    assert run.living == living
    assert living.stats_complete and living.stats_synced_at and living.info_synced_at
    info = sync_sandbox.state.living(livingid)
    assert to_unix(living.living_start) == info.living_start
    assert living.range_partyids == list(info.partyids)
    rows = {
        (w.student_userid, w.parent_userid): w for w in StudentWatch.objects.filter(living=living)
    }
    assert len(rows) == len(students)
    for record in students:
        row = rows[(record.student_userid, record.parent_userid)]
        assert row.partyids == list(record.partyids)
        assert row.watch_time == record.watch_time
        assert to_unix(row.enter_time) == record.enter_time
        assert to_unix(row.leave_time) == record.leave_time
        assert row.is_comment == record.is_comment
    assert [v.nickname for v in living.visitors.order_by("position")] == [
        v.nickname for v in visitors
    ]
    assert living.unwatches.count() == len(unwatched)


def test_living_still_live_is_not_complete(sync_sandbox, sync_client):
    livingid = live_livingid(sync_sandbox.state)
    living_stats_sync(school=default_school(), client=sync_client, livingid=livingid)
    living = Living.objects.get(livingid=livingid)
    assert living.stats_synced_at is not None
    assert not living.stats_complete


def test_classes_are_the_known_classes_of_the_range(sync_sandbox, sync_client):
    from school_live.sync.roster import roster_sync

    roster_sync(school=default_school(), client=sync_client)
    livingid = ended_livingid(sync_sandbox.state)
    living_stats_sync(school=default_school(), client=sync_client, livingid=livingid)
    living = Living.objects.get(livingid=livingid)
    assert sorted(living.classes.values_list("wecom_id", flat=True)) == sorted(
        sync_sandbox.state.living(livingid).partyids
    )


def test_token_expiring_mid_pagination_is_refreshed(sync_sandbox):
    state = sync_sandbox.state
    livingid = ended_livingid(state)

    class ExpiresAfterFirstPage(WeComClient):
        def iter_watch_stat(self, livingid):
            for number, page in enumerate(super().iter_watch_stat(livingid)):
                if number == 0:
                    state.expire_tokens()
                yield page

    client = ExpiresAfterFirstPage(base_url=sync_sandbox.url, retry_base_delay=0.01)
    run = living_stats_sync(school=default_school(), client=client, livingid=livingid)
    assert run.status == SyncRun.Status.SUCCEEDED
    assert state.call_count("/cgi-bin/gettoken") == 2
    assert StudentWatch.objects.filter(living__livingid=livingid).count() == len(
        served_rows(client, livingid)[0]
    )


@pytest.mark.parametrize("kind,errcode", [("errcode", -1), ("http502", 0)])
def test_busy_and_bad_gateway_are_retried_by_the_client(sync_sandbox, sync_client, kind, errcode):
    livingid = ended_livingid(sync_sandbox.state)
    sync_sandbox.state.inject(livingid, page=2, kind=kind, errcode=errcode, times=2)
    run = living_stats_sync(school=default_school(), client=sync_client, livingid=livingid)
    assert run.status == SyncRun.Status.SUCCEEDED
    assert Living.objects.get(livingid=livingid).stats_complete


def test_frequency_limit_mid_sync_is_waited_out(sync_sandbox, sync_client, caplog):
    livingid = ended_livingid(sync_sandbox.state)
    sync_sandbox.state.inject(livingid, page=2, errcode=45009, times=1)

    run = living_stats_sync(school=default_school(), client=sync_client, livingid=livingid)

    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    assert "WeCom 45009 frequency limit: waiting 0.06 s (attempt 2)" in caplog.text
    students, _visitors, _unwatched = served_rows(sync_client, livingid)
    keys = {(s.student_userid, s.parent_userid) for s in students}
    assert len(stored(livingid)["watches"]) == len(keys) > 0
    assert Living.objects.get(livingid=livingid).stats_complete


def test_persistent_frequency_limit_fails_the_run_and_the_task_retries_it(sync_sandbox):
    from school_live.sync.tasks import living_stats_task

    livingid = ended_livingid(sync_sandbox.state)
    sync_sandbox.state.inject(livingid, page=2, errcode=45009, times=3)
    # Service level: after waiting out two windows the run records the limit and the error
    # goes up to the task.
    with pytest.raises(WeComTransientError):
        living_stats_sync(school=default_school(), livingid=livingid)
    failed = SyncRun.objects.get(livingid=livingid)
    assert failed.status == SyncRun.Status.FAILED
    assert "45009" in failed.error and failed.errcode == 45009
    assert sync_sandbox.state.call_count(WATCH) == 4  # page 1, then page 2 three times
    assert not Living.objects.filter(livingid=livingid).exists()

    # Task level: the task retries (eagerly here) and the same run succeeds.
    sync_sandbox.state.inject(livingid, page=2, errcode=45009, times=4)
    run = SyncRun.objects.create(
        school=default_school(), kind=SyncRun.Kind.LIVING, livingid=livingid
    )
    living_stats_task.apply(args=[run.pk])
    run.refresh_from_db()
    assert run.status == SyncRun.Status.SUCCEEDED
    assert run.error == ""


def test_task_retry_waits_at_least_wecoms_window():
    from school_live.sync.tasks import retry_countdown

    limit = WeComTransientError(45009, "api freq out of limit", "school/living/get_watch_stat")
    busy = WeComTransientError(-1, "system busy", "school/living/get_watch_stat")
    assert all(retry_countdown(limit, retries) >= 60 for retries in range(5))
    assert all(0 <= retry_countdown(busy, 0) <= 15 for _ in range(20))


def test_permanent_error_is_not_retried(sync_sandbox):
    from school_live.sync.tasks import living_stats_task

    livingid = foreign_livingid(sync_sandbox.state)
    run = SyncRun.objects.create(
        school=default_school(), kind=SyncRun.Kind.LIVING, livingid=livingid
    )
    result = living_stats_task.apply(args=[run.pk])
    assert isinstance(result.result, WeComError)
    run.refresh_from_db()
    assert run.status == SyncRun.Status.FAILED
    assert "92008" in run.error and "本应用创建" in run.error
    assert sync_sandbox.state.call_count("/cgi-bin/school/living/get_living_info") == 1


def script(state, livingid, watch_pages, unwatch_pages=None):
    state.script_watch_pages(livingid, watch_pages)
    state.script_unwatch_pages(livingid, unwatch_pages or [unwatch_page()])


def test_rows_without_parent_and_hostile_nicknames_are_stored_verbatim(sync_sandbox, sync_client):
    livingid = ended_livingid(sync_sandbox.state)
    hostile = ["<script>alert(1)</script>", '=HYPERLINK("x")', "静待花开", "静待花开", "😀\n换行"]
    script(
        sync_sandbox.state,
        livingid,
        [
            watch_page(
                [watch_row("own_account", None), watch_row("with_mama", "mama")],
                [visitor_row(n) for n in hostile],
            )
        ],
    )
    living_stats_sync(school=default_school(), client=sync_client, livingid=livingid)
    living = Living.objects.get(livingid=livingid)
    assert set(living.watches.values_list("student_userid", "parent_userid")) == {
        ("own_account", ""),
        ("with_mama", "mama"),
    }
    assert list(living.visitors.order_by("position").values_list("nickname", flat=True)) == hostile


def test_row_repeated_on_two_pages_is_stored_once(sync_sandbox, sync_client):
    livingid = ended_livingid(sync_sandbox.state)
    script(
        sync_sandbox.state,
        livingid,
        [
            watch_page([watch_row("a", "pa"), watch_row("b")]),
            watch_page([watch_row("b"), watch_row("a", "pb"), watch_row("c", watch_time=5)]),
        ],
        [unwatch_page([{"student_userid": "d", "parent_userid": "pd", "partyids": [3]}])] * 2,
    )
    run = living_stats_sync(school=default_school(), client=sync_client, livingid=livingid)
    assert run.rows == 4 + 1
    assert sorted(
        StudentWatch.objects.filter(living__livingid=livingid).values_list(
            "student_userid", "parent_userid"
        )
    ) == [("a", "pa"), ("a", "pb"), ("b", ""), ("c", "")]
    assert StudentUnwatch.objects.filter(living__livingid=livingid).count() == 1


def test_empty_and_missing_arrays_and_an_empty_page_before_the_last(sync_sandbox, sync_client):
    livingid = ended_livingid(sync_sandbox.state)
    script(
        sync_sandbox.state,
        livingid,
        [
            {"stat_infoes": {"students": [watch_row("a")]}},  # no visitors array
            {},  # no stat_infoes at all
            watch_page([], []),  # an empty page, ending 0, before the last
            {"stat_infoes": {"students": None, "visitors": [visitor_row("v")]}},
            watch_page([watch_row("z")]),
        ],
        [unwatch_page([]), {}],
    )
    run = living_stats_sync(school=default_school(), client=sync_client, livingid=livingid)
    assert run.status == SyncRun.Status.SUCCEEDED
    assert run.pages == 5 + 2
    living = Living.objects.get(livingid=livingid)
    assert sorted(living.watches.values_list("student_userid", flat=True)) == ["a", "z"]
    assert living.visitors.count() == 1
    assert living.unwatches.count() == 0


def test_ending_1_stops_even_with_a_next_key(sync_sandbox, sync_client):
    livingid = ended_livingid(sync_sandbox.state)
    # Two pages scripted, but the first already says ending 1 (with a next_key set).
    script(
        sync_sandbox.state,
        livingid,
        [
            watch_page([watch_row("a")], ending=1, next_key="more-if-you-ask"),
            watch_page([watch_row("never")]),
        ],
    )
    living_stats_sync(school=default_school(), client=sync_client, livingid=livingid)
    assert list(
        StudentWatch.objects.filter(living__livingid=livingid).values_list(
            "student_userid", flat=True
        )
    ) == ["a"]
    assert sync_sandbox.state.call_count(WATCH) == 1


def test_resync_follows_wecoms_changed_numbers(sync_sandbox, sync_client):
    state = sync_sandbox.state
    livingid = ended_livingid(state)
    living_stats_sync(school=default_school(), client=sync_client, livingid=livingid)
    first = stored(livingid)
    living = state.living(livingid)
    changed, gone = list(
        dict.fromkeys(v.student_userid for v in living.viewers if v.student_userid)
    )[:2]
    state.update_watch(livingid, changed, watch_time=7, is_comment=1)
    state.remove_watcher(livingid, gone)
    state.add_watcher(livingid, "newcomer_not_on_roster", watch_time=99)

    living_stats_sync(school=default_school(), client=sync_client, livingid=livingid)

    second = stored(livingid)
    assert second["stats_synced_at"] > first["stats_synced_at"]
    rows = {(r[0], r[1]): r for r in second["watches"]}
    assert all(r[3] == 7 and r[6] for key, r in rows.items() if key[0] == changed)
    assert not any(key[0] == gone for key in rows)
    assert rows[("newcomer_not_on_roster", "")][3] == 99
    assert (
        len(second["watches"])
        == len(first["watches"]) - sum(1 for r in first["watches"] if r[0] == gone) + 1
    )
    students = served_rows(sync_client, livingid)[0]
    assert len(second["watches"]) == len({(s.student_userid, s.parent_userid) for s in students})


def test_resync_of_an_unchanged_living_changes_nothing(sync_sandbox, sync_client):
    livingid = ended_livingid(sync_sandbox.state)
    living_stats_sync(school=default_school(), client=sync_client, livingid=livingid)
    first = stored(livingid)
    ids = sorted(StudentWatch.objects.values_list("pk", flat=True))
    with CaptureQueriesContext(connection) as queries:
        living_stats_sync(school=default_school(), client=sync_client, livingid=livingid)
    writes = [q["sql"] for q in queries if q["sql"].startswith(("INSERT", "DELETE"))]
    assert not any("school_studentwatch" in sql or "school_visitorwatch" in sql for sql in writes)
    second = stored(livingid)
    assert {k: v for k, v in first.items() if k != "stats_synced_at"} == {
        k: v for k, v in second.items() if k != "stats_synced_at"
    }
    assert sorted(StudentWatch.objects.values_list("pk", flat=True)) == ids


def test_resync_repairs_rows_changed_in_the_database(sync_sandbox, sync_client):
    """The unchanged-row check compares raw stored values: rows written another way (the ORM,
    with microseconds, empty lists, no times) must still be told apart and rewritten."""
    import datetime as dt

    livingid = ended_livingid(sync_sandbox.state)
    living_stats_sync(school=default_school(), client=sync_client, livingid=livingid)
    first = stored(livingid)
    rows = list(StudentWatch.objects.filter(living__livingid=livingid).order_by("pk")[:4])
    rows[0].enter_time += dt.timedelta(microseconds=1)
    rows[1].partyids = []
    rows[2].leave_time = None
    rows[3].is_comment = not rows[3].is_comment
    StudentWatch.objects.bulk_update(rows, ["enter_time", "partyids", "leave_time", "is_comment"])
    unwatch = StudentUnwatch.objects.filter(living__livingid=livingid).first()
    unwatch.partyids = [*unwatch.partyids, 999]
    unwatch.save()
    assert stored(livingid)["watches"] != first["watches"]

    living_stats_sync(school=default_school(), client=sync_client, livingid=livingid)

    second = stored(livingid)
    assert second["watches"] == first["watches"]
    assert second["unwatches"] == first["unwatches"]


@pytest.mark.parametrize(
    "kind,errcode", [("errcode", -1), ("http502", 0), ("not_json", 0), ("errcode", 40058)]
)
def test_broken_page_after_a_good_sync_leaves_the_data_intact(sync_sandbox, kind, errcode):
    state = sync_sandbox.state
    livingid = ended_livingid(state)
    code, out, err = run_command("sync_living", livingid)
    assert code == 0, err
    before = stored(livingid)
    state.update_watch(livingid, state.living(livingid).viewers[0].student_userid, watch_time=1)
    state.inject(livingid, page=2, kind=kind, errcode=errcode)  # every time

    code, out, err = run_command("sync_living", livingid)

    assert code == 1
    assert out == ""
    *waits, last = err.strip().splitlines()
    assert last.startswith(f"{livingid}: failed, nothing changed")
    # Transient errors are waited out (a line each) until the call's bound; the others are not.
    transient = kind == "http502" or errcode == -1
    assert bool(waits) == transient
    assert all(re.fullmatch(r"WeCom .+: waiting [\d.]+ s \(attempt \d+\)", w) for w in waits)
    assert_clean(err, sync_sandbox)
    assert stored(livingid) == before
    run = SyncRun.objects.filter(livingid=livingid).first()
    assert run.status == SyncRun.Status.FAILED and run.error and "Traceback" not in run.error


def test_permission_error_is_one_clear_line(sync_sandbox):
    livingid = foreign_livingid(sync_sandbox.state)
    good = ended_livingid(sync_sandbox.state)
    code, out, err = run_command("sync_living", livingid, good)
    assert code == 1
    assert out.startswith(f"{good}: ") and "complete" in out  # the other living still synced
    assert err.count("\n") == 1
    assert "92008" in err and "本应用创建的直播" in err
    assert_clean(err, sync_sandbox)
    assert not Living.objects.filter(livingid=livingid).exists()


def test_malformed_row_stores_nothing(sync_sandbox):
    livingid = ended_livingid(sync_sandbox.state)
    script(
        sync_sandbox.state,
        livingid,
        [watch_page([watch_row("a")]), watch_page([watch_row("b", watch_time="abc")])],
    )
    code, out, err = run_command("sync_living", livingid)
    assert code == 1
    assert "watch_time" in err and "must be an integer" in err
    assert_clean(err, sync_sandbox)
    assert not Living.objects.filter(livingid=livingid).exists()
    assert not StudentWatch.objects.exists()


def test_out_of_range_row_is_malformed_not_a_database_error(sync_sandbox, sync_client):
    livingid = ended_livingid(sync_sandbox.state)
    script(sync_sandbox.state, livingid, [watch_page([watch_row("a", watch_time=-5)])])
    with pytest.raises(WeComDataError, match="watch_time is out of range"):
        living_stats_sync(school=default_school(), client=sync_client, livingid=livingid)
    assert not StudentWatch.objects.exists()


def test_summary_line(sync_sandbox):
    livingid = ended_livingid(sync_sandbox.state)
    script(
        sync_sandbox.state,
        livingid,
        [watch_page([watch_row("a"), watch_row("b")], [visitor_row("v")]), watch_page()],
        [unwatch_page([{"student_userid": "c", "parent_userid": "pc", "partyids": [3]}])],
    )
    code, out, err = run_command("sync_living", livingid)
    assert code == 0 and err == ""
    assert out.strip() == f"{livingid}: 3 pages, 2 watch rows, 1 visitors, 1 unwatched — complete"


def test_missing_configuration_is_one_line(sync_sandbox, settings):
    settings.WECOM_SECRET = ""
    code, out, err = run_command("sync_living", "lv1")
    assert code == 1
    assert "WECOM_SECRET" in err and err.count("\n") == 1


# --- the lock -------------------------------------------------------------------------------------


def test_second_sync_of_a_living_reports_the_run_under_way(sync_sandbox, sync_client):
    livingid = ended_livingid(sync_sandbox.state)
    first = SyncRun.objects.create(
        school=default_school(),
        kind=SyncRun.Kind.LIVING,
        livingid=livingid,
        status=SyncRun.Status.RUNNING,
    )
    assert cache.add(living_lock_key(livingid, school_id=default_school().pk), first.pk, timeout=60)

    second = SyncRun.objects.create(
        school=default_school(), kind=SyncRun.Kind.LIVING, livingid=livingid
    )
    returned = living_stats_sync(
        school=default_school(), client=sync_client, livingid=livingid, run=second
    )

    assert returned == first
    second.refresh_from_db()
    assert second.status == SyncRun.Status.FAILED
    assert f"#{first.pk}" in second.error and "already under way" in second.error
    assert sync_sandbox.state.call_count(WATCH) == 0
    assert (
        cache.get(living_lock_key(livingid, school_id=default_school().pk)) == first.pk
    )  # not released by the loser

    code, out, err = run_command("sync_living", livingid)
    assert code == 1 and "already syncing" in err


def test_lock_is_released_after_success_and_failure(sync_sandbox, sync_client):
    livingid = ended_livingid(sync_sandbox.state)
    living_stats_sync(school=default_school(), client=sync_client, livingid=livingid)
    assert cache.get(living_lock_key(livingid, school_id=default_school().pk)) is None
    sync_sandbox.state.inject(livingid, page=1, errcode=92008)
    with pytest.raises(WeComError):
        living_stats_sync(school=default_school(), client=sync_client, livingid=livingid)
    assert cache.get(living_lock_key(livingid, school_id=default_school().pk)) is None


# --- export -------------------------------------------------------------------------------------


def test_export_equals_what_the_sandbox_served(sync_sandbox, sync_client):
    livingid = ended_livingid(sync_sandbox.state)
    sync_sandbox.state.add_watcher(livingid, "no_times", enter_time=0, leave_time=0, watch_time=0)
    sync_sandbox.state.add_visitor(livingid, '=cmd|" /C calc"!A0', is_comment=1)
    students, visitors, _ = served_rows(sync_client, livingid)
    living_stats_sync(school=default_school(), client=sync_client, livingid=livingid)

    code, out, err = run_command("export_watch_stat", livingid)
    assert code == 0 and err == ""
    rows = list(csv.reader(io.StringIO(out)))
    assert rows[0] == [
        "student_userid",
        "parent_userid",
        "partyids",
        "watch_time",
        "enter_time",
        "leave_time",
        "is_comment",
    ]
    expected = [
        [
            s.student_userid,
            s.parent_userid,
            ";".join(map(str, s.partyids)),
            str(s.watch_time),
            str(s.enter_time),
            str(s.leave_time),
            str(int(s.is_comment)),
        ]
        for s in students
    ]
    assert sorted(rows[1:]) == sorted(expected)
    assert [
        "no_times",
        "",
        rows[1][2] and next(r for r in expected if r[0] == "no_times")[2],
        "0",
        "0",
        "0",
        "0",
    ] in rows

    code, out, err = run_command("export_watch_stat", livingid, "--visitors")
    rows = list(csv.reader(io.StringIO(out)))
    assert rows[0] == ["nickname", "watch_time", "enter_time", "leave_time", "is_comment"]
    assert rows[1:] == [
        [
            v.nickname,
            str(v.watch_time),
            str(v.enter_time),
            str(v.leave_time),
            str(int(v.is_comment)),
        ]
        for v in visitors
    ]


def test_export_of_an_unknown_living(db):
    code, out, err = run_command("export_watch_stat", "nope")
    assert code == 1 and out == ""
    assert (
        err.strip()
        == "nope: no such living is stored; sync it first (python manage.py sync_living nope)."
    )
