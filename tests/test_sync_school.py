"""Roster, discovery, the sweep, the schedule and the endpoints that start a sync."""

import datetime as dt

import pytest
from django.contrib.auth import get_user_model
from django.core.cache import cache
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
from school_live.school.tenancy import default_school
from school_live.sync.discovery import livings_discover
from school_live.sync.living_stats import living_stats_sync
from school_live.sync.roster import roster_sync
from school_live.sync.sweep import recent_livings_sweep, stale_runs_fail, sweep_livings_select
from school_live.sync.triggers import living_sync_request
from school_live.wecom.errors import WeComConfigError
from tests.fixtures.people import PASSWORD
from tests.fixtures.sandbox import SYNC_SECRET, ended_livingid, live_livingid

WATCH = "/cgi-bin/school/living/get_watch_stat"

# --- roster -------------------------------------------------------------------------------------


def test_roster_stores_the_school(sync_sandbox, sync_client):
    school = sync_sandbox.state.school
    run = roster_sync(school=default_school(), client=sync_client)
    assert run.status == SyncRun.Status.SUCCEEDED
    assert set(Department.objects.values_list("wecom_id", flat=True)) == set(school.departments)
    assert Student.objects.filter(is_active=True).count() == len(school.students)
    klass = next(d for d in school.departments.values() if d.type == 1)
    head = next(a for a in klass.admins if a.type == 3)
    teacher = Teacher.objects.get(userid=head.userid)
    assert ClassAssignment.objects.filter(
        teacher=teacher,
        department__wecom_id=klass.id,
        role=ClassAssignment.Role.HEAD,
        subject=head.subject,
    ).exists()
    assert teacher.user.username == head.userid
    assert not teacher.user.has_usable_password()
    two_classes = next(s for s in school.students.values() if len(s.departments) == 2)
    assert set(
        Enrollment.objects.filter(student__student_userid=two_classes.userid).values_list(
            "department__wecom_id", flat=True
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
    roster_sync(school=default_school(), client=sync_client)
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

    run = roster_sync(school=default_school(), client=sync_client)

    assert run.status == SyncRun.Status.SUCCEEDED
    assert not Department.objects.get(wecom_id=klass.id).is_active
    assert not Student.objects.get(student_userid=leaver.userid).is_active
    assert not Enrollment.objects.filter(student__student_userid=leaver.userid).exists()
    assert not Enrollment.objects.filter(department__wecom_id=klass.id).exists()
    teacher = Teacher.objects.get(userid=head)
    assert not teacher.is_active
    assert not teacher.user.is_active
    assert not ClassAssignment.objects.filter(department__wecom_id=klass.id).exists()
    assert ClassAssignment.objects.count() < assignments
    assert Student.objects.filter(is_active=True).count() == len(school.students)


def test_roster_failure_changes_nothing(sync_sandbox, sync_client):
    roster_sync(school=default_school(), client=sync_client)
    sync_sandbox.state.set_faults(http502=1.0)
    students = list(Student.objects.values_list("student_userid", "is_active"))
    with pytest.raises(Exception):  # noqa: B017 - any WeCom failure
        roster_sync(school=default_school(), client=sync_client)
    assert list(Student.objects.values_list("student_userid", "is_active")) == students
    run = SyncRun.objects.filter(kind=SyncRun.Kind.ROSTER).first()
    assert run.status == SyncRun.Status.FAILED and "HTTP" in run.error


def test_existing_login_is_linked_not_duplicated(sync_sandbox, sync_client):
    klass = next(d for d in sync_sandbox.state.school.departments.values() if d.type == 1)
    userid = klass.admins[0].userid
    user = get_user_model().objects.create_user(username=userid, password=PASSWORD)
    roster_sync(school=default_school(), client=sync_client)
    assert Teacher.objects.get(userid=userid).user == user
    user.refresh_from_db()
    assert user.check_password(PASSWORD)


# --- discovery ----------------------------------------------------------------------------------


def test_discovery_stores_each_teachers_livings(sync_sandbox, sync_client):
    state = sync_sandbox.state
    roster_sync(school=default_school(), client=sync_client)
    run = livings_discover(school=default_school(), client=sync_client)
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
        living_stats_sync(school=default_school(), client=sync_client, livingid=livingid)
    calls = state.call_count("/cgi-bin/school/living/get_living_info")
    livings_discover(school=default_school(), client=sync_client)
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
            school=default_school(),
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
    chosen = {lv.livingid for lv in sweep_livings_select(school=default_school(), now=now)}
    assert chosen == {"live", "recent", "replay_due", "never"}


def test_sweep_fails_runs_whose_worker_died_and_syncs_again(sync_sandbox):
    livingid = ended_livingid(sync_sandbox.state)
    now = timezone.now()
    dead = SyncRun.objects.create(
        school=default_school(),
        kind=SyncRun.Kind.LIVING,
        livingid=livingid,
        status=SyncRun.Status.RUNNING,
        started_at=now - dt.timedelta(seconds=90),
        heartbeat_at=now - dt.timedelta(seconds=61),
    )
    # Running for hours, but beating: alive (a management command has no time limit).
    alive = SyncRun.objects.create(
        school=default_school(),
        kind=SyncRun.Kind.LIVING,
        livingid="another",
        status=SyncRun.Status.RUNNING,
        started_at=now - dt.timedelta(hours=3),
        heartbeat_at=now - dt.timedelta(seconds=5),
    )

    sweep = recent_livings_sweep(school=default_school(), enqueue=False)

    dead.refresh_from_db()
    alive.refresh_from_db()
    assert dead.status == SyncRun.Status.FAILED
    assert "worker" in dead.error and "no sign of life for 60 s" in dead.error
    assert alive.status == SyncRun.Status.RUNNING
    again = SyncRun.objects.filter(livingid=livingid).exclude(pk=dead.pk).get()
    assert again.status == SyncRun.Status.SUCCEEDED
    assert Living.objects.get(livingid=livingid).stats_complete
    assert sweep.status == SyncRun.Status.SUCCEEDED


def dead_living_run(livingid: str, *, silent_for: int) -> SyncRun:
    """A living run whose worker stopped beating ``silent_for`` seconds ago."""
    return SyncRun.objects.create(
        school=default_school(),
        kind=SyncRun.Kind.LIVING,
        livingid=livingid,
        status=SyncRun.Status.RUNNING,
        started_at=timezone.now() - dt.timedelta(minutes=5),
        heartbeat_at=timezone.now() - dt.timedelta(seconds=silent_for),
    )


def test_dead_run_loses_its_lock_and_a_request_starts_the_living_again(
    db, django_capture_on_commit_callbacks
):
    from school_live.sync.locks import living_lock_holder, living_lock_key

    dead = dead_living_run("lv-dead", silent_for=120)
    cache.set(living_lock_key("lv-dead", school_id=default_school().pk), dead.pk, 600)

    with django_capture_on_commit_callbacks() as callbacks:
        run, created = living_sync_request(school=default_school(), livingid="lv-dead")

    assert created and run.pk != dead.pk and len(callbacks) == 1
    dead.refresh_from_db()
    assert dead.status == SyncRun.Status.FAILED and "no sign of life" in dead.error
    assert living_lock_holder("lv-dead", school_id=default_school().pk) is None
    assert stale_runs_fail(school=default_school()) == []  # nothing left to fail


def test_redelivered_run_takes_over_the_lock_it_holds(sync_sandbox):
    """Celery gives a killed worker's task back: the same run, its lock still held under its
    id. It resumes the sync; it is not "someone else is syncing"."""
    from school_live.sync.locks import living_lock_holder, living_lock_key
    from school_live.sync.tasks import living_stats_task

    livingid = ended_livingid(sync_sandbox.state)
    run = SyncRun.objects.create(
        school=default_school(),
        kind=SyncRun.Kind.LIVING,
        livingid=livingid,
        status=SyncRun.Status.RUNNING,
        started_at=timezone.now() - dt.timedelta(seconds=5),
    )
    cache.set(living_lock_key(livingid, school_id=default_school().pk), run.pk, 600)

    living_stats_task.apply(args=[run.pk])

    run.refresh_from_db()
    assert run.status == SyncRun.Status.SUCCEEDED and run.rows > 0, run.error
    assert Living.objects.get(livingid=livingid).stats_complete
    assert living_lock_holder(livingid, school_id=default_school().pk) is None
    assert SyncRun.objects.filter(livingid=livingid).count() == 1


def test_dead_run_check_restarts_the_living_at_once(db, django_capture_on_commit_callbacks):
    from school_live.sync.tasks import dead_runs_recover_task

    dead = dead_living_run("lv-dead", silent_for=61)
    with django_capture_on_commit_callbacks() as callbacks:
        assert dead_runs_recover_task.apply().result == 1
    assert len(callbacks) == 1
    dead.refresh_from_db()
    assert dead.status == SyncRun.Status.FAILED
    queued = SyncRun.objects.get(livingid="lv-dead", status=SyncRun.Status.QUEUED)
    assert queued.pk != dead.pk


def test_sweep_enqueues_one_task_per_living(sync_sandbox, django_capture_on_commit_callbacks):
    state = sync_sandbox.state
    live = live_livingid(state)
    Living.objects.create(
        school=default_school(),
        livingid=live,
        living_start=timezone.now() - dt.timedelta(minutes=5),
        living_duration=3600,
    )
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        recent_livings_sweep(school=default_school())
        recent_livings_sweep(
            school=default_school()
        )  # the second finds the run queued and adds nothing
    assert len(callbacks) == 1
    assert SyncRun.objects.filter(livingid=live, status=SyncRun.Status.QUEUED).count() == 1


def sweep_queues(capture) -> list[str]:
    """One sweep round as beat runs it; returns the livingids it queued a task for."""
    before = set(SyncRun.objects.filter(kind=SyncRun.Kind.LIVING).values_list("pk", flat=True))
    with capture(execute=False) as callbacks:
        sweep = recent_livings_sweep(school=default_school())
    queued = SyncRun.objects.filter(kind=SyncRun.Kind.LIVING).exclude(pk__in=before)
    assert len(callbacks) == queued.count() == sweep.rows
    return sorted(queued.values_list("livingid", flat=True))


def run_queued() -> list[SyncRun]:
    """What the worker would do with the queued living runs (eagerly, autoretry included)."""
    from school_live.sync.tasks import living_stats_task

    runs = list(SyncRun.objects.filter(kind=SyncRun.Kind.LIVING, status=SyncRun.Status.QUEUED))
    for run in runs:
        living_stats_task.apply(args=[run.pk])
        run.refresh_from_db()
    return runs


def recent_living(livingid: str, *, started_minutes_ago: int, duration_minutes: int = 45):
    """A stored living the sweep picks: live, or ended lately and never synced."""
    return Living.objects.create(
        school=default_school(),
        livingid=livingid,
        living_start=timezone.now() - dt.timedelta(minutes=started_minutes_ago),
        living_duration=duration_minutes * 60,
    )


def test_sweep_does_not_retry_a_living_another_app_created(
    sync_sandbox, admin_user, django_capture_on_commit_callbacks
):
    state = sync_sandbox.state
    livingid = live_livingid(state)
    recent_living(livingid, started_minutes_ago=5, duration_minutes=60)
    state.inject(livingid, page=1, kind="errcode", errcode=92008, times=2)

    assert sweep_queues(django_capture_on_commit_callbacks) == [livingid]
    (failed,) = run_queued()
    assert failed.status == SyncRun.Status.FAILED and failed.errcode == 92008
    assert "本应用创建" in failed.error  # says why; no task retry either
    calls = state.call_count(WATCH)

    # Next rounds, as a task or as the command: nothing for it, and the sweep itself is fine.
    assert sweep_queues(django_capture_on_commit_callbacks) == []
    sweep = recent_livings_sweep(school=default_school(), enqueue=False)
    assert sweep.status == SyncRun.Status.SUCCEEDED and sweep.rows == 0
    assert state.call_count(WATCH) == calls
    assert SyncRun.objects.filter(kind=SyncRun.Kind.LIVING).count() == 1

    # A manual request still runs it: once more refused, then (the app fixed) it syncs ...
    for expected in (SyncRun.Status.FAILED, SyncRun.Status.SUCCEEDED):
        run, created = living_sync_request(
            school=default_school(), livingid=livingid, requested_by=admin_user
        )
        assert created
        run_queued()
        run.refresh_from_db()
        assert run.status == expected
    assert run.errcode is None and state.call_count(WATCH) > calls + 1
    # ... and after a success the sweep keeps it fresh again.
    assert sweep_queues(django_capture_on_commit_callbacks) == [livingid]


def test_sweep_stops_after_a_configuration_error(
    sync_sandbox, settings, django_capture_on_commit_callbacks
):
    state = sync_sandbox.state
    ended, live = ended_livingid(state), live_livingid(state)
    recent_living(ended, started_minutes_ago=120)
    recent_living(live, started_minutes_ago=5, duration_minutes=60)

    # A wrong secret: the sweep checks the token first, fails saying what to fix, queues nothing.
    settings.WECOM_SECRET = "reset-in-the-admin-console"
    with pytest.raises(WeComConfigError):
        sweep_queues(django_capture_on_commit_callbacks)
    sweep = SyncRun.objects.get(kind=SyncRun.Kind.SWEEP)
    assert sweep.status == SyncRun.Status.FAILED and sweep.errcode == 40001
    assert "WECOM_SECRET" in sweep.error and "reset-in-the-admin-console" not in sweep.error
    assert not SyncRun.objects.filter(kind=SyncRun.Kind.LIVING).exists()

    # The app may not call the living API (48002, found by the livings' own calls): one round
    # fails them all, then each round queues a single living whose run says what to fix.
    settings.WECOM_SECRET = SYNC_SECRET
    for livingid in (ended, live):
        state.inject(livingid, page=1, errcode=48002)
    assert sweep_queues(django_capture_on_commit_callbacks) == sorted([ended, live])
    for run in run_queued():
        assert run.status == SyncRun.Status.FAILED and run.errcode == 48002
        assert "上课直播 - 可调用接口的应用" in run.error
    for _round in range(2):
        assert len(sweep_queues(django_capture_on_commit_callbacks)) == 1
        (run,) = run_queued()
        assert run.status == SyncRun.Status.FAILED and run.errcode == 48002

    # The admin fixes it: the next single run succeeds and the round after takes everything.
    state.reset(livings=False)
    assert len(sweep_queues(django_capture_on_commit_callbacks)) == 1
    (run,) = run_queued()
    assert run.status == SyncRun.Status.SUCCEEDED
    assert live in sweep_queues(django_capture_on_commit_callbacks)


def test_sweep_command_stops_at_the_first_configuration_error(sync_sandbox):
    state = sync_sandbox.state
    ended, live = ended_livingid(state), live_livingid(state)
    recent_living(ended, started_minutes_ago=120)
    recent_living(live, started_minutes_ago=5, duration_minutes=60)
    for livingid in (ended, live):
        state.inject(livingid, page=1, errcode=65022)
    with pytest.raises(WeComConfigError):
        recent_livings_sweep(school=default_school(), enqueue=False)
    (living_run,) = SyncRun.objects.filter(kind=SyncRun.Kind.LIVING)
    assert living_run.errcode == 65022 and "家校沟通" in living_run.error
    sweep = SyncRun.objects.get(kind=SyncRun.Kind.SWEEP)
    assert sweep.status == SyncRun.Status.FAILED and "65022" in sweep.error


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
    rows = PeriodicTask.objects.filter(task__startswith="sync.").select_related("crontab")
    tasks = {t.task: t for t in rows}
    sweep = tasks["sync.sweep_recent_livings"]
    assert (sweep.crontab.minute, sweep.crontab.hour) == ("*/10", "7-21")
    assert str(sweep.crontab.timezone) == "Asia/Shanghai"
    assert set(tasks) == {
        "sync.sweep_recent_livings",
        "sync.discover_livings",
        "sync.roster",
        "sync.recover_dead_runs",
        "sync.live_tick",
    }
    # Live lessons: an interval of 20 s, not a crontab (crontabs count in minutes).
    tick = tasks["sync.live_tick"]
    assert tick.crontab is None and (tick.interval.every, tick.interval.period) == (20, "seconds")
    # Dead runs are looked for around the clock, every minute.
    recover = tasks["sync.recover_dead_runs"]
    assert (recover.crontab.minute, recover.crontab.hour) == ("*", "*")
    # Discovery: every 15 minutes in school hours, hourly outside them; every hour covered once.
    discovery = [t.schedule for t in rows if t.task == "sync.discover_livings"]
    assert sorted(len(s.minute) for s in discovery) == [1, 4]
    day, night = sorted(discovery, key=lambda s: -len(s.minute))
    assert day.hour == set(range(7, 22)) and night.hour == set(range(24)) - day.hour
    from school_live.celery import app

    app.loader.import_default_modules()
    assert set(tasks) <= set(app.tasks)


def schedule_migration():
    import importlib

    return importlib.import_module("school_live.sync.migrations.0002_discovery_every_15_minutes")


def discovery_schedules() -> dict[str, tuple[str, bool]]:
    return {
        t.name: (
            " ".join([t.crontab.minute, t.crontab.hour]) if t.crontab else str(t.interval),
            t.enabled,
        )
        for t in PeriodicTask.objects.filter(task="sync.discover_livings").select_related(
            "crontab", "interval"
        )
    }


def test_schedule_migration_is_reversible(db):
    from django.apps import apps

    migration = schedule_migration()
    migrated = discovery_schedules()
    migration.hourly(apps, None)
    assert discovery_schedules() == {"sync: discover livings (hourly)": ("5 *", True)}
    migration.every_15_minutes(apps, None)
    assert discovery_schedules() == migrated


@pytest.mark.parametrize(
    "edit", [{"minute": "30"}, {"hour": "6-22"}, {"enabled": False}, {"interval": True}]
)
def test_schedule_migration_leaves_an_edited_schedule_alone(db, edit):
    from django.apps import apps
    from django_celery_beat.models import CrontabSchedule, IntervalSchedule

    migration = schedule_migration()
    migration.hourly(apps, None)  # back to what 0001 seeded
    task = PeriodicTask.objects.get(task="sync.discover_livings")
    if "enabled" in edit:
        task.enabled = False
    elif "interval" in edit:
        task.interval = IntervalSchedule.objects.create(every=20, period="minutes")
        task.crontab = None
    else:
        fields = {"minute": "5", "hour": "*", **edit}
        task.crontab = CrontabSchedule.objects.create(timezone="Asia/Shanghai", **fields)
    task.save()
    edited = discovery_schedules()

    migration.every_15_minutes(apps, None)

    assert discovery_schedules() == edited
    task.refresh_from_db()
    assert task.name == "sync: discover livings (hourly)"


# --- endpoints ----------------------------------------------------------------------------------


@pytest.fixture
def class_living(school):
    living = Living.objects.create(school=default_school(), livingid="lv_class_one", theme="语文")
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
    run, _created = living_sync_request(school=default_school(), livingid=class_living.livingid)
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
