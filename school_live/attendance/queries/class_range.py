"""One class over a date range: its livings, a summary per living, a row per student, and the
students the weekly digest names (absent repeatedly, coverage falling)."""

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable

from django.db.models import (
    Avg,
    BooleanField,
    CharField,
    Count,
    Exists,
    F,
    FloatField,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
)
from django.db.models.lookups import Exact

from school_live.db_internals import join_grouped, joined_column
from school_live.school.models import (
    Department,
    Enrollment,
    Guardianship,
    Living,
    Student,
    StudentUnwatch,
    StudentWatch,
)

from ..rules import AttendanceRules, Flag, Verdict, rules_for
from ..state import counted_q
from ..verdicts import LivingTerms, annotate_attendance_joined
from .living import active_roster
from .summaries import SUMMARY_FLAGS, SUMMARY_VERDICTS, grouped_summaries, summary_finish


def _class_livings_base(*, department, start, end, counted=False) -> QuerySet[Living]:
    livings = Living.objects.filter(classes=department)
    if counted:
        livings = livings.filter(counted_q())
    if start is not None:
        livings = livings.filter(living_start__gte=start)
    if end is not None:
        livings = livings.filter(living_start__lt=end)
    return livings


class _SubqueryCount(Subquery):
    """COUNT(*) of a correlated queryset as one scalar subquery."""

    template = "(SELECT COUNT(*) FROM (%(subquery)s) _count)"
    output_field = IntegerField()


def class_livings(
    *, department: Department, start: dt.datetime | None = None, end: dt.datetime | None = None
) -> QuerySet[Living]:
    """The class's livings (start <= living_start < end), newest first, annotated with
    ``roster_size`` (active students in the class) and ``watched`` (of them, how many have a
    watch row). Verdict counts per living: ``class_period_summary``."""
    roster = active_roster(department)
    watched = roster.filter(
        Exists(
            StudentWatch.objects.filter(
                living=OuterRef(OuterRef("pk")),
                student_userid=OuterRef("student_userid"),
                # A row of 0 seconds is not watching (the verdicts say so too).
                watch_time__gt=0,
            )
        )
    )
    return (
        _class_livings_base(department=department, start=start, end=end)
        .annotate(
            roster_size=_SubqueryCount(roster.order_by().values("pk")),
            watched=_SubqueryCount(watched.order_by().values("pk")),
        )
        .order_by(F("living_start").desc(nulls_last=True), "-pk")
    )


def class_living_choices(
    *, department: Department, now: dt.datetime, started: int, ahead: int
) -> list[Living]:
    """The livings to offer in a class's lesson picker, newest first: the ``started`` latest
    whose start has come and the ``ahead`` next ones still to come (a start not known yet counts
    as still to come). One query, without the counts of ``class_livings``: a class with a
    term's timetable scheduled has far more lessons ahead than a picker shows, and the newest
    alone would all be ahead. Each side is a LIMIT subquery along the start's index, so the
    cost does not grow with the class's number of lessons (window functions over all of them
    took 8 ms for 2,000)."""
    livings = _class_livings_base(department=department, start=None, end=None)
    latest = (
        livings.filter(living_start__lte=now)
        .order_by(F("living_start").desc(), "-pk")
        .values("pk")[:started]
    )
    upcoming = (
        livings.filter(Q(living_start__gt=now) | Q(living_start__isnull=True))
        .order_by(F("living_start").asc(nulls_last=True), "pk")
        .values("pk")[:ahead]
    )
    return list(
        Living.objects.filter(Q(pk__in=latest) | Q(pk__in=upcoming)).order_by(
            F("living_start").desc(nulls_last=True), "-pk"
        )
    )


def _class_at_livings(
    *, department: Department, livings: QuerySet[Living], rules: AttendanceRules | None = None
) -> QuerySet:
    """One row per (roster student, living of the class among ``livings``): the class's
    enrollments joined to the class's livings, annotated with the attendance.

    Livings not yet started or never synced are left out whatever the caller passes: nobody has
    watched them, so every student would count as absent.

    The watch rows of those livings and students are grouped per (living, student) once and
    joined (``annotate_attendance_joined``): per-row correlated subqueries, repeated by every
    count of the verdict, took 0.6 s for 50 students × 200 livings."""
    rules = rules or rules_for(department)
    counted = counted_q(prefix="department__livings__")
    # One filter() call: the living condition and the "counted" condition share one join.
    pairs = Enrollment.objects.filter(
        counted,
        department=department,
        student__is_active=True,
        department__livings__in=livings,
    ).order_by()
    if isinstance(livings, QuerySet):
        living_keys = livings.order_by().values("pk")
    else:
        living_keys = [living.pk for living in livings]
    # The joined living is the same join everywhere below: F() reuses the join the filter made.
    rows, terms = LivingTerms.joined(
        pairs.annotate(living_id=F("department__livings")),
        living="department__livings",
        livings=living_keys,
        rules=rules,
    )
    return annotate_attendance_joined(
        rows,
        # Only to keep the grouped rows few: the join matches each row's living and student.
        watches=StudentWatch.objects.filter(
            living__in=living_keys,
            student_userid__in=active_roster(department).values("student_userid"),
        ),
        living="department__livings",
        student="student_id",
        student_userid="student__student_userid",
        guardians=Guardianship.objects.filter(student__in=active_roster(department)),
        unwatches=StudentUnwatch.objects.filter(
            living__in=living_keys,
            student_userid__in=active_roster(department).values("student_userid"),
        ),
        terms=terms,
        threshold=Value(rules.present_threshold),
        rules=rules,
        department=department,
        living_keys=living_keys,
    )


def class_period_summary(
    *, department: Department, start: dt.datetime | None = None, end: dt.datetime | None = None
) -> list[dict]:
    """Per living of the class in [start, end), oldest first: ``{"living": Living,
    **class_summary}`` — for trends such as the attendance rate per living over weeks. Only
    livings that have started and were synced (``state.counted_q``)."""
    livings = list(
        _class_livings_base(department=department, start=start, end=end, counted=True).order_by(
            F("living_start").asc(nulls_first=True), "pk"
        )
    )
    if not livings:
        return []
    counts = grouped_summaries(
        _class_at_livings(department=department, livings=livings), by=("living_id",)
    )
    return [
        {"living": living, **summary_finish(counts.get((living.pk,), {}))} for living in livings
    ]


def class_period_students(
    *, department: Department, start: dt.datetime | None = None, end: dt.datetime | None = None
) -> QuerySet:
    """One row (a dict) per roster student over the class's livings in [start, end): student_id,
    name, student_userid, livings, present, partial, absent, unreachable, late, left_early,
    replay_only, commented (counts of livings) and mean_coverage (0..1); most absences first.
    Students of a class without livings in the range are not listed; livings not yet started or
    never synced do not count.

    The verdict of each (student, living) is computed once, in a subquery joined to the roster,
    and the counts read its columns: ``Count(filter=Q(verdict=...))`` over the pairs themselves
    repeated the verdict's expression in each of nine counts, to build, to compile and, per
    pair, to run (0.3 s of the class page's range at 200 lessons)."""
    livings = _class_livings_base(department=department, start=start, end=end, counted=True)
    per_lesson = _class_at_livings(department=department, livings=livings).values(
        "student_id", "verdict", *SUMMARY_FLAGS, "coverage"
    )
    students, alias = join_grouped(
        active_roster(department),
        grouped=per_lesson,
        table_name="range_verdicts",
        on=[("pk", "student_id")],
    )

    def column(name, field):
        return joined_column(alias, name, field)

    verdict = column("verdict", CharField())

    def lessons(condition: Q | None = None) -> Count:
        return Count(verdict, filter=condition)

    def flagged(flag: str) -> Q:
        return Q(Exact(column(flag, BooleanField()), True))

    return (
        students.values("name", "student_userid", student_id=F("pk"))
        .annotate(
            livings=lessons(),
            **{
                verdict_of: lessons(Q(Exact(verdict, verdict_of)))
                for verdict_of in SUMMARY_VERDICTS
            },
            late=lessons(flagged(Flag.LATE)),
            left_early=lessons(flagged(Flag.LEFT_EARLY)),
            replay_only=lessons(flagged(Flag.REPLAY_ONLY)),
            commented=lessons(flagged(Flag.COMMENTED)),
            mean_coverage=Avg(column("coverage", FloatField())),
        )
        # Students of the class with no lesson in the range (the join found nothing).
        .filter(livings__gt=0)
        .order_by("-absent", "-unreachable", "name", "student_id")
    )


def students_absent_repeatedly(
    *, department: Department, livings: Iterable[Living], min_count: int = 2
) -> list[dict]:
    """Students of the class absent (``Verdict.ABSENT``) from at least ``min_count`` of
    ``livings``: ``[{"student": Student, "absent": n, "unreachable": n, "livings": n}]``, most
    absences first. Counted in one grouped query; Python only pairs its rows with the Student
    objects (one more query) and sorts them."""
    rows = list(
        _class_at_livings(department=department, livings=list(livings))
        .values("student_id")
        .annotate(
            absent=Count("pk", filter=Q(verdict=Verdict.ABSENT)),
            unreachable=Count("pk", filter=Q(verdict=Verdict.UNREACHABLE)),
            livings=Count("pk"),
        )
        .filter(absent__gte=min_count)
        .order_by()
    )
    students = Student.objects.in_bulk([row["student_id"] for row in rows])
    result = [{**row, "student": students[row.pop("student_id")]} for row in rows]
    result.sort(key=lambda row: (-row["absent"], row["student"].name, row["student"].pk))
    return result


def students_with_falling_coverage(
    *, department: Department, livings: Iterable[Living], streak: int = 3
) -> list[dict]:
    """Students whose coverage fell at each of their last ``streak`` livings in a row (strictly
    lower each time, ``streak`` livings, oldest to newest, among ``livings``):
    ``[{"student": Student, "coverages": [float, ...], "livings": [Living, ...]}]``.

    One query gives every (student, living, coverage); finding a run of decreases is a short
    scan of each student's series in Python — clearer than window functions (LAG) that would
    need nesting to find a run, and the rows are few (a class × a week's livings).
    """
    livings = list(livings)
    rows = (
        _class_at_livings(department=department, livings=livings)
        .order_by("student_id", "department__livings__living_start", "living_id")
        .values_list("student_id", "living_id", "coverage")
    )
    series: dict[int, list[tuple[int, float]]] = defaultdict(list)
    for student_id, living_id, coverage in rows:
        series[student_id].append((living_id, coverage))
    falling = {}
    for student_id, points in series.items():
        tail = points[-streak:]
        if (
            len(tail) == streak
            and streak > 1
            and all(later[1] < earlier[1] for earlier, later in zip(tail, tail[1:], strict=False))
        ):
            falling[student_id] = tail
    if not falling:
        return []
    students = Student.objects.in_bulk(list(falling))
    by_pk = {living.pk: living for living in livings}
    return [
        {
            "student": students[student_id],
            "coverages": [coverage for _living_id, coverage in tail],
            "livings": [by_pk[living_id] for living_id, _coverage in tail],
        }
        for student_id, tail in sorted(
            falling.items(), key=lambda item: (students[item[0]].name, item[0])
        )
    ]
