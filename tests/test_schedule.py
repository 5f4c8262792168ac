"""One schedule: every periodic task in one table (sync/schedule.py), put into django-celery-beat
after every migrate. A missing task is created; a task an admin changed keeps the change."""

import re
from pathlib import Path

import pytest
from django.apps import apps
from django.core.management import call_command
from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask

from school_live.sync.schedule import Crontab, Every, periodic_tasks, schedule_seed

README = Path(__file__).resolve().parent.parent / "README.md"


def row_of(task: PeriodicTask) -> tuple:
    if task.interval_id is not None:
        when = Every(task.interval.every, task.interval.period)
    else:
        crontab = task.crontab
        assert (crontab.day_of_month, crontab.month_of_year) == ("*", "*")
        assert str(crontab.timezone) == "Asia/Shanghai"
        when = Crontab(crontab.minute, crontab.hour, crontab.day_of_week)
    return (task.name, task.task, when, task.expire_seconds, task.enabled)


def table_rows() -> set[tuple]:
    return {(e.name, e.task, e.when, e.expire_seconds, True) for e in periodic_tasks()}


def beat_rows() -> set[tuple]:
    return {row_of(t) for t in PeriodicTask.objects.select_related("crontab", "interval")}


def test_after_migrate_the_beat_rows_are_the_table(db):
    assert beat_rows() == table_rows()
    assert len(periodic_tasks()) == PeriodicTask.objects.count() == 12
    descriptions = dict(PeriodicTask.objects.values_list("name", "description"))
    assert all(
        descriptions[e.name].lower().startswith(e.why[:20].lower()) for e in periodic_tasks()
    )
    from school_live.celery import app

    app.loader.import_default_modules()
    assert {e.task for e in periodic_tasks()} <= set(app.tasks)


def test_seeding_again_changes_nothing(db):
    before = beat_rows()
    assert schedule_seed(apps) == []
    call_command("migrate", verbosity=0)
    assert beat_rows() == before


@pytest.mark.parametrize("edit", ["crontab", "interval", "disabled", "renamed"])
def test_an_admin_change_survives_a_deploy(db, edit):
    if edit == "interval":
        task = PeriodicTask.objects.get(task="school_live.reports.tasks.check_living_reports")
        task.interval = IntervalSchedule.objects.create(every=7, period="minutes")
    elif edit == "crontab":
        task = PeriodicTask.objects.get(task="sync.roster")
        task.crontab = CrontabSchedule.objects.create(
            minute="15", hour="3", timezone="Asia/Shanghai"
        )
    elif edit == "disabled":
        task = PeriodicTask.objects.get(task="reminders.send_automatic")
        task.enabled = False
    else:
        task = PeriodicTask.objects.get(task="sync.live_tick")
        task.name = "live tick, as our admin calls it"
    task.save()
    edited = beat_rows()

    call_command("migrate", verbosity=0)  # a deploy

    assert beat_rows() == edited


def test_a_missing_task_is_created_and_a_moved_task_path_followed(db):
    PeriodicTask.objects.filter(task="sync.recover_dead_runs").delete()
    PeriodicTask.objects.filter(task="sync.roster").update(task="sync.old_roster_name")

    call_command("migrate", verbosity=0)

    assert beat_rows() == table_rows()


def test_discovery_kept_as_its_old_hourly_row_gets_no_day_and_night_rows(db):
    """A database whose admin edited 0001's hourly discovery row: migration 0002 left it alone,
    and the schedule step does not add the two rows beside it."""
    PeriodicTask.objects.filter(task="sync.discover_livings").delete()
    hourly = CrontabSchedule.objects.create(minute="7", hour="*", timezone="Asia/Shanghai")
    PeriodicTask.objects.create(
        name="sync: discover livings (hourly)", task="sync.discover_livings", crontab=hourly
    )

    assert schedule_seed(apps) == []

    names = PeriodicTask.objects.filter(task="sync.discover_livings").values_list("name")
    assert list(names) == [("sync: discover livings (hourly)",)]


def test_the_live_tick_takes_its_period_from_the_setting(db, settings):
    PeriodicTask.objects.filter(task="sync.live_tick").delete()
    settings.SYNC_LIVE_TICK_SECONDS = 30

    assert schedule_seed(apps) == ["sync: live lessons tick (every 30 seconds)"]

    tick = PeriodicTask.objects.get(task="sync.live_tick")
    assert (tick.interval.every, tick.interval.period, tick.expire_seconds) == (30, "seconds", 30)


def test_the_readme_shows_the_table():
    text = README.read_text(encoding="utf-8")
    section = text.split("### The schedule", 1)[1].split("\n#", 1)[0]
    rows = re.findall(r"^\| (.+?) \| `(.+?)` \| (.+?) \| (.+?) \|$", section, re.M)
    assert rows == [(e.name, e.task, e.when.text(), e.why) for e in periodic_tasks()]
