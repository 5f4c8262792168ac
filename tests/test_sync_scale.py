"""A school sync that spreads over workers and asks WeCom each fact once; manual syncs that
cannot spend the corp's budget: one a minute per person and living."""

import datetime as dt

import pytest
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from school_live.school.models import Living, SyncRun
from school_live.school.tenancy import default_school
from school_live.sync.school import school_sync
from school_live.sync.sweep import recent_livings_sweep
from school_live.sync.triggers import living_syncs_request, school_sync_request
from tests.fixtures.people import PASSWORD
from tests.fixtures.sandbox import sandbox_serving, sandbox_state
from tests.test_sync_faults import clean_sync_snapshot, school_snapshot
from tests.test_sync_worker import wait_for

LIVING_INFO = "/cgi-bin/school/living/get_living_info"


@pytest.fixture
def school_sandbox(settings, db):
    """test_sync_faults' school: three classes, 18 livings, its clock standing still."""
    state = sandbox_state(classes_per_grade=3, students_per_class=12)
    frozen = state.clock()
    state.clock = lambda: frozen
    with sandbox_serving(settings, state) as server:
        yield server


@pytest.fixture
def class_living(school):
    living = Living.objects.create(school=default_school(), livingid="lv_class_one", theme="语文")
    living.classes.add(school["class_one"])
    return living


def finish_runs() -> None:
    SyncRun.objects.update(status=SyncRun.Status.SUCCEEDED, finished_at=timezone.now())


# --- manual syncs -------------------------------------------------------------------------------


def test_a_teacher_may_sync_a_living_once_a_minute(
    head_teacher, admin_user, class_living, django_capture_on_commit_callbacks
):
    teacher = Client(HTTP_ACCEPT_LANGUAGE="en")
    teacher.login(username="wangli", password=PASSWORD)
    url = reverse("sync:living", args=[class_living.livingid])
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert teacher.post(url).status_code == 202
    finish_runs()

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        again = teacher.post(url)
    assert again.status_code == 429 and callbacks == []
    assert again.json()["error"] == (
        "You asked for a sync of this lesson less than 60 seconds ago. "
        "Wait a minute, then try again."
    )
    assert SyncRun.objects.count() == 1

    # Another person may; so may the teacher, for another living.
    admin = Client(HTTP_ACCEPT_LANGUAGE="en")
    admin.force_login(admin_user)
    assert admin.post(url).status_code == 202
    finish_runs()
    other = Living.objects.create(school=default_school(), livingid="lv_class_one_b", theme="数学")
    other.classes.add(class_living.classes.get())
    assert teacher.post(reverse("sync:living", args=[other.livingid])).status_code == 202


def test_the_admin_action_says_which_livings_were_asked_too_soon(admin_user, class_living):
    admin = Client(HTTP_ACCEPT_LANGUAGE="en")
    admin.force_login(admin_user)
    action = {"action": "sync_livings_now", "_selected_action": [class_living.pk]}
    changelist = reverse("admin:school_living_changelist")
    admin.post(changelist, action, follow=True)
    finish_runs()
    response = admin.post(changelist, action, follow=True)
    shown = [str(m) for m in get_messages(response.wsgi_request)]
    assert shown == [
        "1 living was not synced again: you asked for it less than a minute ago. "
        "Wait a minute, then try again."
    ]
    assert SyncRun.objects.count() == 1


# --- one call per fact, queued in bulk ----------------------------------------------------------


def test_sync_school_reads_each_livings_info_once(school_sandbox):
    state = school_sandbox.state
    run = school_sync(school=default_school())
    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    synced = Living.objects.filter(stats_synced_at__isnull=False).count()
    assert synced >= 10
    # Discovery read every living's info; the stats syncs that followed used it.
    assert state.call_count(LIVING_INFO) == Living.objects.count()


def test_many_livings_are_queued_in_one_go(db, django_capture_on_commit_callbacks):
    start = timezone.now() - dt.timedelta(hours=1)
    for n in range(4):
        Living.objects.create(
            school=default_school(), livingid=f"lv-{n}", living_start=start, living_duration=600
        )
    queued = SyncRun.objects.create(
        school=default_school(), kind=SyncRun.Kind.LIVING, livingid="lv-1"
    )
    dead = SyncRun.objects.create(
        school=default_school(),
        kind=SyncRun.Kind.LIVING,
        livingid="lv-2",
        status=SyncRun.Status.RUNNING,
        started_at=start,
        heartbeat_at=start,
    )
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        created = living_syncs_request(
            school=default_school(), livingids=["lv-0", "lv-1", "lv-2", "lv-3", "lv-0"]
        )
    assert sorted(run.livingid for run in created) == ["lv-0", "lv-2", "lv-3"]
    assert len(callbacks) == 3
    assert all(run.living and run.status == SyncRun.Status.QUEUED for run in created)
    dead.refresh_from_db()
    queued.refresh_from_db()
    assert dead.status == SyncRun.Status.FAILED and queued.status == SyncRun.Status.QUEUED


# --- the workers --------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.worker
def test_worker_school_sync_shares_discovery_and_reads_each_info_once(
    celery_worker_factory, school_sandbox
):
    clean = clean_sync_snapshot(school_sandbox)
    state = school_sandbox.state
    state.calls.clear()
    worker = celery_worker_factory(school_sandbox)

    run, _created = school_sync_request(school=default_school())

    def finished():
        active = SyncRun.objects.filter(status__in=(SyncRun.Status.QUEUED, SyncRun.Status.RUNNING))
        school = SyncRun.objects.get(pk=run.pk)
        return school.status == SyncRun.Status.SUCCEEDED and not active.exists()

    wait_for(finished, timeout=180, what="the school and its livings to sync", worker=worker)
    assert school_snapshot() == clean
    assert not SyncRun.objects.filter(status=SyncRun.Status.FAILED).exists()
    # The school task queued the discovery in shares (and its own step), each read its
    # teachers' livings and queued their stats, which used the info just read.
    assert SyncRun.objects.filter(kind=SyncRun.Kind.DISCOVERY).count() > 2
    assert state.call_count(LIVING_INFO) == Living.objects.count()


def test_the_school_sweep_leaves_their_livings_to_the_discovery_shares(
    sync_sandbox, django_capture_on_commit_callbacks
):
    start = timezone.now() - dt.timedelta(hours=1)
    for livingid, anchor in (("lv-shared", "t-listed"), ("lv-orphan", "t-gone")):
        Living.objects.create(
            school=default_school(),
            livingid=livingid,
            anchor_userid=anchor,
            living_start=start,
            living_duration=600,
        )
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        recent_livings_sweep(school=default_school(), discovered=["t-listed"])
    # The share that reads t-listed's livings queues lv-shared, with the info it just read.
    assert list(
        SyncRun.objects.filter(kind=SyncRun.Kind.LIVING).values_list("livingid", flat=True)
    ) == ["lv-orphan"]
    assert len(callbacks) == 1
