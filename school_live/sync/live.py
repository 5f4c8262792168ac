"""Live lessons stay fresh: the tick, every SYNC_LIVE_TICK_SECONDS [20] around the clock.

A roll call is only as good as its last sync. The status callback queues a sync the moment a
lesson goes live (callbacks.py), and the sweep every 10 minutes catches the rest; in between,
this tick queues a sync of

- every lesson live now (by ``attendance.state``: the clock, or WeCom's word when a teacher
  started early or ended early) whose statistics are older than SYNC_LIVE_STALE_SECONDS [35]:
  with the tick's period that keeps each one under a minute old;
- every lesson that ended within SYNC_ENDED_WINDOW_SECONDS [300] and has no complete sync yet
  (one that read every page after the end): its final numbers, within the tick's period of the end,
  and again on the next ticks should that sync fail.

Nothing else: not a lesson ahead, not one long over (the sweep's), not a cancelled one, not one
whose sync is already queued or running (``living_sync_request`` hands back the active run and
queues nothing), not one WeCom refuses for good (another app's living: the sweep's ``livings_refused``). While
the app's own setup is broken (bad secret, untrusted IP) only one living is tried per tick, as
the sweep does. The tick makes no WeCom call itself: each queued sync is three calls or so
(get_living_info, a page of watch and unwatch stats each, per hundred students).
"""

import datetime as dt

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from school_live.attendance.state import LivingState, living_state
from school_live.school.models import Living, School, SyncRun
from school_live.sync.sweep import LONGEST_LIVING, app_setup_failure, livings_refused
from school_live.sync.triggers import living_sync_request


def stale_after() -> dt.timedelta:
    return dt.timedelta(seconds=float(getattr(settings, "SYNC_LIVE_STALE_SECONDS", 35)))


def ended_window() -> dt.timedelta:
    return dt.timedelta(seconds=float(getattr(settings, "SYNC_ENDED_WINDOW_SECONDS", 300)))


def live_livings_due(*, school: School, now: dt.datetime | None = None) -> list[Living]:
    """The school's livings the tick syncs: live with stale statistics, or just ended and not
    complete; oldest start first."""
    now = now or timezone.now()
    # Bounded in SQL by the start (a lesson started early by WeCom's word may start "later");
    # the end is compared here, as in the sweep (SQLite cannot add a column of seconds).
    candidates = (
        Living.objects.filter(
            school=school, living_start__gte=now - LONGEST_LIVING - ended_window()
        )
        .filter(Q(living_start__lte=now) | Q(status__in=(Living.Status.LIVE, Living.Status.ENDED)))
        .exclude(status=Living.Status.CANCELLED)
        .order_by("living_start", "pk")
    )
    due = []
    for living in candidates:
        current = living_state(living, now=now)
        synced = living.stats_synced_at
        if current == LivingState.LIVE:
            if synced is None or synced <= now - stale_after():
                due.append(living)
        elif current == LivingState.ENDED and not living.stats_complete:
            ended_at = living.living_end
            if living.status == Living.Status.ENDED and living.status_changed_at:
                # Ended early by WeCom's word: the planned end may still be ahead.
                ended_at = min(ended_at, living.status_changed_at)
            if now - ended_window() <= ended_at:
                due.append(living)
    return due


def live_syncs_queue(*, school: School, now: dt.datetime | None = None) -> list[SyncRun]:
    """Queue the school's due livings' syncs; returns the runs created (not those already under
    way)."""
    livingids = [living.livingid for living in live_livings_due(school=school, now=now)]
    refused = livings_refused(school=school, livingids=livingids)
    livingids = [livingid for livingid in livingids if livingid not in refused]
    if livingids and app_setup_failure(school) is not None:
        livingids = livingids[:1]  # its run tells the admin what to fix, or that it is fixed
    queued = []
    for livingid in livingids:
        run, created = living_sync_request(school=school, livingid=livingid)
        if created:
            queued.append(run)
    return queued
