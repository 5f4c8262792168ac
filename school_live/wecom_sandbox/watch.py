"""How a class watches a living: who came, when, for how long, through whose account.

Patterns are fractions of the living's duration so that a ten-minute demo living looks like a
ninety-minute lesson, only shorter. Every pattern yields presence intervals; watch_time is their
sum, so it is accumulated time and never more than leave_time - enter_time.
"""

import dataclasses
import random

from .model import Student, Viewer

MIN_SEGMENT = 30


def _segments(rng: random.Random, start: int, duration: int, pattern: str, replay: bool):
    end = start + duration
    if pattern == "full":
        enter = start + int(duration * rng.uniform(-0.05, 0.02))
        leave = end + int(duration * rng.uniform(-0.02, 0.04))
        # A dropped connection: out for a minute or two, then back.
        if leave - enter > 10 * MIN_SEGMENT and rng.random() < 0.3:
            gap_at = rng.randint(enter + MIN_SEGMENT, leave - 4 * MIN_SEGMENT)
            gap = rng.randint(MIN_SEGMENT, 3 * MIN_SEGMENT)
            return [(enter, gap_at), (gap_at + gap, leave)]
        return [(enter, leave)]
    if pattern == "late":
        enter = start + int(duration * rng.uniform(0.12, 0.45))
        return [(enter, end + int(duration * rng.uniform(-0.01, 0.02)))]
    if pattern == "early":
        enter = start + int(duration * rng.uniform(-0.03, 0.03))
        return [(enter, end - int(duration * rng.uniform(0.15, 0.5)))]
    if pattern == "partial":
        cuts = sorted(rng.sample(range(start, end), 4))
        return (
            [(cuts[0], cuts[1]), (cuts[2], cuts[3])] if cuts[1] < cuts[2] else [(cuts[0], cuts[3])]
        )
    if pattern == "dropin":
        enter = rng.randint(start, end - 2 * MIN_SEGMENT)
        return [(enter, enter + rng.randint(MIN_SEGMENT, max(MIN_SEGMENT + 1, duration // 10)))]
    if pattern == "replay" and replay:
        # Replay viewers enter after the end: enter_time > living_start + living_duration.
        enter = end + rng.randint(600, 36 * 3600)
        return [(enter, enter + int(duration * rng.uniform(0.2, 1.0)))]
    return []


def _clean(segments) -> tuple[tuple[int, int], ...]:
    out: list[tuple[int, int]] = []
    for s, e in segments:
        if e - s < MIN_SEGMENT:
            e = s + MIN_SEGMENT
        if out and s <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], e))
        else:
            out.append((s, e))
    return tuple(out)


# (pattern, weight): a class most of which watched the whole lesson.
PATTERNS = (
    ("full", 48),
    ("late", 10),
    ("early", 9),
    ("partial", 8),
    ("dropin", 3),
    ("replay", 5),
    ("absent", 17),
)
_NAMES = [p for p, _ in PATTERNS]
_WEIGHTS = [w for _, w in PATTERNS]


def pick_pattern(rng: random.Random) -> str:
    return rng.choices(_NAMES, _WEIGHTS)[0]


def presence(rng, start, duration, pattern, *, replay=True) -> tuple[tuple[int, int], ...]:
    segments = _segments(rng, start, duration, pattern, replay)
    if segments and replay and pattern in ("full", "early") and rng.random() < 0.06:
        # Some watch the replay again in the evening: leave_time moves past the end.
        again = start + duration + rng.randint(3600, 8 * 3600)
        segments.append((again, again + int(duration * rng.uniform(0.1, 0.5))))
    return _clean(segments)


def class_viewers(
    rng: random.Random,
    *,
    start: int,
    duration: int,
    roster: list[Student],
    open_replay: bool,
    nicknames: tuple[str, ...] = (),
) -> list[Viewer]:
    """Rows for one living: each watching student through their own account, one parent's, or
    (sometimes) two parents' accounts at once; then the visitors."""
    viewers = []
    for student in roster:
        pattern = pick_pattern(rng)
        segments = presence(rng, start, duration, pattern, replay=open_replay)
        if not segments:
            continue
        account = rng.random()
        if account < 0.2 or not student.parents:
            accounts = [None]  # the student's own account: the row has no parent_userid
        elif account < 0.28 and len(student.parents) >= 2:
            accounts = [p.userid for p in rng.sample(student.parents, 2)]
        else:
            accounts = [rng.choice(student.parents).userid]
        for i, parent_userid in enumerate(accounts):
            if i:  # the second parent joined on their own phone, with their own pattern
                segments = presence(rng, start, duration, rng.choice(("full", "partial", "late")))
            viewers.append(
                Viewer(
                    segments=segments,
                    student_userid=student.userid,
                    parent_userid=parent_userid,
                    partyids=student.departments,
                    comments=rng.randint(1, 6) if rng.random() < 0.15 else 0,
                )
            )
    for nickname in nicknames:
        pattern = rng.choice(("full", "late", "dropin", "partial"))
        viewers.append(
            Viewer(
                segments=presence(rng, start, duration, pattern, replay=open_replay),
                nickname=nickname,
                comments=rng.randint(1, 3) if rng.random() < 0.3 else 0,
            )
        )
    return viewers


# Lessons the app creates (living/create, ww.startLiving, the demo's) fill up while they are live:
# half the class is in within the first tenth of the lesson, the others trickle in until
# ARRIVAL_SPREAD of it has passed. The seeded school's lessons keep their own patterns.
ARRIVAL_SPREAD = 0.5


def arrival_offset(rng: random.Random, duration: int, spread: float = ARRIVAL_SPREAD) -> int:
    """Seconds after the start at which a student first enters."""
    share = rng.random()
    early = min(0.1, spread)
    if share < 0.5:
        return int(duration * early * share / 0.5)
    return int(duration * (early + (spread - early) * (share - 0.5) / 0.5))


def arriving(viewer: Viewer, arrival: int, end: int, *, first: bool) -> Viewer:
    """The viewer's live presence moved to begin at ``arrival`` (``first``: the student's first
    account) or no sooner (another account of theirs); replay viewing after ``end`` is kept."""
    live = [(s, e) for s, e in viewer.segments if s < end]
    replay = [(s, e) for s, e in viewer.segments if s >= end]
    if first:
        delta = arrival - live[0][0]
        live = [(s + delta, min(e + delta, end)) for s, e in live if s + delta < end]
    else:
        live = [(max(s, arrival), e) for s, e in live if e > arrival]
    if not live:
        live = [(arrival, min(end, arrival + 2 * MIN_SEGMENT))]
    return dataclasses.replace(viewer, segments=_clean(live + replay))


def arriving_viewers(
    rng: random.Random,
    *,
    start: int,
    duration: int,
    roster: list[Student],
    open_replay: bool,
    nicknames: tuple[str, ...] = (),
    spread: float = ARRIVAL_SPREAD,
) -> list[Viewer]:
    """``class_viewers`` whose students arrive over the lesson: each student who comes live gets
    one arrival offset (all their accounts enter then or later), drawn from ``rng`` in roster
    order, so the same seed gives the same arrivals."""
    end = start + duration
    viewers = class_viewers(
        rng,
        start=start,
        duration=duration,
        roster=roster,
        open_replay=open_replay,
        nicknames=nicknames,
    )
    arrivals: dict[str, int] = {}
    out = []
    for viewer in viewers:
        if viewer.is_visitor or not viewer.segments or viewer.segments[0][0] >= end:
            out.append(viewer)  # visitors and replay-only viewers as they were
            continue
        first = viewer.student_userid not in arrivals
        if first:
            arrivals[viewer.student_userid] = start + arrival_offset(rng, duration, spread)
        out.append(arriving(viewer, arrivals[viewer.student_userid], end, first=first))
    return out
