"""Roster, discovery, the sweep, the schedule and the endpoints that start a sync."""

import datetime as dt

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

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
from school_live.sync.discovery import livings_discover
from school_live.sync.living_stats import living_stats_sync
from school_live.sync.roster import roster_sync
from school_live.sync.sweep import recent_livings_sweep, stale_runs_fail, sweep_livings_select
from school_live.sync.triggers import living_sync_request
from tests.fixtures.people import PASSWORD
from tests.fixtures.sync import ended_livingid, live_livingid

# --- roster -------------------------------------------------------------------------------------


def test_roster_stores_the_school(sync_sandbox, sync_client):
    school = sync_sandbox.state.school
    run = roster_sync(client=sync_client)
    assert run.status == SyncRun.Status.SUCCEEDED
    assert set(Department.objects.values_list("id", flat=True)) == set(school.departments)
    assert Student.objects.filter(is_active=True).count() == len(school.students)
    klass = next(d for d in school.departments.values() if d.type == 1)
    head = next(a for a in klass.admins if a.type == 3)
    teacher = Teacher.objects.get(userid=head.userid)
    assert ClassAssignment.objects.filter(
        teacher=teacher,
        department_id=klass.id,
        role=ClassAssignment.Role.HEAD,
        subject=head.subject,
    ).exists()
    assert teacher.user.username == head.userid
    assert not teacher.user.has_usable_password()
    two_classes = next(s for s in school.students.values() if len(s.departments) == 2)
    assert set(
        Enrollment.objects.filter(student__student_userid=two_classes.userid).values_list(
            "department_id", flat=True
        )
    ) == set(two_classes.departments)
    parent = two_classes.parents[0]
    stored = Parent.objects.get(parent_userid=parent.userid)
    assert stored.is_subscribed == bool(parent.is_subscribe)
    assert (
        Guardianship.objects.get(student__student_userid=two_classes.userid, parent=stored).relation
        == parent.relation
    )


def test_roster_resync_marks_who_left_inactive(sync_sandbox, sync_client):
    school = sync_sandbox.state.school
    roster_sync(client=sync_client)
    assignments = ClassAssignment.objects.count()

    # A class closes (with the head teacher who taught only it); a student leaves the school.
    klass = max((d for d in school.departments.values() if d.type == 1), key=lambda d: d.id)
    head = next(a.userid for a in klass.admins if a.type == 3)
    del school.departments[klass.id]
    leaver = next(
        s
        for s in school.students.values()
        if len(s.departments) == 1 and klass.id not in s.departments
    )
    del school.students[leaver.userid.lower()]
    moved = [s for s in school.students.values() if klass.id in s.departments]
    for student in moved:
        del school.students[student.userid.lower()]
    school.index()

    run = roster_sync(client=sync_client)

    assert run.status == SyncRun.Status.SUCCEEDED
    assert not Department.objects.get(id=klass.id).is_active
    assert not Student.objects.get(student_userid=leaver.userid).is_active
    assert not Enrollment.objects.filter(student__student_userid=leaver.userid).exists()
    assert not Enrollment.objects.filter(department_id=klass.id).exists()
    teacher = Teacher.objects.get(userid=head)
    assert not teacher.is_active
    assert not teacher.user.is_active
    assert not ClassAssignment.objects.filter(department_id=klass.id).exists()
    assert ClassAssignment.objects.count() < assignments
    assert Student.objects.filter(is_active=True).count() == len(school.students)


def test_roster_failure_changes_nothing(sync_sandbox, sync_client):
    roster_sync(client=sync_client)
    sync_sandbox.state.set_faults(http502=1.0)
    students = list(Student.objects.values_list("student_userid", "is_active"))
    with pytest.raises(Exception):  # noqa: B017 - any WeCom failure
        roster_sync(client=sync_client)
    assert list(Student.objects.values_list("student_userid", "is_active")) == students
    run = SyncRun.objects.filter(kind=SyncRun.Kind.ROSTER).first()
    assert run.status == SyncRun.Status.FAILED and "HTTP" in run.error


def test_existing_login_is_linked_not_duplicated(sync_sandbox, sync_client):
    klass = next(d for d in sync_sandbox.state.school.departments.values() if d.type == 1)
    userid = klass.admins[0].userid
    user = get_user_model().objects.create_user(username=userid, password=PASSWORD)
    roster_sync(client=sync_client)
    assert Teacher.objects.get(userid=userid).user == user
    user.refresh_from_db()
    assert user.check_password(PASSWORD)


# --- discovery ----------------------------------------------------------------------------------


def test_discovery_stores_each_teachers_livings(sync_sandbox, sync_client):
    state = sync_sandbox.state
    roster_sync(client=sync_client)
    run = livings_discover(client=sync_client)
    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    own = {lid for lid, lv in state.school.livings.items() if not lv.foreign}
    teachers = set(Teacher.objects.values_list("userid", flat=True))
    expected = {lid for lid in own if state.living(lid).anchor_userid in teachers}
    assert set(Living.objects.values_list("livingid", flat=True)) == expected
    living = Living.objects.get(livingid=ended_livingid(state))
    assert living.info_synced_at and living.stats_synced_at is None
    assert living.classes.exists()

    # Settled livings are not asked again.
    for livingid in list(expected)[:3]:
        living_stats_sync(client=sync_client, livingid=livingid)
    calls = state.call_count("/cgi-bin/school/living/get_living_info")
    livings_discover(client=sync_client)
    settled = Living.objects.filter(stats_complete=True).count()
    assert settled >= 1
    assert (
        state.call_count("/cgi-bin/school/living/get_living_info") - calls
        == len(expected) - settled
    )


# --- the sweep ----------------------------------------------------------------------------------


def test_sweep_selects_live_recent_and_replay_livings(db):
    now = timezone.now()

    def living(livingid, start_ago, duration_min, **fields):
        return Living.objects.create(
            livingid=livingid,
            living_start=now - dt.timedelta(minutes=start_ago),
            living_duration=duration_min * 60,
            **fields,
        )

    living("live", 20, 45)
    living("recent", 120, 45, stats_synced_at=now - dt.timedelta(minutes=80))
    living("recent_done", 120, 45, stats_synced_at=now, stats_complete=True)
    living(
        "replay_due", 8 * 60, 45, stats_synced_at=now - dt.timedelta(hours=7), stats_complete=True
    )
    living(
        "replay_done",
        8 * 60,
        45,
        stats_synced_at=now - dt.timedelta(minutes=5),
        stats_complete=True,
    )
    living("never", 3 * 24 * 60, 45)
    living("old", 30 * 24 * 60, 45)
    living("upcoming", -60, 45)
    chosen = {lv.livingid for lv in sweep_livings_select(now=now)}
    assert chosen == {"live", "recent", "replay_due", "never"}


def test_sweep_fails_runs_whose_worker_died_and_syncs_again(sync_sandbox, settings):
    settings.CELERY_TASK_TIME_LIMIT = 30
    settings.SYNC_STALE_MARGIN = 0
    livingid = ended_livingid(sync_sandbox.state)
    dead = SyncRun.objects.create(
        kind=SyncRun.Kind.LIVING,
        livingid=livingid,
        status=SyncRun.Status.RUNNING,
        started_at=timezone.now() - dt.timedelta(seconds=31),
    )
    alive = SyncRun.objects.create(
        kind=SyncRun.Kind.LIVING,
        livingid="another",
        status=SyncRun.Status.RUNNING,
        started_at=timezone.now() - dt.timedelta(seconds=5),
    )

    sweep = recent_livings_sweep(enqueue=False)

    dead.refresh_from_db()
    alive.refresh_from_db()
    assert dead.status == SyncRun.Status.FAILED
    assert "worker" in dead.error and "30 s" in dead.error
    assert alive.status == SyncRun.Status.RUNNING
    again = SyncRun.objects.filter(livingid=livingid).exclude(pk=dead.pk).get()
    assert again.status == SyncRun.Status.SUCCEEDED
    assert Living.objects.get(livingid=livingid).stats_complete
    assert sweep.status == SyncRun.Status.SUCCEEDED


def test_stale_run_holding_its_lock_is_left_alone(db, settings):
    from django.core.cache import cache

    from school_live.sync.locks import living_lock_key

    settings.CELERY_TASK_TIME_LIMIT = 1
    settings.SYNC_STALE_MARGIN = 0
    run = SyncRun.objects.create(
        kind=SyncRun.Kind.LIVING,
        livingid="cmd",
        status=SyncRun.Status.RUNNING,
        started_at=timezone.now() - dt.timedelta(minutes=5),
    )
    cache.set(living_lock_key("cmd"), run.pk, 60)
    assert stale_runs_fail() == []


def test_sweep_enqueues_one_task_per_living(sync_sandbox, django_capture_on_commit_callbacks):
    state = sync_sandbox.state
    live = live_livingid(state)
    Living.objects.create(
        livingid=live, living_start=timezone.now() - dt.timedelta(minutes=5), living_duration=3600
    )
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        recent_livings_sweep()
        recent_livings_sweep()  # the second finds the run queued and adds nothing
    assert len(callbacks) == 1
    assert SyncRun.objects.filter(livingid=live, status=SyncRun.Status.QUEUED).count() == 1


def test_sync_school_command(sync_sandbox, capsys):
    from tests.test_sync import run_command

    code, out, err = run_command("sync_school")
    assert code == 0, err
    lines = out.strip().splitlines()
    kinds = [SyncRun.Kind.ROSTER, SyncRun.Kind.DISCOVERY, SyncRun.Kind.SWEEP, SyncRun.Kind.SCHOOL]
    assert [line.split(":")[0] for line in lines] == [str(kind.label) for kind in kinds]
    assert Living.objects.filter(stats_synced_at__isnull=False).exists()


# --- schedule -----------------------------------------------------------------------------------


def test_schedule_is_seeded(db):
    tasks = {t.task: t for t in PeriodicTask.objects.filter(task__startswith="sync.")}
    sweep = tasks["sync.sweep_recent_livings"]
    assert (sweep.crontab.minute, sweep.crontab.hour) == ("*/10", "7-21")
    assert str(sweep.crontab.timezone) == "Asia/Shanghai"
    assert set(tasks) == {"sync.sweep_recent_livings", "sync.discover_livings", "sync.roster"}
    from school_live.celery import app

    app.loader.import_default_modules()
    assert set(tasks) <= set(app.tasks)


# --- endpoints ----------------------------------------------------------------------------------


@pytest.fixture
def class_living(school):
    living = Living.objects.create(livingid="lv_class_one", theme="语文")
    living.classes.add(school["class_one"])
    return living


def test_teacher_starts_a_sync_of_their_living(
    client, head_teacher, class_living, django_capture_on_commit_callbacks
):
    client.login(username="wangli", password=PASSWORD)
    url = reverse("sync:living", args=[class_living.livingid])
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = client.post(url)
    assert response.status_code == 202
    body = response.json()
    run = SyncRun.objects.get(pk=body["run"])
    assert body["status"] == "queued" and body["status_url"] == reverse("sync:run", args=[run.pk])
    assert run.requested_by == head_teacher.user and run.living == class_living
    assert len(callbacks) == 1

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        again = client.post(url)
    assert again.status_code == 200 and again.json()["run"] == run.pk
    assert callbacks == []

    status = client.get(body["status_url"]).json()
    assert status["status"] == "queued" and status["living"] == class_living.livingid
    assert {"pages", "rows", "error", "finished_at"} <= set(status)


def test_other_teacher_gets_404(client, other_teacher, class_living):
    client.login(username="liuyang", password=PASSWORD)
    assert client.post(reverse("sync:living", args=[class_living.livingid])).status_code == 404
    run, _created = living_sync_request(livingid=class_living.livingid)
    assert client.get(reverse("sync:run", args=[run.pk])).status_code == 404
    assert client.post(reverse("sync:living", args=["nope"])).status_code == 404


def test_sync_needs_login_post_and_csrf(client, head_teacher, class_living):
    from django.test import Client

    url = reverse("sync:living", args=[class_living.livingid])
    assert client.post(url).status_code == 302  # to the login page
    client.login(username="wangli", password=PASSWORD)
    assert client.get(url).status_code == 405
    strict = Client(enforce_csrf_checks=True)
    strict.login(username="wangli", password=PASSWORD)
    assert strict.post(url).status_code == 403
    assert not SyncRun.objects.exists()


def test_admin_action_and_school_button(
    client, admin_user, class_living, django_capture_on_commit_callbacks
):
    client.force_login(admin_user)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = client.post(
            reverse("admin:school_living_changelist"),
            {"action": "sync_livings_now", "_selected_action": [class_living.pk]},
            follow=True,
        )
    assert response.status_code == 200
    assert len(callbacks) == 1
    assert SyncRun.objects.filter(livingid=class_living.livingid).exists()

    changelist = client.get(reverse("admin:school_syncrun_changelist"))
    assert reverse("sync:school").encode() in changelist.content
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = client.post(reverse("sync:school"))
    assert response.status_code == 302
    assert len(callbacks) == 1
    assert SyncRun.objects.filter(kind=SyncRun.Kind.SCHOOL, status="queued").count() == 1
