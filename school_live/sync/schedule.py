"""Every periodic task of school_live, in one table, and the one step that puts it into
django-celery-beat (whose rows an admin edits in the admin: Periodic tasks).

``schedule_seed`` runs after every ``migrate`` (post_migrate, sync/apps.py), so a deploy's
release step, a fresh database and the test database all get the table. It only ever adds:

- a task is present when a PeriodicTask has its name or one of its former names, or — for a task
  with one row in the table — when any PeriodicTask runs its task (an admin may rename a row);
  a present task keeps its schedule, enabled flag and description as they are: an admin's change
  survives every deploy. Only a row found by name whose task path moved gets the new path.
- a missing task is created with the table's schedule. To stop a task, disable it in the admin:
  a deleted row comes back at the next deploy.

Crontab times are the school's (settings.TIME_ZONE, Asia/Shanghai). The README's "Schedule" table
is this table (tests/test_schedule.py compares them).
"""

from dataclasses import dataclass, field

from django.conf import settings
from django.utils import timezone


@dataclass(frozen=True)
class Crontab:
    minute: str
    hour: str
    day_of_week: str = "*"

    def text(self) -> str:
        return f"crontab `{self.minute} {self.hour} * * {self.day_of_week}`"


@dataclass(frozen=True)
class Every:
    every: int
    period: str  # "seconds" or "minutes" (django-celery-beat's IntervalSchedule periods)

    def text(self) -> str:
        return f"every {self.every} {self.period}"


@dataclass(frozen=True)
class PeriodicEntry:
    name: str
    task: str
    when: Crontab | Every
    why: str
    expire_seconds: int | None = None
    former_names: tuple[str, ...] = field(default=())


def periodic_tasks() -> list[PeriodicEntry]:
    """The table. Read at call time: the live tick's period is a setting."""
    tick = int(getattr(settings, "SYNC_LIVE_TICK_SECONDS", 20))
    return [
        PeriodicEntry(
            "sync: recent livings sweep (every 10 minutes, 07–21)",
            "sync.sweep_recent_livings",
            Crontab("*/10", "7-21"),
            "keeps live and recently ended livings fresh (and replays, and livings found late)",
        ),
        PeriodicEntry(
            "sync: discover livings (every 15 minutes, 07–21)",
            "sync.discover_livings",
            Crontab("5,20,35,50", "7-21"),
            "finds the teachers' new livings while they run (off the sweep's tens)",
            former_names=("sync: discover livings (hourly)",),
        ),
        PeriodicEntry(
            "sync: discover livings (hourly, 22–06)",
            "sync.discover_livings",
            Crontab("5", "0-6,22-23"),
            "the same at night, hourly",
            former_names=("sync: discover livings (hourly)",),
        ),
        PeriodicEntry(
            "sync: roster (nightly 02:30)",
            "sync.roster",
            Crontab("30", "2"),
            "classes, students, parents and teachers from 家校通讯录",
        ),
        PeriodicEntry(
            "sync: recover dead runs (every minute)",
            "sync.recover_dead_runs",
            Crontab("*", "*"),
            "fails runs whose worker died and starts their livings again",
        ),
        PeriodicEntry(
            f"sync: live lessons tick (every {tick} seconds)",
            "sync.live_tick",
            Every(tick, "seconds"),
            "queues syncs of live lessons going stale and of lessons that just ended "
            "(SYNC_LIVE_TICK_SECONDS; a tick older than its period is dropped)",
            expire_seconds=tick,
        ),
        PeriodicEntry(
            "reminders: automatic reminders to families (every minute)",
            "reminders.send_automatic",
            Crontab("*", "*"),
            "reminds the families of absent students, for classes that switched it on",
        ),
        PeriodicEntry(
            "reports: lesson reports (every 5 minutes)",
            "school_live.reports.tasks.check_living_reports",
            Every(5, "minutes"),
            "queues the attendance report of each lesson whose statistics are complete and "
            "that has not been sent yet",
        ),
        PeriodicEntry(
            "reports: weekly teacher digest (Monday 08:00)",
            "school_live.reports.tasks.send_weekly_teacher_digests",
            Crontab("0", "8", "1"),
            "each teacher's week: absent twice or more, falling coverage, unreachable families",
        ),
        PeriodicEntry(
            "reports: weekly admin digest (Monday 08:00)",
            "school_live.reports.tasks.send_weekly_admin_digests",
            Crontab("0", "8", "1"),
            "the school's week per grade, to staff users with an email address",
        ),
        PeriodicEntry(
            "setup check: WeCom connection check (daily 06:40)",
            "setup_check.check_schools",
            Crontab("40", "6"),
            "probes each school's WeCom set-up before lessons start; its admins are emailed "
            "when the result changes",
        ),
        PeriodicEntry(
            "schools: purge uninstalled schools (daily 03:40)",
            "install.purge_uninstalled",
            Crontab("40", "3"),
            "deletes the data of schools uninstalled more than SCHOOL_PURGE_AFTER_DAYS ago, "
            "leaving an audit line",
        ),
    ]


def _first_or_create(model, using: str, **fields):
    """Duplicates of a schedule may exist (an admin's, an old seed's): reuse the first."""
    manager = model.objects.using(using)
    return manager.filter(**fields).order_by("pk").first() or manager.create(**fields)


def _schedule_fields(apps, using: str, when: Crontab | Every) -> dict:
    if isinstance(when, Every):
        interval_model = apps.get_model("django_celery_beat", "IntervalSchedule")
        interval = _first_or_create(interval_model, using, every=when.every, period=when.period)
        return {"interval": interval}
    crontab_model = apps.get_model("django_celery_beat", "CrontabSchedule")
    crontab = _first_or_create(
        crontab_model,
        using,
        minute=when.minute,
        hour=when.hour,
        day_of_week=when.day_of_week,
        day_of_month="*",
        month_of_year="*",
        timezone=settings.TIME_ZONE,
    )
    return {"crontab": crontab}


def schedule_seed(apps, using: str = "default") -> list[str]:
    """Create the table's missing tasks; fix the task path of a row found by name. Returns the
    names of the rows created or changed. ``apps``: an app registry (post_migrate's)."""
    periodic_task = apps.get_model("django_celery_beat", "PeriodicTask")
    rows = periodic_task.objects.using(using)
    table = periodic_tasks()
    rows_per_task: dict[str, int] = {}
    for entry in table:
        rows_per_task[entry.task] = rows_per_task.get(entry.task, 0) + 1
    changed = []
    for entry in table:
        row = rows.filter(name=entry.name).first()
        if row is not None:
            if row.task != entry.task:
                row.task = entry.task
                row.save(update_fields=["task"])
                changed.append(entry.name)
            continue
        if rows.filter(name__in=entry.former_names).exists():
            continue  # the admin kept an older row of it: that row is the schedule
        if rows_per_task[entry.task] == 1 and rows.filter(task=entry.task).exists():
            continue
        rows.create(
            name=entry.name,
            task=entry.task,
            expire_seconds=entry.expire_seconds,
            description=entry.why[0].upper() + entry.why[1:] + ".",
            enabled=True,
            **_schedule_fields(apps, using, entry.when),
        )
        changed.append(entry.name)
    if changed:
        # A historical model skips PeriodicTask's save() hook: tell running beats to reload.
        changes = apps.get_model("django_celery_beat", "PeriodicTasks")
        changes.objects.using(using).update_or_create(
            ident=1, defaults={"last_update": timezone.now()}
        )
    return changed


def schedule_seed_after_migrate(sender, *, using="default", apps=None, **kwargs) -> None:
    """post_migrate: seed once django-celery-beat's tables are there. ``apps``: the migrated
    state's registry; a flush (TransactionTestCase) sends none: the installed apps then."""
    if apps is None:
        from django.apps import apps
    try:
        apps.get_model("django_celery_beat", "PeriodicTask")
        apps.get_model("django_celery_beat", "PeriodicTasks")
    except LookupError:
        return  # a partial migrate that stopped before django-celery-beat
    schedule_seed(apps, using)
