"""One class at one living: the roll call, the roster before any verdict, the histograms and the
watch rows of students on no roster of the living."""

import datetime as dt
from collections import defaultdict

from django.db import connection
from django.db.models import (
    Case,
    CharField,
    Count,
    Exists,
    Expression,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
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

from ..reach import reachable
from ..rules import rules_for
from ..verdicts import LivingTerms, annotate_attendance_joined
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


def _coverage_bucket(duration: int) -> Expression:
    """The coverage decile (0..9) of a watcher, from whole seconds: bucket i starts at
    ceil(i × duration / 10) seconds, so no float rounding decides a boundary; 100% and more go in
    the last bucket; an unknown duration puts everyone in the first."""
    if duration <= 0:
        return Value(0, output_field=IntegerField())
    whens = [
        When(watch_time__gte=-(-bucket * duration // COVERAGE_BUCKETS), then=Value(bucket))
        for bucket in range(COVERAGE_BUCKETS - 1, 0, -1)
    ]
    return Case(*whens, default=Value(0), output_field=IntegerField())


def coverage_histogram(*, department: Department, living: Living) -> list[int]:
    """How many of the class's watchers fall in each coverage decile: 0–10%, …, 90–100%."""
    # GROUP BY the bucket: one CASE per student. Ten COUNT(... FILTER (bucket = i)) would repeat
    # the CASE, and the watch-row subqueries inside it, ten times (slow to build and to run).
    rows = (
        class_attendance(department=department, living=living)
        .filter(watched=True)
        .annotate(coverage_bucket=_coverage_bucket(living.living_duration))
        .values("coverage_bucket")
        .annotate(students=Count("pk"))
        .order_by()
    )
    counts = dict(rows.values_list("coverage_bucket", "students"))
    return [counts.get(bucket, 0) for bucket in range(COVERAGE_BUCKETS)]


def arrival_histogram(*, department: Department, living: Living) -> list[tuple[str, int]]:
    """When the class's watchers first entered, in minutes after the start.

    Buckets, in order: "≤0" (on time or early), "0–5", "5–10", "10–20", "20+" (during the living)
    and the translated "replay" (entered after it ended). Watchers without a first entry time, or
    any watcher of a living without a start, are not counted.
    """
    if living.living_start is None:
        return [(_arrival_label(label), 0) for label in _ARRIVAL_LABELS]
    # GROUP BY the bucket, as coverage_histogram does.
    rows = (
        class_attendance(department=department, living=living)
        .filter(watched=True, first_enter__isnull=False)
        .annotate(arrival=_arrival_bucket(living))
        .values("arrival")
        .annotate(students=Count("pk"))
        .order_by()
    )
    counts = dict(rows.values_list("arrival", "students"))
    return [(_arrival_label(label), counts.get(label, 0)) for label in _ARRIVAL_LABELS]


_ARRIVAL_LABELS = [label for _minutes, label in ARRIVAL_EDGES] + [ARRIVAL_LATEST, ARRIVAL_REPLAY]


def _arrival_bucket(living: Living) -> Expression:
    """The arrival bucket of a watcher with a first entry, at a living with a start."""
    start = living.living_start
    whens = [When(replay_only=True, then=Value(ARRIVAL_REPLAY))]
    whens += [
        When(first_enter__lte=start + dt.timedelta(minutes=minutes), then=Value(label))
        for minutes, label in ARRIVAL_EDGES
    ]
    return Case(*whens, default=Value(ARRIVAL_LATEST), output_field=CharField())


def class_overview(
    *, department: Department, living: Living, attendance: QuerySet[Student] | None = None
) -> dict:
    """``class_summary``, ``coverage_histogram`` and ``arrival_histogram`` of one class at one
    living from one query: ``{"summary": ..., "coverage": ..., "arrival": ...}``.

    The database groups the class's students by everything the three count (verdict, flags,
    coverage decile, arrival bucket): a few groups, at most one per student, which Python adds
    up. Three queries built the same attendance annotations three times, which took longer
    than running them (a class page spent a third of its time there). ``attendance``: the
    ``class_attendance`` of the same class and living when the caller has built it already
    (building it costs more than running it), unfiltered."""
    # No start: nobody's arrival is counted (as arrival_histogram).
    arrival_bucket = _arrival_bucket(living) if living.living_start is not None else Value(None)
    if attendance is None:
        attendance = class_attendance(department=department, living=living)
    keys = ("verdict", *SUMMARY_FLAGS, "coverage_bucket", "arrival")
    per_student = (
        attendance.annotate(
            coverage_bucket=Case(
                When(watched=True, then=_coverage_bucket(living.living_duration)),
                default=None,
                output_field=IntegerField(),
            ),
            arrival=Case(
                When(Q(watched=True, first_enter__isnull=False), then=arrival_bucket),
                default=None,
                output_field=CharField(),
            ),
        )
        .values_list(*keys)
        .order_by()
    )
    # GROUP BY around the per-student query rather than .values().annotate(Count()): Django
    # compiles every grouped expression a second time to write its GROUP BY, which was most
    # of this function's time; the database's work is the same.
    sql, params = per_student.query.sql_with_params()
    columns = ", ".join(connection.ops.quote_name(key) for key in keys)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {columns}, COUNT(*) FROM ({sql}) students GROUP BY {columns}",  # noqa: S608
            params,
        )
        rows = cursor.fetchall()
    counts: dict[str, int] = defaultdict(int)
    coverage = [0] * COVERAGE_BUCKETS
    arrival: dict[str, int] = defaultdict(int)
    for verdict, *flags, coverage_bucket, arrival_bucket_of, students in rows:
        counts["total"] += students
        counts[verdict] += students
        for flag, value in zip(SUMMARY_FLAGS, flags, strict=True):
            if value:
                counts[flag] += students
        if coverage_bucket is not None:
            coverage[coverage_bucket] += students
        if arrival_bucket_of is not None:
            arrival[arrival_bucket_of] += students
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
