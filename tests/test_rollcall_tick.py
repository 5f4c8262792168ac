"""The live tick (sync/live.py) queues a sync of exactly the live lessons whose numbers are going
stale and the lessons that just ended without a complete sync; nothing else, never twice."""

import datetime as dt

import pytest
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from school_live.school.models import Living, SyncRun
from school_live.school.tenancy import default_school
from school_live.sync.live import live_livings_due, live_syncs_queue
from school_live.sync.tasks import live_tick_task
from tests.fixtures.attendance import make_living

NOW = timezone.now()  # set again by the ``livings`` fixture, as each test starts


def lesson(livingid, school, *, started_ago, minutes=45, synced_ago=None, **fields):
    living = make_living(
        livingid,
        classes=[school["class_one"]],
        start=NOW - dt.timedelta(minutes=started_ago),
        duration=minutes * 60,
        synced=False,
    )
    if synced_ago is not None:
        living.stats_synced_at = NOW - dt.timedelta(seconds=synced_ago)
    for name, value in fields.items():
        setattr(living, name, value)
    living.save()
    return living


@pytest.fixture
def livings(school):
    """Lessons around now, keyed by livingid (``now``: the moment they are placed around)."""
    global NOW
    NOW = timezone.now().replace(microsecond=0)
    made = [
        # Due:
        lesson("live-stale", school, started_ago=10, synced_ago=50),
        lesson("live-never-synced", school, started_ago=1),
        lesson("just-ended", school, started_ago=46, synced_ago=90),
        # Started early in WeCom: its planned start is still two minutes ahead.
        lesson("started-early", school, started_ago=-2, status=Living.Status.LIVE, synced_ago=100),
        # Ended early in WeCom 30 s ago: its planned end is 20 minutes ahead.
        lesson(
            "ended-early",
            school,
            started_ago=25,
            synced_ago=40,
            status=Living.Status.ENDED,
            status_changed_at=NOW - dt.timedelta(seconds=30),
        ),
        # Not due:
        lesson("live-fresh", school, started_ago=10, synced_ago=10),
        lesson("ended-complete", school, started_ago=46, synced_ago=30, stats_complete=True),
        lesson("ended-long-ago", school, started_ago=60, synced_ago=900),  # the sweep's
        lesson("upcoming", school, started_ago=-30),
        lesson("cancelled", school, started_ago=10, status=Living.Status.CANCELLED),
        lesson("yesterday", school, started_ago=24 * 60, synced_ago=24 * 3600),
    ]
    return {living.livingid: living for living in made}


DUE = {"live-stale", "live-never-synced", "just-ended", "started-early", "ended-early"}


def test_the_tick_picks_live_stale_and_just_ended_lessons_only(livings):
    assert {living.livingid for living in live_livings_due(school=default_school(), now=NOW)} == DUE


def test_the_tick_queues_each_once_and_leaves_runs_under_way_alone(livings):
    SyncRun.objects.create(
        school=default_school(), kind=SyncRun.Kind.LIVING, livingid="live-stale"
    )  # queued already
    queued = live_syncs_queue(school=default_school(), now=NOW)
    assert {run.livingid for run in queued} == DUE - {"live-stale"}
    assert all(run.status == SyncRun.Status.QUEUED for run in queued)
    assert (
        live_syncs_queue(school=default_school(), now=NOW) == []
    )  # the next tick finds them under way
    assert SyncRun.objects.filter(livingid="live-stale").count() == 1


def test_a_lesson_wecom_refuses_for_good_is_left_to_manual_syncs(livings):
    SyncRun.objects.create(
        school=default_school(),
        kind=SyncRun.Kind.LIVING,
        livingid="just-ended",
        status=SyncRun.Status.FAILED,
        errcode=92008,
        finished_at=NOW,
    )
    assert "just-ended" not in {
        run.livingid for run in live_syncs_queue(school=default_school(), now=NOW)
    }


def test_fresh_numbers_go_stale_after_the_setting(livings, settings):
    settings.SYNC_LIVE_STALE_SECONDS = 5
    assert "live-fresh" in {
        living.livingid for living in live_livings_due(school=default_school(), now=NOW)
    }
    settings.SYNC_ENDED_WINDOW_SECONDS = 20 * 60
    assert "ended-long-ago" in {
        living.livingid for living in live_livings_due(school=default_school(), now=NOW)
    }


def test_the_task_queues_and_counts(livings):
    assert live_tick_task() == len(DUE)


def test_the_migration_schedules_the_tick_every_20_seconds(db):
    task = PeriodicTask.objects.get(task="sync.live_tick")
    assert task.enabled and task.crontab is None
    assert (task.interval.every, task.interval.period) == (20, "seconds")
    assert task.expire_seconds == 20
