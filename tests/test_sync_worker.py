"""A real ``celery worker`` process syncing against the sandbox, on the database this test uses.

The filesystem broker (the default) deletes a message when a worker takes it: a worker killed
mid-sync loses the task, and the sweep must find the run left running and start it again. Redis
(CI's second run, CELERY_BROKER_URL=redis://...) redelivers the unacknowledged task after its
visibility timeout. Both must end with the living's complete data, each row once.
"""

import time

import pytest

from school_live.school.models import Living, StudentWatch, SyncRun
from school_live.sync.sweep import recent_livings_sweep
from school_live.sync.triggers import living_sync_request
from tests.fixtures.sandbox import ended_livingid
from tests.fixtures.worker import WORKER_HARD_LIMIT, WORKER_VISIBILITY

pytestmark = [pytest.mark.worker, pytest.mark.slow]

WATCH = "/cgi-bin/school/living/get_watch_stat"


def wait_for(predicate, *, timeout: float, what: str, worker=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
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
        StudentWatch.objects.filter(living=living).values_list("student_id", "parent_userid")
    )
    assert len(stored) == len(set(stored))  # no duplicates
    assert set(stored) == served


def test_worker_syncs_a_requested_living(celery_worker_factory, sync_sandbox, sync_client):
    worker = celery_worker_factory(sync_sandbox)
    livingid = ended_livingid(sync_sandbox.state)

    # The endpoint's path: create the run, enqueue on commit (transactional_db commits).
    run, created = living_sync_request(livingid=livingid)
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


def test_worker_killed_mid_sync_ends_with_complete_data(
    celery_worker_factory, sync_sandbox, sync_client
):
    state = sync_sandbox.state
    livingid = ended_livingid(state)
    # Slow answers and pages of 2 rows: the sync takes a few seconds, long enough to kill it.
    state.page_size = 2
    state.set_faults(slow=1.0, slow_seconds=0.25)
    worker = celery_worker_factory(sync_sandbox)
    run, _created = living_sync_request(livingid=livingid)

    wait_for(
        lambda: state.call_count(WATCH) >= 2, timeout=60, what="the sync to start", worker=worker
    )
    worker.kill()
    killed = run_status(run.pk)
    assert killed.status == SyncRun.Status.RUNNING
    assert not Living.objects.filter(livingid=livingid, stats_synced_at__isnull=False).exists()

    state.set_faults(slow=1.0, slow_seconds=0.05)
    redis = celery_worker_factory.broker_url.startswith("redis")
    if redis:
        # The worker comes back after the visibility timeout: on start it gives the task the
        # dead worker took back to the queue (a running worker also does so, every ~100 s).
        since = time.time() - killed.started_at.timestamp()
        time.sleep(max(0.0, WORKER_VISIBILITY + 1 - since))
    worker = celery_worker_factory(sync_sandbox)
    if redis:
        final = wait_for(
            lambda: run_status(run.pk).status == "succeeded" and run_status(run.pk),
            timeout=60,
            what="Redis to redeliver the task and the run to succeed",
            worker=worker,
        )
        assert final.pk == run.pk
    else:
        # The filesystem broker lost the message; the sweep notices the run is past the limit.
        time.sleep(
            max(0.0, WORKER_HARD_LIMIT + 1.5 - (time.time() - killed.started_at.timestamp()))
        )
        recent_livings_sweep()
        dead = run_status(run.pk)
        assert dead.status == SyncRun.Status.FAILED
        assert "worker" in dead.error
        final = wait_for(
            lambda: SyncRun.objects.filter(
                livingid=livingid, status=SyncRun.Status.SUCCEEDED
            ).first(),
            timeout=60,
            what="the sweep's new run to succeed",
            worker=worker,
        )
        assert final.pk != run.pk
    assert_complete_once(sync_client, livingid)
