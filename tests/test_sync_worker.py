"""A real ``celery worker`` process syncing against the sandbox, on the database this test uses.

A worker killed mid-sync must cost about a minute. A killed pool child makes Celery give the task
back (acks_late, reject_on_worker_lost) and the same run takes its own lock over; the filesystem
broker (the default) deletes a message when a worker takes it, and Redis (CI's second run,
CELERY_BROKER_URL=redis://...) keeps an unacknowledged one until its visibility timeout: then the
run's heartbeat stops and the dead-run check fails it and starts the living again. Every way must
end with the living's complete data, each row once, as a clean sync stores it.
"""

import time

import pytest

from school_live.school.models import Living, StudentWatch, SyncRun
from school_live.school.tenancy import default_school
from school_live.sync.living_stats import living_stats_sync
from school_live.sync.triggers import living_sync_request
from tests.fixtures.sandbox import ended_livingid

pytestmark = [pytest.mark.worker, pytest.mark.slow]

WATCH = "/cgi-bin/school/living/get_watch_stat"


def wait_for(predicate, *, timeout: float, what: str, worker=None, every: float = 0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    log = f"\nworker log:\n{worker.tail()}" if worker else ""
    raise AssertionError(f"timed out after {timeout} s waiting for {what}{log}")


def run_status(run_id: int) -> SyncRun:
    return SyncRun.objects.get(pk=run_id)


def assert_complete_once(client, livingid: str) -> None:
    served = set()
    for page in client.iter_watch_stat(livingid):
        served.update((s.student_userid, s.parent_userid) for s in page.students)
    living = Living.objects.get(livingid=livingid)
    assert living.stats_complete
    stored = list(
        StudentWatch.objects.filter(living=living).values_list("student_userid", "parent_userid")
    )
    assert len(stored) == len(set(stored))  # no duplicates
    assert set(stored) == served


def test_worker_syncs_a_requested_living(celery_worker_factory, sync_sandbox, sync_client):
    worker = celery_worker_factory(sync_sandbox)
    livingid = ended_livingid(sync_sandbox.state)

    # The endpoint's path: create the run, enqueue on commit (transactional_db commits).
    run, created = living_sync_request(school=default_school(), livingid=livingid)
    assert created

    done = wait_for(
        lambda: run_status(run.pk).status in ("succeeded", "failed") and run_status(run.pk),
        timeout=60,
        what="the run to finish",
        worker=worker,
    )
    assert done.status == SyncRun.Status.SUCCEEDED, done.error
    assert done.task_id and done.pages > 0 and done.rows > 0
    assert_complete_once(sync_client, livingid)


def living_rows(livingid: str) -> tuple:
    from tests.test_sync_faults import living_rows as rows

    return rows(Living.objects.get(livingid=livingid))


@pytest.mark.parametrize("kill", ["child", "whole worker"])
def test_worker_killed_mid_sync_is_complete_again_within_two_minutes(
    celery_worker_factory, sync_sandbox, sync_client, settings, kill
):
    """With the default heartbeat settings (a beat every 10 s, dead after 60 s). A killed child
    is redelivered at once and the same run takes its lock over; a whole worker killed loses the
    message (filesystem) or keeps it until the visibility timeout (Redis): the dead-run check
    (every minute under beat; every 5 s here) fails the run and starts the living again."""
    from school_live.sync.triggers import dead_runs_recover

    assert (settings.SYNC_HEARTBEAT_EVERY, settings.SYNC_DEAD_AFTER) == (10, 60)
    state = sync_sandbox.state
    livingid = ended_livingid(state)
    # Slow answers and pages of 2 rows: the sync takes a few seconds, long enough to kill it.
    state.page_size = 2
    state.set_faults(slow=1.0, slow_seconds=0.25)
    worker = celery_worker_factory(sync_sandbox)
    run, _created = living_sync_request(school=default_school(), livingid=livingid)

    wait_for(
        lambda: state.call_count(WATCH) >= 2, timeout=60, what="the sync to start", worker=worker
    )
    if kill == "child":
        worker.kill_child()
    else:
        worker.kill()
    killed_at = time.monotonic()
    assert run_status(run.pk).status == SyncRun.Status.RUNNING
    assert not Living.objects.filter(livingid=livingid, stats_synced_at__isnull=False).exists()

    state.set_faults(slow=1.0, slow_seconds=0.02)
    if kill != "child":
        worker = celery_worker_factory(sync_sandbox)

    def complete():
        dead_runs_recover()
        return Living.objects.filter(livingid=livingid, stats_complete=True).exists()

    wait_for(complete, timeout=120, what="the living to be complete again", worker=worker, every=5)
    recovered = time.monotonic() - killed_at
    print(f"{kill} killed: complete again after {recovered:.0f} s")

    killed = run_status(run.pk)
    if killed.status == SyncRun.Status.SUCCEEDED:
        # Redelivered: the same run took its own lock over and finished.
        assert "Task sync.living_stats" in worker.tail(200)
        assert not SyncRun.objects.filter(livingid=livingid).exclude(pk=run.pk).exists()
    else:
        assert killed.status == SyncRun.Status.FAILED
        assert "worker" in killed.error and "no sign of life for 60 s" in killed.error
        assert SyncRun.objects.filter(
            livingid=livingid, status=SyncRun.Status.SUCCEEDED, pk__gt=run.pk
        ).exists()
    assert not SyncRun.objects.filter(livingid=livingid, error__startswith="Not started").exists()
    assert_complete_once(sync_client, livingid)
    recovered_rows = living_rows(livingid)
    state.clear_faults()
    living_stats_sync(
        school=default_school(), client=sync_client, livingid=livingid
    )  # a clean sync, here
    assert living_rows(livingid) == recovered_rows
