"""One class at one living: the roll call, the roster before any verdict, the histograms and the
watch rows of students on no roster of the living."""

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable

from django.db.models import Exists, OuterRef, QuerySet, Subquery, Value
from django.utils import timezone, translation
from django.utils.translation import gettext

from school_live.school.models import (
    Department,
    Enrollment,
    Guardianship,
    Living,
    Student,
    StudentUnwatch,
    StudentWatch,
)

from ..namesakes import namesake_marks
from ..reach import reachable
from ..rules import rules_for, verdict_rank
from ..verdicts import LivingTerms, annotate_attendance_joined
from .kept import ClassState, kept_for_class
from .summaries import SUMMARY_FLAGS, summary_finish

COVERAGE_BUCKETS = 10
# Arrival buckets: minutes after the start (upper bound, inclusive) and their labels.
ARRIVAL_EDGES = ((0, "≤0"), (5, "0–5"), (10, "5–10"), (20, "10–20"))
ARRIVAL_LATEST = "20+"
ARRIVAL_REPLAY = "replay"


def active_roster(department: Department) -> QuerySet[Student]:
    """The class's active students."""
    return Student.objects.filter(is_active=True, enrollments__department=department)


def class_attendance(*, department: Department, living: Living) -> QuerySet[Student]:
    """The class roster, each student annotated with their attendance at ``living``.

    Annotations: watched, watch_time (s), coverage (0..1), first_enter, last_leave, commented,
    own_account, account_count, has_subscribed_parent, present_threshold (%), verdict
    (a ``Verdict`` value), is_late, left_early, replay_only.

    Filter and sort it freely (``.filter(verdict=...)``, ``.filter(is_late=True)``,
    ``.order_by("-coverage")``); for counts use ``class_summary`` rather than ``.aggregate()``
    on it (see ``_class_summaries`` for the Django pitfall).
    """
    rules = rules_for(department)
    roster = active_roster(department)
    # The living's watch rows and the roster's guardians grouped per student once and joined
    # (``annotate_attendance_joined``): correlated subqueries, inlined again by every use of a
    # fact (the verdict, the flags, each count of a summary), made each query long to build and
    # to run.
    return annotate_attendance_joined(
        roster,
        watches=StudentWatch.objects.filter(
            living=living, student_userid__in=roster.values("student_userid")
        ),
        living=None,
        student="pk",
        student_userid="student_userid",
        guardians=Guardianship.objects.filter(student__in=roster.values("pk")),
        unwatches=StudentUnwatch.objects.filter(
            living=living, student_userid__in=roster.values("student_userid")
        ),
        terms=LivingTerms.of(living),
        threshold=Value(rules.present_threshold),
        rules=rules,
        department=department,
        living_keys=[living.pk],
    )


# The one order of every attendance table and download: the verdicts by
# ``rules.VERDICT_ORDER`` (annotated as ``severity``), then the students by name.
SEVERITY = verdict_rank()


def class_attendance_in_order(*, department: Department, living: Living) -> QuerySet[Student]:
    """``class_attendance`` in the order the class page, the living page and the downloads list
    it: the students a teacher has to act on first (``severity``), then by name."""
    return (
        class_attendance(department=department, living=living)
        .annotate(severity=SEVERITY)
        .order_by("severity", "name", "student_userid")
    )


def class_rows_kept(
    *,
    department: Department,
    living: Living,
    now: dt.datetime | None = None,
    state: ClassState | None = None,
) -> list[Student]:
    """``class_attendance_in_order`` of the class at ``living``, evaluated, kept per class
    between requests (``kept``) until the class's attendance or its rules change, and keyed by
    the lesson's start, duration and last sync. ``state``: the page's ``kept.ClassState``, else
    read here (one query and one read of the shared cache)."""
    return kept_for_class(
        "class-rows",
        state=state or ClassState.of(department),
        depends_on=(living.pk, living.living_start, living.living_duration, living.stats_synced_at),
        compute=lambda: list(class_attendance_in_order(department=department, living=living)),
        now=now or timezone.now(),
    )


def class_namesakes_kept(
    *, department: Department, now: dt.datetime | None = None, state: ClassState | None = None
) -> dict[str, str]:
    """``namesakes.namesake_marks`` of the class, kept as ``class_rows_kept`` (a directory sync
    changes every class's version), in the language they were written in."""
    return kept_for_class(
        "class-namesakes",
        state=state or ClassState.of(department),
        depends_on=(translation.get_language(),),
        compute=lambda: namesake_marks(departments=[department]),
        now=now or timezone.now(),
    )


def class_roster(*, department: Department, living: Living | None = None) -> QuerySet[Student]:
    """The class's active students by name, each annotated with ``has_subscribed_parent``
    (WeCom can reach the family, by ``reach``; for ``living``'s unwatch rows too, when given):
    the list to show for a lesson that has no verdicts yet (not started, or never synced)."""
    return (
        active_roster(department)
        .annotate(
            has_subscribed_parent=reachable(
                guardians=Guardianship.objects.filter(student=OuterRef("pk")),
                unwatches=StudentUnwatch.objects.filter(
                    living=living, student_userid=OuterRef("student_userid")
                ),
            )
        )
        .order_by("name", "student_userid")
    )


def coverage_bucket(watch_time: int, duration: int) -> int:
    """The coverage decile (0..9) of a watcher, from whole seconds: bucket i starts at
    ceil(i × duration / 10) seconds, so no float rounding decides a boundary; 100% and more go in
    the last bucket; an unknown duration puts everyone in the first."""
    if duration <= 0:
        return 0
    for bucket in range(COVERAGE_BUCKETS - 1, 0, -1):
        if watch_time >= -(-bucket * duration // COVERAGE_BUCKETS):
            return bucket
    return 0


def arrival_bucket(row, living: Living) -> str | None:
    """The arrival bucket of a watcher: entered after the living had ended ("replay"), else the
    first of ``ARRIVAL_EDGES`` whose minutes after the start their first entry is within, else
    ``ARRIVAL_LATEST``. None (not counted) without a first entry or a start."""
    start = living.living_start
    if start is None or row.first_enter is None:
        return None
    if row.replay_only:
        return ARRIVAL_REPLAY
    for minutes, label in ARRIVAL_EDGES:
        if row.first_enter <= start + dt.timedelta(minutes=minutes):
            return label
    return ARRIVAL_LATEST


def coverage_histogram(*, department: Department, living: Living) -> list[int]:
    """How many of the class's watchers fall in each coverage decile: 0–10%, …, 90–100%."""
    return class_overview(department=department, living=living)["coverage"]


def arrival_histogram(*, department: Department, living: Living) -> list[tuple[str, int]]:
    """When the class's watchers first entered, in minutes after the start.

    Buckets, in order: "≤0" (on time or early), "0–5", "5–10", "10–20", "20+" (during the living)
    and the translated "replay" (entered after it ended). Watchers without a first entry time, or
    any watcher of a living without a start, are not counted.
    """
    return class_overview(department=department, living=living)["arrival"]


_ARRIVAL_LABELS = [label for _minutes, label in ARRIVAL_EDGES] + [ARRIVAL_LATEST, ARRIVAL_REPLAY]


def class_overview(
    *, department: Department, living: Living, rows: Iterable[Student] | None = None
) -> dict:
    """``class_summary``, ``coverage_histogram`` and ``arrival_histogram`` of one class at one
    living: ``{"summary": ..., "coverage": ..., "arrival": ...}``, counted in Python over the
    class's rows (``rows``: the ``class_attendance`` rows of the same class and living when the
    caller has them already, e.g. the class page's table; else read in one query).

    Counted over the rows the page lists rather than by a second query: building and compiling
    the verdict expression again cost more than running it (a class page spent a third of its
    time there), and a few dozen students are quickly added up."""
    if rows is None:
        rows = class_attendance(department=department, living=living)
    counts: dict[str, int] = defaultdict(int)
    coverage = [0] * COVERAGE_BUCKETS
    arrival: dict[str, int] = defaultdict(int)
    for row in rows:
        counts["total"] += 1
        counts[row.verdict] += 1
        for flag in SUMMARY_FLAGS:
            if getattr(row, flag):
                counts[flag] += 1
        if not row.watched:
            continue
        coverage[coverage_bucket(row.watch_time, living.living_duration)] += 1
        if (label := arrival_bucket(row, living)) is not None:
            arrival[label] += 1
    return {
        "summary": summary_finish(counts),
        "coverage": coverage,
        "arrival": [(_arrival_label(label), arrival[label]) for label in _ARRIVAL_LABELS],
    }


def _arrival_label(label: str) -> str:
    # Translators: arrival histogram bucket of students who entered after the living ended (回放)
    return gettext("replay") if label == ARRIVAL_REPLAY else label


def unknown_watchers(*, living: Living) -> QuerySet[StudentWatch]:
    """Watch rows of students on none of the living's class rosters: kept and shown, not dropped.

    Annotated with ``known_student`` (the school knows the userid, e.g. enrolled in another class
    or left) and ``student_name`` (None when unknown).
    """
    on_roster = Enrollment.objects.filter(
        student__student_userid=OuterRef("student_userid"),
        student__is_active=True,
        department__livings=living,
    )
    known = Student.objects.filter(
        school=OuterRef("school_id"), student_userid=OuterRef("student_userid")
    )
    return (
        StudentWatch.objects.filter(living=living)
        .filter(~Exists(on_roster))
        .annotate(known_student=Exists(known), student_name=Subquery(known.values("name")[:1]))
        .order_by("student_userid", "parent_userid")
    )
