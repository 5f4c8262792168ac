"""Asking for a sync from a view, the admin or the sweep: one queued or running run per living.

The SyncRun is created first (so the caller can point at it) and the task is sent when the
transaction commits, so a worker never looks for a run that is not there yet.

The tasks call the services, and the sweep (a service) queues livings through here: so each
request imports its task inside the function, the one way a service reaches a task
(tests/test_layout.py holds every other import to one direction).

Every request names its school: a livingid is that school's, and each run records it.
"""

import datetime as dt

from django.core.cache import cache
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from school_live.school.models import Living, School, SyncRun
from school_live.sync.dead import dead_runs_fail
from school_live.sync.liveness import runs_alive
from school_live.sync.runs import queued_stale_after


def run_active(runs: QuerySet[SyncRun]) -> SyncRun | None:
    """The latest of ``runs`` that is queued, or running with a recent heartbeat."""
    now = timezone.now()
    running = runs_alive(runs, now=now).values("pk")
    queued = runs.filter(status=SyncRun.Status.QUEUED, created_at__gte=now - queued_stale_after())
    return (runs.filter(pk__in=running) | queued).order_by("-created_at").first()


def living_run_active(*, school: School, livingid: str) -> SyncRun | None:
    """The run queued for or syncing the school's living."""
    return run_active(
        SyncRun.objects.filter(school=school, kind=SyncRun.Kind.LIVING, livingid=livingid)
    )


# A person may ask for a sync of one living this often (the dashboard button, the admin action):
# each sync costs WeCom calls from the corp's shared budget (wecom/budget.py).
MANUAL_SYNC_EVERY = 60  # seconds


def manual_sync_allowed(*, user, school: School, livingid: str) -> bool:
    """Counts ``user``'s request to sync the school's ``livingid``; False if they asked within
    the last MANUAL_SYNC_EVERY seconds (shared by every process: an atomic add in the cache)."""
    key = f"sync:manual:{user.pk}:{school.pk}:{livingid}"
    return cache.add(key, 1, timeout=MANUAL_SYNC_EVERY)


def manual_living_sync_request(
    *, school: School, livingid: str, user
) -> tuple[SyncRun | None, bool]:
    """A person's request: (the active run, False) when one is under way, (None, False) when
    they asked for this living within the last minute, else (the new run, True)."""
    active = living_run_active(school=school, livingid=livingid)
    if active is not None:
        return active, False
    if not manual_sync_allowed(user=user, school=school, livingid=livingid):
        return None, False
    return living_sync_request(school=school, livingid=livingid, requested_by=user)


def living_sync_request(
    *, school: School, livingid: str, requested_by=None
) -> tuple[SyncRun, bool]:
    """Queue the stats sync of the school's living; returns (run, created). An active run is
    returned as is."""
    from school_live.sync.tasks import living_stats_task

    with transaction.atomic():
        living = Living.objects.select_for_update().filter(school=school, livingid=livingid).first()
        # A run whose worker died is failed, with the reason, and this request starts afresh.
        dead_runs_fail(
            SyncRun.objects.filter(school=school, kind=SyncRun.Kind.LIVING, livingid=livingid)
        )
        active = living_run_active(school=school, livingid=livingid)
        if active is not None:
            return active, False
        run = SyncRun.objects.create(
            school=school,
            kind=SyncRun.Kind.LIVING,
            livingid=livingid,
            living=living,
            requested_by=requested_by,
        )
        living_stats_task.delay_on_commit(run.pk)
    return run, True


def living_syncs_request(
    *, school: School, livingids: list[str], info_since: dt.datetime | None = None
) -> list[SyncRun]:
    """``living_sync_request`` for many livings in one transaction (a few queries in all, not a
    few per living); returns the runs it created. ``info_since`` goes to each task (see
    living_stats.living_stats_sync)."""
    from school_live.sync.tasks import living_stats_task

    livingids = list(dict.fromkeys(livingids))
    kwargs = {"info_since": info_since.isoformat()} if info_since else {}
    with transaction.atomic():
        # Locked in one order by every caller (discovery shares, the sweep), so two of them
        # with livings in common wait for each other instead of deadlocking.
        livings = dict(
            Living.objects.select_for_update()
            .filter(school=school, livingid__in=livingids)
            .order_by("livingid")
            .values_list("livingid", "pk")
        )
        runs = SyncRun.objects.filter(
            school=school, kind=SyncRun.Kind.LIVING, livingid__in=livingids
        )
        dead_runs_fail(runs)
        now = timezone.now()
        active = set(runs_alive(runs, now=now).values_list("livingid", flat=True)) | set(
            runs.filter(
                status=SyncRun.Status.QUEUED, created_at__gte=now - queued_stale_after()
            ).values_list("livingid", flat=True)
        )
        created = SyncRun.objects.bulk_create(
            SyncRun(
                school=school,
                kind=SyncRun.Kind.LIVING,
                livingid=livingid,
                living_id=livings.get(livingid),
            )
            for livingid in livingids
            if livingid not in active
        )
        for run in created:
            living_stats_task.delay_on_commit(run.pk, **kwargs)
    return created


# A school sync on the workers reads the teachers' livings in at most this many tasks, so that
# every worker process takes a share instead of one reading them all.
DISCOVERY_SHARES = 16


def discovery_shares_request(
    *, school: School, teachers: list[str], requested_by=None
) -> list[SyncRun]:
    """Queue the discovery of ``teachers`` as up to DISCOVERY_SHARES tasks, each with its own
    run; each then queues the stats syncs of its livings (discovery.livings_discover)."""
    from school_live.sync.tasks import livings_discover_task

    count = min(DISCOVERY_SHARES, len(teachers))
    shares = [teachers[n::count] for n in range(count)]
    runs = []
    with transaction.atomic():
        for share in shares:
            run = SyncRun.objects.create(
                school=school, kind=SyncRun.Kind.DISCOVERY, requested_by=requested_by
            )
            livings_discover_task.delay_on_commit(run.pk, teachers=share)
            runs.append(run)
    return runs


def school_sync_request(*, school: School, requested_by=None) -> tuple[SyncRun, bool]:
    """Queue a full sync of the school (roster, discovery, recent livings) unless one is under
    way."""
    from school_live.sync.tasks import school_sync_task

    with transaction.atomic():
        runs = SyncRun.objects.filter(school=school, kind=SyncRun.Kind.SCHOOL)
        dead_runs_fail(runs)
        active = run_active(runs)
        if active is not None:
            return active, False
        run = SyncRun.objects.create(
            school=school, kind=SyncRun.Kind.SCHOOL, requested_by=requested_by
        )
        school_sync_task.delay_on_commit(run.pk)
    return run, True


def dead_runs_recover() -> list[SyncRun]:
    """Fail every run whose worker died (liveness.py) and start its living, or the school sync
    it was, again at once; returns the new runs. The dead-run check runs this every minute."""
    again = []
    for dead in dead_runs_fail():
        if dead.kind == SyncRun.Kind.LIVING and dead.livingid:
            run, created = living_sync_request(school=dead.school, livingid=dead.livingid)
        elif dead.kind == SyncRun.Kind.SCHOOL:
            run, created = school_sync_request(school=dead.school, requested_by=dead.requested_by)
        else:
            continue  # roster, discovery and the sweep run again on their schedule
        if created:
            again.append(run)
    return again
