"""Where a living stands: not started, live now or ended, and whether WeCom's numbers are in.

A verdict needs both a started lesson and a sync of its watch statistics: before the start, or
before the first sync, nobody has a watch row, so every student would look absent (or
unreachable). Pages show a state instead of numbers then, and every query across livings counts
only the livings that ``counted_livings`` keeps.
"""

import dataclasses
import datetime as dt

from django.db import models
from django.db.models import DateTimeField, F, Q, QuerySet, Value
from django.db.models.lookups import LessThanOrEqual
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from school_live.school.models import Living


class LivingState(models.TextChoices):
    # Translators: a live lesson whose start is still ahead (未开始)
    UPCOMING = "upcoming", _("upcoming")
    # Translators: a live lesson under way now (直播中)
    LIVE = "live", _("live now")
    # Translators: a live lesson that is over (已结束)
    ENDED = "ended", _("ended")
    # Translators: a scheduled live lesson that was cancelled in WeCom (已取消)
    CANCELLED = "cancelled", _("cancelled")


class Display(models.TextChoices):
    """What a page shows for a living: a ``LivingState``, or "unsynced" when it has ended but
    its statistics were never read (the value of ``#living-state[data-state]``). A live lesson
    is "live" from its start: its roll call shows the roster before the first sync."""

    UPCOMING = LivingState.UPCOMING.value, LivingState.UPCOMING.label
    LIVE = LivingState.LIVE.value, LivingState.LIVE.label
    ENDED = LivingState.ENDED.value, LivingState.ENDED.label
    CANCELLED = LivingState.CANCELLED.value, LivingState.CANCELLED.label
    # Translators: a live lesson whose numbers WeCom has not been asked for yet (尚未同步)
    UNSYNCED = "unsynced", _("not synced yet")


# WeCom's own word (callbacks, our creation) moves a lesson ahead of the clock: a teacher may start
# early or end early. The clock still ends a lesson whose "ended" callback never came.
_STARTED_BY_WECOM = (Living.Status.LIVE, Living.Status.ENDED)
_ENDED_BY_WECOM = (Living.Status.ENDED, Living.Status.EXPIRED)


def living_state(living: Living, *, now: dt.datetime | None = None) -> LivingState:
    """Upcoming until its start, live until its end, then ended; cancelled when WeCom says so.
    A living whose start WeCom has not told us yet counts as upcoming: nothing can be judged
    about it."""
    now = now or timezone.now()
    status = living.status
    if status == Living.Status.CANCELLED:
        return LivingState.CANCELLED
    start = living.living_start
    if start is None or (start > now and status not in _STARTED_BY_WECOM):
        return LivingState.UPCOMING
    if status in _ENDED_BY_WECOM:
        return LivingState.ENDED
    end = living.living_end
    if end is not None and end > now:
        return LivingState.LIVE
    return LivingState.ENDED


def has_stats(living: Living) -> bool:
    """Whether WeCom's watch statistics were read at least once. ``stats_complete`` implies a
    read even where an older row lacks the timestamp."""
    return living.stats_synced_at is not None or living.stats_complete


@dataclasses.dataclass(frozen=True)
class LivingStatus:
    state: LivingState
    synced: bool
    synced_at: dt.datetime | None

    @property
    def counted(self) -> bool:
        """Verdicts mean something: the lesson has started and its statistics are in."""
        return self.state in (LivingState.LIVE, LivingState.ENDED) and self.synced

    @property
    def live(self) -> bool:
        """Under way: every page shows the roll call (who has joined, who can be reminded),
        never verdicts, from the start on — before the first sync everyone is still to come."""
        return self.state == LivingState.LIVE

    @property
    def display(self) -> Display:
        if self.state in (LivingState.UPCOMING, LivingState.CANCELLED, LivingState.LIVE):
            return Display(self.state.value)
        if not self.synced:
            return Display.UNSYNCED
        return Display(self.state.value)

    @property
    def so_far(self) -> bool:
        """Numbers of a lesson still under way: they will change."""
        return self.counted and self.state == LivingState.LIVE


def living_status(living: Living, *, now: dt.datetime | None = None) -> LivingStatus:
    return LivingStatus(
        state=living_state(living, now=now),
        synced=has_stats(living),
        synced_at=living.stats_synced_at,
    )


def _not_cancelled(prefix: str) -> Q:
    return Q(**{f"{prefix}status__isnull": True}) | ~Q(
        **{f"{prefix}status": Living.Status.CANCELLED}
    )


def started_q(*, prefix: str = "", now: dt.datetime | None = None) -> Q:
    """Livings that have started (``prefix`` reaches the living from another model): by the
    clock, or early by WeCom's word; never a cancelled one."""
    by_clock = Q(**{f"{prefix}living_start__lte": now or timezone.now()})
    by_wecom = Q(**{f"{prefix}living_start__isnull": False}) & Q(
        **{f"{prefix}status__in": _STARTED_BY_WECOM}
    )
    return (by_clock | by_wecom) & _not_cancelled(prefix)


def counted_q(*, prefix: str = "", now: dt.datetime | None = None) -> Q:
    """Livings whose verdicts count across livings: ended, and their statistics read at least
    once. A lesson still under way shows its numbers so far on its own page, but a trend or a
    count over weeks would read them as final (everyone still partial): it counts once over."""
    from .verdicts import LivingTerms  # verdicts builds on this module

    end = LivingTerms.columns(ref=lambda name: F(f"{prefix}{name}")).end
    ended = Q(LessThanOrEqual(end, Value(now or timezone.now(), output_field=DateTimeField())))
    ended |= Q(**{f"{prefix}living_start__isnull": False}) & Q(
        **{f"{prefix}status__in": _ENDED_BY_WECOM}
    )
    synced = Q(**{f"{prefix}stats_synced_at__isnull": False}) | Q(
        **{f"{prefix}stats_complete": True}
    )
    return ended & synced & _not_cancelled(prefix)


def started_livings(livings: QuerySet[Living], *, now: dt.datetime | None = None):
    return livings.filter(started_q(now=now))


def upcoming_livings(livings: QuerySet[Living], *, now: dt.datetime | None = None):
    """Reserved lessons still ahead: not started early, not cancelled."""
    return livings.filter(living_start__gt=now or timezone.now()).exclude(
        status__in=(*_STARTED_BY_WECOM, Living.Status.CANCELLED, Living.Status.EXPIRED)
    )


def counted_livings(livings: QuerySet[Living], *, now: dt.datetime | None = None):
    return livings.filter(counted_q(now=now))
