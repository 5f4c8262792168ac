"""The sweep: keep recent livings fresh and pick up syncs whose worker died.

Which livings (defaults in brackets, settings beside them):
- live now;
- ended within the last SYNC_RECENT_HOURS [3] and not yet complete (a complete sync read every
  page after the end);
- once more SYNC_REPLAY_DELAY_HOURS [6] after the end, to catch replay viewing;
- never synced at all although ended within SYNC_BACKFILL_DAYS [7] (found by discovery late).

What it leaves alone, since asking again would only record the same failure every round:
- a living whose latest sync failed with a permanent WeCom error for that living (another app's: created
  by another app; 40058: invalid livingid). A manual sync (dashboard button, admin action,
  ``sync_living``) still runs it, and once one succeeds the sweep takes the living back;
- while the app itself is set up wrongly: the access token is checked before anything is queued
  (a wrong secret or corp id fails the sweep run, with what to fix, and queues nothing), and
  after a living run failed on the app's setup (not allowed to call the API, untrusted IP, ...)
  with no living synced since, only one living is queued per round, to find out whether an
  admin has fixed it.

The filesystem broker deletes a message when a worker takes it, so a worker killed mid-sync
leaves its run "running" forever; Redis redelivers, but only after its visibility timeout. A run
whose heartbeat stopped has lost its worker (liveness.py): the sweep, like the dead-run check
every minute, marks it failed and syncs that living again.

Run here (the ``sync_school`` command), the livings are synced one after the other, each waiting
out WeCom's transient errors; one that still fails is recorded and the others go on, and those
that failed on a transient error get another round.
"""

import datetime as dt
from collections.abc import Collection

from django.conf import settings
from django.db.models import Max
from django.utils import timezone

from school_live.school.models import Living, School, SyncRun
from school_live.sync.dead import dead_runs_fail
from school_live.sync.living_stats import living_stats_sync
from school_live.sync.patience import patient
from school_live.sync.runs import (
    APP_WIDE_ERRCODES,
    Progress,
    errcode_permanent,
    run_recorded,
    units_problem,
)
from school_live.sync.triggers import living_syncs_request
from school_live.sync.units import units_each
from school_live.wecom.client import WeComClient, school_client

# Longer than any lesson: livings that started earlier cannot be live or recently ended.
LONGEST_LIVING = dt.timedelta(hours=12)


def _hours(name: str, default: float) -> dt.timedelta:
    return dt.timedelta(hours=float(getattr(settings, name, default)))


def stale_runs_fail(*, school: School, now: dt.datetime | None = None) -> list[SyncRun]:
    """Mark the school's runs whose worker died as failed; returns them."""
    return dead_runs_fail(SyncRun.objects.filter(school=school), now=now)


def sweep_livings_select(
    *, school: School, now: dt.datetime | None = None, among: Collection[str] | None = None
) -> list[Living]:
    """The school's livings the sweep syncs (of those in ``among``, when given), oldest start
    first."""
    now = now or timezone.now()
    recent = _hours("SYNC_RECENT_HOURS", 3)
    replay_delay = _hours("SYNC_REPLAY_DELAY_HOURS", 6)
    backfill = dt.timedelta(days=float(getattr(settings, "SYNC_BACKFILL_DAYS", 7)))
    oldest = now - max(recent, replay_delay + dt.timedelta(days=2), backfill) - LONGEST_LIVING
    chosen = []
    # Bounded by start time in SQL; the end (start + duration) is compared here, since SQLite
    # cannot add a column of seconds to a timestamp.
    livings = Living.objects.filter(school=school, living_start__gte=oldest, living_start__lte=now)
    if among is not None:
        livings = livings.filter(livingid__in=list(among))
    for living in livings.order_by("living_start"):
        end = living.living_end
        live = end >= now
        recently_ended = not living.stats_complete and now - recent <= end
        synced = living.stats_synced_at
        replay_due = end + replay_delay <= now <= end + replay_delay + dt.timedelta(days=2) and (
            synced is None or synced < end + replay_delay
        )
        never = synced is None and now - backfill <= end
        if live or recently_ended or replay_due or never:
            chosen.append(living)
    return chosen


FINISHED = (SyncRun.Status.SUCCEEDED, SyncRun.Status.FAILED)


def sweep_livingids(*, school: School, among: Collection[str]) -> list[str]:
    """Those of ``among`` (the school's) the sweep would sync now, leaving out the ones WeCom
    refused."""
    livingids = [living.livingid for living in sweep_livings_select(school=school, among=among)]
    refused = livings_refused(school=school, livingids=livingids)
    livingids = [livingid for livingid in livingids if livingid not in refused]
    if app_setup_failure(school) is not None:
        livingids = livingids[:1]  # as in _sweep_livings
    return livingids


def livings_refused(*, school: School, livingids: list[str]) -> set[str]:
    """Those of the school's ``livingids`` whose latest finished sync failed with a permanent
    WeCom error."""
    latest = (
        SyncRun.objects.filter(
            school=school, kind=SyncRun.Kind.LIVING, livingid__in=livingids, status__in=FINISHED
        )
        .values("livingid")
        .annotate(latest=Max("pk"))  # pks grow with creation: the latest run of each living
        .values("latest")
    )
    return {
        livingid
        for livingid, errcode in SyncRun.objects.filter(pk__in=latest).values_list(
            "livingid", "errcode"
        )
        if errcode_permanent(errcode)
    }


def app_setup_failure(school: School) -> SyncRun | None:
    """The school's latest living run that failed on its app's setup, unless a living synced
    after it."""
    failed = (
        SyncRun.objects.filter(
            school=school,
            kind=SyncRun.Kind.LIVING,
            status=SyncRun.Status.FAILED,
            errcode__in=APP_WIDE_ERRCODES,
            finished_at__isnull=False,
        )
        .order_by("-finished_at")
        .first()
    )
    if failed is None:
        return None
    fixed = SyncRun.objects.filter(
        school=school,
        kind=SyncRun.Kind.LIVING,
        status=SyncRun.Status.SUCCEEDED,
        finished_at__gt=failed.finished_at,
    ).exists()
    return None if fixed else failed


def recent_livings_sweep(
    *,
    client: WeComClient | None = None,
    run: SyncRun | None = None,
    now: dt.datetime | None = None,
    enqueue: bool = True,
    info_since: dt.datetime | None = None,
    discovered: Collection[str] = (),
    school: School | None = None,
) -> SyncRun:
    """Fail dead runs, then sync their livings and the recent ones: as tasks (``enqueue``) or
    right here, one after the other (the management command). ``info_since``: the info of
    livings stored since then is not read again. Livings of ``discovered`` teachers that are
    not settled are left out: the discovery shares of the same school sync queue them. The
    livings and the dead runs are ``run``'s school's (``school``'s, for a new run)."""
    run = run or SyncRun.objects.create(school=school, kind=SyncRun.Kind.SWEEP)
    school = run.school
    with run_recorded(run):
        stale = stale_runs_fail(school=school, now=now)
        discovered = set(discovered)
        livingids = list(
            dict.fromkeys(
                [r.livingid for r in stale if r.kind == SyncRun.Kind.LIVING and r.livingid]
                + [
                    living.livingid
                    for living in sweep_livings_select(school=school, now=now)
                    if living.stats_complete or living.anchor_userid not in discovered
                ]
            )
        )
        refused = livings_refused(school=school, livingids=livingids)
        livingids = [livingid for livingid in livingids if livingid not in refused]
        if livingids:
            with school_client(client, school=school) as used, patient(used):
                _sweep_livings(used, livingids, run, enqueue=enqueue, since=info_since)
    return run


def _sweep_livings(
    client: WeComClient, livingids: list[str], run: SyncRun, *, enqueue: bool, since=None
):
    # A wrong secret or corp id fails every living the same way: fail here, once, saying what
    # to fix. The token is cached, so this usually costs no call at all.
    client.get_access_token()
    if not enqueue:
        run.rows = len(livingids)
        _sync_here(client, livingids, run, since)
        return
    if app_setup_failure(run.school) is not None:
        livingids = livingids[:1]  # its run tells the admin what to fix, or that it is fixed
    run.rows = len(livingids)
    living_syncs_request(school=run.school, livingids=livingids, info_since=since)


def _sync_here(client: WeComClient, livingids: list[str], run: SyncRun, since) -> None:
    progress = Progress(run)

    def sync(livingid: str) -> None:
        living_stats_sync(client=client, school=run.school, livingid=livingid, info_since=since)
        progress.page()

    failed = units_each({livingid: livingid for livingid in livingids}, sync)
    if failed:
        raise units_problem("livings", len(livingids), failed)
