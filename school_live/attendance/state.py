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


class Display(models.TextChoices):
    """What a page shows for a living: a ``LivingState``, or "unsynced" when it has started but
    its statistics were never read (the value of ``#living-state[data-state]``)."""

    UPCOMING = LivingState.UPCOMING.value, LivingState.UPCOMING.label
    LIVE = LivingState.LIVE.value, LivingState.LIVE.label
    ENDED = LivingState.ENDED.value, LivingState.ENDED.label
    # Translators: a live lesson whose numbers WeCom has not been asked for yet (尚未同步)
    UNSYNCED = "unsynced", _("not synced yet")


def living_state(living: Living, *, now: dt.datetime | None = None) -> LivingState:
    """Upcoming until its start, live until its end, then ended. A living whose start WeCom has
    not told us yet counts as upcoming: nothing can be judged about it."""
    now = now or timezone.now()
    start = living.living_start
    if start is None or start > now:
        return LivingState.UPCOMING
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
        return self.state != LivingState.UPCOMING and self.synced

    @property
    def display(self) -> Display:
        if self.state == LivingState.UPCOMING:
            return Display.UPCOMING
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


def started_q(*, prefix: str = "", now: dt.datetime | None = None) -> Q:
    """Livings that have started (``prefix`` reaches the living from another model)."""
    return Q(**{f"{prefix}living_start__lte": now or timezone.now()})


def counted_q(*, prefix: str = "", now: dt.datetime | None = None) -> Q:
    """Livings whose verdicts count across livings: ended, and their statistics read at least
    once. A lesson still under way shows its numbers so far on its own page, but a trend or a
    count over weeks would read them as final (everyone still partial): it counts once over."""
    from .verdicts import LivingTerms  # verdicts builds on this module

    end = LivingTerms.columns(ref=lambda name: F(f"{prefix}{name}")).end
    ended = LessThanOrEqual(end, Value(now or timezone.now(), output_field=DateTimeField()))
    synced = Q(**{f"{prefix}stats_synced_at__isnull": False}) | Q(
        **{f"{prefix}stats_complete": True}
    )
    return Q(ended) & synced


def started_livings(livings: QuerySet[Living], *, now: dt.datetime | None = None):
    return livings.filter(started_q(now=now))


def upcoming_livings(livings: QuerySet[Living], *, now: dt.datetime | None = None):
    return livings.filter(living_start__gt=now or timezone.now())


def counted_livings(livings: QuerySet[Living], *, now: dt.datetime | None = None):
    return livings.filter(counted_q(now=now))
