"""Faults lose nothing: WeCom's transient errors are waited out, by the commands and the worker.

The sandbox injects about 20% transient faults (10% -1 busy, 5% 45009, 5% HTTP 502) into every
call of a whole school's sync; every stored row must equal a fault-free sync's. WeCom's windows
are shrunk a thousandfold (tests/fixtures/sandbox.py), so a 45009 waits 0.06 s, not a minute.
"""

import pytest

from school_live.school.models import (
    ClassAssignment,
    Department,
    Enrollment,
    Guardianship,
    Living,
    Parent,
    Student,
    SyncRun,
    Teacher,
)
from school_live.school.tenancy import default_school
from school_live.sync.triggers import school_sync_request
from tests.fixtures.sandbox import (
    SYNC_WAIT_SCALE,
    ended_livingid,
    sandbox_serving,
    sandbox_state,
)
from tests.test_sync import WATCH, assert_clean, run_command, served_rows, stored
from tests.test_sync_worker import wait_for

WAIT_LINE = r"WeCom .+: waiting [\d.]+ s \(attempt \d+\)"
FAULTS = {"busy": 0.10, "limit": 0.05, "http502": 0.05}


WATCH_COLUMNS = (
    "student_userid",
    "parent_userid",
    "partyids",
    "watch_time",
    "enter_time",
    "leave_time",
    "is_comment",
)
VISITOR_COLUMNS = ("position", "nickname", "watch_time", "enter_time", "leave_time", "is_comment")


def living_rows(living: Living) -> tuple | None:
    """Every stored row of the living, by natural keys; None if it was never synced."""
    if living.stats_synced_at is None:
        return None
    return (
        living.stats_complete,
        sorted(living.watches.values_list(*WATCH_COLUMNS)),
        list(living.visitors.order_by("position").values_list(*VISITOR_COLUMNS)),
        sorted(living.unwatches.values_list("student_userid", "parent_userid", "partyids")),
    )


def school_snapshot() -> dict:
    """Every row a school sync stores, by natural keys (no pks, no timestamps of the sync)."""
    livings = {
        living.livingid: (
            living.theme,
            living.living_start,
            living.living_duration,
            living.anchor_userid,
            sorted(living.classes.values_list("wecom_id", flat=True)),
            living_rows(living),
        )
        for living in Living.objects.all()
    }
    return {
        "livings": livings,
        "departments": sorted(Department.objects.values_list("wecom_id", "name", "is_active")),
        "teachers": sorted(Teacher.objects.values_list("userid", "is_active")),
        "assignments": sorted(
            ClassAssignment.objects.values_list("teacher__userid", "department__wecom_id", "role")
        ),
        "students": sorted(Student.objects.values_list("student_userid", "name", "is_active")),
        "parents": sorted(Parent.objects.values_list("parent_userid", "mobile", "is_active")),
        "enrollments": sorted(
            Enrollment.objects.values_list("student__student_userid", "department__wecom_id")
        ),
        "guardianships": sorted(
            Guardianship.objects.values_list(
                "student__student_userid", "parent__parent_userid", "relation"
            )
        ),
    }


def school_forget() -> None:
    """Back to an empty school, as before the first sync."""
    Living.objects.all().delete()
    SyncRun.objects.all().delete()
    for model in (Guardianship, Enrollment, ClassAssignment, Student, Parent, Teacher, Department):
        model.objects.all().delete()


@pytest.fixture
def school_sandbox(settings, db):
    """A school of three classes with 18 livings of this app; the sync tests' credentials. Its
    clock stands still, so a living under way serves the same rows to every sync."""
    state = sandbox_state(classes_per_grade=3, students_per_class=12)
    frozen = state.clock()
    state.clock = lambda: frozen
    with sandbox_serving(settings, state) as server:
        yield server


def clean_sync_snapshot(sandbox) -> dict:
    sandbox.state.clear_faults()
    code, _out, err = run_command("sync_school")
    assert code == 0, err
    snapshot = school_snapshot()
    readable = [lv for lv in sandbox.state.school.livings.values() if not lv.foreign]
    assert len(snapshot["livings"]) == len(readable) >= 12
    synced = [rows for *_info, rows in snapshot["livings"].values() if rows]
    # The sweep syncs the livings that have started (12 of 18; the rest are still to come).
    assert len(synced) >= 10 and sum(len(rows[1]) for rows in synced) > 100
    school_forget()
    return snapshot


# --- the commands ---------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_sync_school_with_20_percent_faults_stores_what_a_clean_sync_stores(school_sandbox, seed):
    clean = clean_sync_snapshot(school_sandbox)
    school_sandbox.state.set_faults(**FAULTS, seed=seed)

    code, out, err = run_command("sync_school")

    assert code == 0, err
    assert "WeCom" in err and "waiting" in err  # it did meet faults, and said so
    assert school_snapshot() == clean
    assert_clean(err, school_sandbox)


def test_sync_living_waits_out_a_45009_and_a_502_mid_sync(sync_sandbox, sync_client):
    state = sync_sandbox.state
    livingid = ended_livingid(state)
    state.inject(livingid, page=2, errcode=45009, times=1)
    # Every transient failure of a sync's call goes to its patience (no quicker layer below).
    state.inject(livingid, page=3, kind="http502", times=1)

    code, out, err = run_command("sync_living", livingid)

    assert code == 0, err
    assert err.splitlines() == [
        "WeCom 45009 frequency limit: waiting 0.06 s (attempt 2)",
        "WeCom HTTP 502: waiting 0.002 s (attempt 2)",
    ]
    assert out.startswith(f"{livingid}: ") and out.strip().endswith("complete")
    students, visitors, unwatched = served_rows(sync_client, livingid)
    rows = stored(livingid)
    assert len(rows["watches"]) == len({(s.student_userid, s.parent_userid) for s in students})
    assert len(rows["visitors"]) == len(visitors) and len(rows["unwatches"]) == len(unwatched)


def test_persistent_45009_ends_in_one_clear_line_within_the_bound(sync_sandbox, settings):
    livingid = ended_livingid(sync_sandbox.state)
    sync_sandbox.state.inject(livingid, page=2, errcode=45009)  # every time

    code, out, err = run_command("sync_living", livingid)

    assert code == 1 and out == ""
    *waits, last = err.strip().splitlines()
    # 60 s a wait, at most SYNC_WAIT_TOTAL (120 s) in all: two waits, then the third try fails.
    assert settings.SYNC_WAIT_TOTAL == 120 and settings.SYNC_WAIT_SCALE == SYNC_WAIT_SCALE
    assert waits == [
        "WeCom 45009 frequency limit: waiting 0.06 s (attempt 2)",
        "WeCom 45009 frequency limit: waiting 0.06 s (attempt 3)",
    ]
    assert last.startswith(f"{livingid}: failed, nothing changed — WeCom ")
    assert "errcode 45009" in last and "frequency limit" in last
    assert sync_sandbox.state.call_count(WATCH) == 4
    run = SyncRun.objects.get(livingid=livingid)
    assert run.status == SyncRun.Status.FAILED and run.errcode == 45009


@pytest.mark.parametrize(
    ("fault", "reason", "seconds"),
    [
        # -1: WeCom's hint is 1 s; 91 s of waits, and a 30 s eighth would pass 120 s.
        ({"errcode": -1}, "WeCom -1 system busy", [1, 2, 4, 8, 16, 30, 30]),
        # HTTP 502 (and network errors): from 2 s; exactly 120 s of waits.
        ({"kind": "http502"}, "WeCom HTTP 502", [2, 4, 8, 16, 30, 30, 30]),
    ],
)
def test_a_call_that_keeps_failing_makes_8_attempts_within_120_s_of_waits(
    sync_sandbox, settings, fault, reason, seconds
):
    """The worst case of one call in a sync (README, "Retries"): the client's one loop hands
    each failure to the sync's patience, which waits with a doubling backoff of at most 30 s
    and gives up before its waits pass SYNC_WAIT_TOTAL (120 s; scaled a thousandfold here)."""
    livingid = ended_livingid(sync_sandbox.state)
    sync_sandbox.state.inject(livingid, page=2, **fault)  # every time

    code, out, err = run_command("sync_living", livingid)

    assert code == 1 and out == ""
    *waits, last = err.strip().splitlines()
    assert waits == [
        f"{reason}: waiting {wait * SYNC_WAIT_SCALE:g} s (attempt {attempt})"
        for attempt, wait in enumerate(seconds, start=2)
    ]
    assert sum(seconds) <= settings.SYNC_WAIT_TOTAL < sum(seconds) + 30
    assert last.startswith(f"{livingid}: failed, nothing changed — WeCom ")
    assert sync_sandbox.state.call_count(WATCH) == 1 + 8  # page 1, then page 2 eight times


def test_a_sync_task_runs_at_most_6_times_with_at_most_465_s_between_runs(settings):
    """The worst case of one sync (README, "Retries"): the Celery task is the second and last
    layer, 5 retries after a jittered backoff of at most 15, 30, 60, 120, 240 s."""
    from school_live.sync.tasks import SYNC_TASK, retry_countdown
    from school_live.wecom.errors import WeComTransientError

    settings.SYNC_WAIT_SCALE = 1.0
    busy = WeComTransientError(-1, "system busy", "school/living/get_watch_stat")
    assert SYNC_TASK["max_retries"] == 5
    longest = [max(retry_countdown(busy, retries) for _ in range(200)) for retries in range(5)]
    assert all(0 < most <= 15 * 2**n for n, most in enumerate(longest))


@pytest.mark.parametrize("livingid", ["", "   ", "x" * 129])
def test_livingid_empty_or_too_long_is_refused_before_wecom(sync_sandbox, livingid):
    code, out, err = run_command("sync_living", "lv-fine", livingid)

    assert code == 1 and out == ""
    assert "not synced" in err and ("empty" in err or "128 characters" in err)
    assert not sync_sandbox.state.calls
    assert not SyncRun.objects.exists()


# --- the worker -----------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.worker
@pytest.mark.parametrize("seed", [1, 2])
def test_worker_school_sync_with_20_percent_faults_stores_what_a_clean_sync_stores(
    celery_worker_factory, school_sandbox, seed
):
    clean = clean_sync_snapshot(school_sandbox)
    worker = celery_worker_factory(school_sandbox)
    school_sandbox.state.set_faults(**FAULTS, seed=seed)

    run, _created = school_sync_request(school=default_school())

    def finished():
        active = SyncRun.objects.filter(status__in=(SyncRun.Status.QUEUED, SyncRun.Status.RUNNING))
        school = SyncRun.objects.get(pk=run.pk)
        return school.status == SyncRun.Status.SUCCEEDED and not active.exists()

    wait_for(finished, timeout=240, what="the school and its livings to sync", worker=worker)
    assert school_snapshot() == clean
    assert not SyncRun.objects.filter(status=SyncRun.Status.FAILED).exists()
    assert "waiting" in worker.log.read_text()  # the worker met faults and waited them out
