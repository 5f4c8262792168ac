"""Attendance, read from the watch rows in SQL: every page, export and email reads through here.

One student's verdict at one living comes from ``verdicts.annotate_attendance``, whatever the shape of the
question (a class at a living, a student across livings, a class across livings): the same
expressions, so a page, an email and a CSV can never disagree. Each function runs a fixed number of
queries whatever the size of the class or the number of livings.

Notes on the contract (THE ATTENDANCE CONTRACT):
- ``coverage`` is always a float in 0..1 (0.0 for a student who did not watch, and for everyone when
  the living's duration is unknown, 0). With no duration nobody can be proven present: watchers are
  ``partial``, and the flags that need the end (left early, replay only) are off.
- ``class_attendance`` rows carry extra annotations beyond the contract: ``watched``,
  ``own_account``, ``account_count`` and ``present_threshold`` (the class's percent).
- ``unknown_watchers`` lists the rows of students who are not on the (active) roster of any class
  of the living — unknown to the school or enrolled elsewhere — annotated with ``known_student``
  (the school knows the userid) and ``student_name`` (None when unknown).
- ``living_breakdown`` with a user lists every class of the living for its host, and the user's own
  classes among them for anyone else (``scope.living_classes``).
- ``student_history`` and ``student_trend`` take an optional ``user`` to keep to their livings;
  without ``department`` they cover every living of the student's classes, a living covering two
  of them judged by the lower threshold.
- ``scope`` adds ``living_classes(user, living)`` and ``living_class_or_404(user, living,
  class_id)``: the host of a living reads every class it covers without being assigned to them.
- ``class_livings`` annotates ``roster_size`` and ``watched`` (roster students with a watch row);
  full verdict counts per living come from ``class_period_summary``.
- Livings not started yet or never synced (``state.counted_q``) have no verdicts: the queries
  across livings (``class_period_summary``, ``class_period_students``, ``student_history``,
  ``student_trend``, ``students_absent_repeatedly``, ``students_with_falling_coverage``) leave
  them out. The single-living functions answer whatever they are asked; pages check
  ``state.living_status`` first. ``livings_breakdown`` is ``living_breakdown`` for many livings
  in three queries.
"""

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable

from django.db.models import (
    Avg,
    Case,
    CharField,
    Count,
    Exists,
    Expression,
    F,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Coalesce
from django.utils.translation import gettext

from school_live.school.models import (
    Department,
    Enrollment,
    Guardianship,
    Living,
    Student,
    StudentWatch,
)

from .rules import Flag, Verdict, rules_for, school_rules
from .scope import is_staff, teacher_for, visible_classes, visible_livings
from .state import counted_q
from .verdicts import LivingTerms, annotate_attendance, annotate_attendance_joined

COVERAGE_BUCKETS = 10
# Arrival buckets: minutes after the start (upper bound, inclusive) and their labels.
ARRIVAL_EDGES = ((0, "≤0"), (5, "0–5"), (10, "5–10"), (20, "10–20"))
ARRIVAL_LATEST = "20+"
ARRIVAL_REPLAY = "replay"
SUMMARY_VERDICTS = tuple(Verdict.values)
SUMMARY_FLAGS = tuple(Flag.values)


def _roster(department: Department) -> QuerySet[Student]:
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
    return annotate_attendance(
        _roster(department),
        watches=StudentWatch.objects.filter(living=living, student_id=OuterRef("student_userid")),
        guardians=Guardianship.objects.filter(student=OuterRef("pk")),
        terms=LivingTerms.of(living),
        threshold=Value(rules.present_threshold),
        rules=rules,
    )


def class_roster(*, department: Department) -> QuerySet[Student]:
    """The class's active students by name, each annotated with ``has_subscribed_parent``: the
    list to show for a lesson that has no verdicts yet (not started, or never synced)."""
    subscribed = Guardianship.objects.filter(
        student=OuterRef("pk"), parent__is_active=True, parent__is_subscribed=True
    )
    return (
        _roster(department)
        .annotate(has_subscribed_parent=Exists(subscribed))
        .order_by("name", "student_userid")
    )


def _summary_counts(prefix: str = "") -> dict[str, Count]:
    counts = {
        verdict: Count("pk", filter=Q(**{f"{prefix}verdict": verdict}))
        for verdict in SUMMARY_VERDICTS
    }
    counts.update(
        {flag: Count("pk", filter=Q(**{f"{prefix}{flag}": True})) for flag in SUMMARY_FLAGS}
    )
    counts["total"] = Count("pk")
    return counts


def _finish_summary(counts: dict) -> dict:
    summary = {verdict: counts.get(verdict) or 0 for verdict in SUMMARY_VERDICTS}
    summary.update({flag: counts.get(flag) or 0 for flag in SUMMARY_FLAGS})
    # The contract names the late flag "late" in summaries ("is_late" on rows).
    summary["late"] = summary.pop(Flag.LATE)
    summary["total"] = total = counts.get("total") or 0
    summary["watched"] = summary[Verdict.PRESENT] + summary[Verdict.PARTIAL]
    summary["rate"] = summary[Verdict.PRESENT] / total if total else None
    return summary


# The counts that add up across classes or livings; the rate is recomputed from the sums.
SUMMED_COUNTS = ("present", "partial", "absent", "unreachable", "total", "late", "left_early")


def summaries_total(summaries: Iterable[dict]) -> dict:
    """``class_summary`` dicts added up (several classes of a living, or a class over a week),
    with the rate of the sums: present ÷ total, None when nobody was on a roster."""
    summaries = list(summaries)
    totals = {key: sum(summary.get(key) or 0 for summary in summaries) for key in SUMMED_COUNTS}
    totals["rate"] = totals["present"] / totals["total"] if totals["total"] else None
    return totals


def class_summary(*, department: Department, living: Living) -> dict:
    """Counts for one class at one living.

    Keys: present, partial, absent, unreachable, total, watched, rate (present / total, None
    when the roster is empty), late, left_early, replay_only, commented.
    """
    return _class_summaries(departments=[department], living=living)[department.pk]


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
    labels = [label for _minutes, label in ARRIVAL_EDGES] + [ARRIVAL_LATEST, ARRIVAL_REPLAY]
    start = living.living_start
    if start is None:
        return [(_arrival_label(label), 0) for label in labels]
    whens = [When(replay_only=True, then=Value(ARRIVAL_REPLAY))]
    whens += [
        When(first_enter__lte=start + dt.timedelta(minutes=minutes), then=Value(label))
        for minutes, label in ARRIVAL_EDGES
    ]
    # GROUP BY the bucket, as coverage_histogram does.
    rows = (
        class_attendance(department=department, living=living)
        .filter(watched=True, first_enter__isnull=False)
        .annotate(arrival=Case(*whens, default=Value(ARRIVAL_LATEST), output_field=CharField()))
        .values("arrival")
        .annotate(students=Count("pk"))
        .order_by()
    )
    counts = dict(rows.values_list("arrival", "students"))
    return [(_arrival_label(label), counts.get(label, 0)) for label in labels]


def _arrival_label(label: str) -> str:
    # Translators: arrival histogram bucket of students who entered after the living ended (回放)
    return gettext("replay") if label == ARRIVAL_REPLAY else label


def _breakdown_classes(*, living_ids: list[int], user) -> dict[int, list[Department]]:
    """The classes of each living whose attendance the user may read (``scope.living_classes``
    for many livings in one query): every class for staff and for the living's host, the user's
    own classes among them for anyone else. In the classes' usual order."""
    links = Living.classes.through.objects.filter(
        living_id__in=living_ids, department__type=Department.Type.CLASS
    ).select_related("department")
    if user is not None and not is_staff(user):
        teacher = teacher_for(user)
        if teacher is None:
            return {}
        links = links.filter(
            Q(department__in=visible_classes(user)) | Q(living__anchor_userid=teacher.userid)
        )
    ordering = [
        f"-department__{field[1:]}" if field.startswith("-") else f"department__{field}"
        for field in Department._meta.ordering
    ]
    classes: dict[int, list[Department]] = defaultdict(list)
    for link in links.order_by(*ordering):
        classes[link.living_id].append(link.department)
    return classes


def livings_breakdown(*, livings: Iterable[Living], user=None) -> dict[int, list[dict]]:
    """``living_breakdown`` of many livings in three queries, whatever their number and size:
    ``{living.pk: [{"department": Department, **class_summary}, ...]}``.

    One query finds the classes, one reads the policy, and one GROUP BY over the (enrollment,
    living) pairs counts every class at every living; each class may override the school's
    threshold (as ``rules_for`` does). Counted by GROUP BY rather than ``aggregate()`` over
    ``class_attendance``: Django 5.2 wraps such an aggregate in a subquery and drops the boolean
    flag annotations from it (the count then reads a missing column: 0 on SQLite, an error on
    PostgreSQL).
    """
    living_ids = [living.pk for living in livings]
    if not living_ids:
        return {}
    classes = _breakdown_classes(living_ids=living_ids, user=user)
    department_ids = {
        department.pk for departments in classes.values() for department in departments
    }
    if not department_ids:
        return {living_id: [] for living_id in living_ids}
    policy_rules = school_rules()
    # Both conditions in one filter(): the enrollment's class and the living share one join.
    pairs = Enrollment.objects.filter(
        department__in=department_ids,
        department__livings__in=living_ids,
        student__is_active=True,
    ).order_by()
    rows = (
        annotate_attendance(
            pairs.annotate(living_id=F("department__livings")),
            watches=StudentWatch.objects.filter(
                living=OuterRef("living_id"), student_id=OuterRef("student__student_userid")
            ),
            guardians=Guardianship.objects.filter(student=OuterRef("student_id")),
            terms=LivingTerms.columns(lambda name: F(f"department__livings__{name}")),
            threshold=Coalesce(
                F("department__present_threshold"), Value(policy_rules.present_threshold)
            ),
            rules=policy_rules,
        )
        .values("living_id", "department_id")
        .annotate(**_summary_counts())
        .order_by()
    )
    counts = {(row["living_id"], row["department_id"]): row for row in rows}
    return {
        living_id: [
            {
                "department": department,
                **_finish_summary(counts.get((living_id, department.pk), {})),
            }
            for department in classes.get(living_id, [])
        ]
        for living_id in living_ids
    }


def _class_summaries(*, departments: list[Department], living: Living) -> dict[int, dict]:
    """Summaries of several classes at one living, in one grouped query (see
    ``livings_breakdown`` for why GROUP BY)."""
    policy_rules = school_rules()
    enrollments = Enrollment.objects.filter(
        department__in=departments, student__is_active=True
    ).order_by()
    rows = (
        annotate_attendance(
            enrollments,
            watches=StudentWatch.objects.filter(
                living=living, student_id=OuterRef("student__student_userid")
            ),
            guardians=Guardianship.objects.filter(student=OuterRef("student_id")),
            terms=LivingTerms.of(living),
            # Each class may override the school's threshold (as ``rules_for`` does).
            threshold=Coalesce(
                F("department__present_threshold"), Value(policy_rules.present_threshold)
            ),
            rules=policy_rules,
        )
        .values("department_id")
        .annotate(**_summary_counts())
        .order_by()
    )
    by_department = {row["department_id"]: row for row in rows}
    return {
        department.pk: _finish_summary(by_department.get(department.pk, {}))
        for department in departments
    }


def living_breakdown(*, living: Living, user=None) -> list[dict]:
    """One summary per class of the living (the user's classes of it, when a user is given):
    ``{"department": Department, **class_summary}``, in the classes' usual order."""
    return livings_breakdown(livings=[living], user=user)[living.pk]


def unknown_watchers(*, living: Living) -> QuerySet[StudentWatch]:
    """Watch rows of students on none of the living's class rosters: kept and shown, not dropped.

    Annotated with ``known_student`` (the school knows the userid, e.g. enrolled in another class
    or left) and ``student_name`` (None when unknown).
    """
    on_roster = Enrollment.objects.filter(
        student__student_userid=OuterRef("student_id"),
        student__is_active=True,
        department__livings=living,
    )
    known = Student.objects.filter(student_userid=OuterRef("student_id"))
    return (
        StudentWatch.objects.filter(living=living)
        .filter(~Exists(on_roster))
        .annotate(known_student=Exists(known), student_name=Subquery(known.values("name")[:1]))
        .order_by("student_id", "parent_userid")
    )


def watch_accounts(*, living: Living, student_userids: Iterable[str]) -> dict[str, list[dict]]:
    """Which accounts each student watched through: ``{student_userid: [{"parent_userid",
    "relation"}]}``; parent_userid "" is the student's own account (relation "")."""
    relation = Guardianship.objects.filter(
        student__student_userid=OuterRef("student_id"),
        parent__parent_userid=OuterRef("parent_userid"),
    ).values("relation")[:1]
    rows = (
        StudentWatch.objects.filter(living=living, student_id__in=list(student_userids))
        .annotate(relation=Coalesce(Subquery(relation), Value("")))
        .order_by("student_id", "parent_userid")
        .values_list("student_id", "parent_userid", "relation")
    )
    accounts: dict[str, list[dict]] = defaultdict(list)
    for student_userid, parent_userid, relation_name in rows:
        accounts[student_userid].append({"parent_userid": parent_userid, "relation": relation_name})
    return dict(accounts)


def _flags_of(row) -> list[str]:
    return [flag for flag in SUMMARY_FLAGS if getattr(row, flag)]


def _student_livings(*, student: Student, department: Department | None, user) -> QuerySet:
    # A lesson not yet started or never synced has no verdict to show.
    if department is not None:
        livings = Living.objects.filter(counted_q(), classes=department)
    else:
        livings = Living.objects.filter(
            counted_q(),
            classes__in=Department.objects.filter(
                enrollments__student=student, type=Department.Type.CLASS
            ),
        ).distinct()
    if user is not None:
        livings = livings.filter(pk__in=visible_livings(user).values("pk"))
    return livings


def _student_at_livings(
    *, student: Student, department: Department | None, user
) -> QuerySet[Living]:
    if department is not None:
        rules = rules_for(department)
        threshold = Value(rules.present_threshold)
    else:
        # A living may cover two of the student's classes: the lowest override among them wins
        # (the student is present for at least one of their classes), else the school default.
        rules = school_rules()
        override = (
            Department.objects.filter(
                livings=OuterRef("pk"),
                enrollments__student=student,
                present_threshold__isnull=False,
            )
            .order_by("present_threshold")
            .values("present_threshold")[:1]
        )
        threshold = Coalesce(Subquery(override), Value(rules.present_threshold))
    return annotate_attendance(
        _student_livings(student=student, department=department, user=user),
        watches=StudentWatch.objects.filter(living=OuterRef("pk"), student=student),
        guardians=Guardianship.objects.filter(student=student),
        terms=LivingTerms.columns(),
        threshold=threshold,
        rules=rules,
    )


def student_history(
    *, student: Student, department: Department | None = None, user=None
) -> list[dict]:
    """The student's attendance at each living of their classes (or of ``department``), newest
    first: dicts with living, verdict, coverage, watch_time, first_enter, last_leave, flags (list
    of ``Flag`` values) and the flags as booleans (is_late, left_early, replay_only, commented)."""
    livings = _student_at_livings(student=student, department=department, user=user).order_by(
        F("living_start").desc(nulls_last=True), "-pk"
    )
    return [
        {
            "living": living,
            "verdict": living.verdict,
            "coverage": living.coverage,
            "watch_time": living.watch_time,
            "first_enter": living.first_enter,
            "last_leave": living.last_leave,
            "flags": _flags_of(living),
            **{flag: getattr(living, flag) for flag in SUMMARY_FLAGS},
        }
        for living in livings
    ]


def student_trend(
    *, student: Student, department: Department | None = None, user=None
) -> list[tuple[dt.datetime, float]]:
    """(living_start, coverage) per living with a start, oldest first, for a chart."""
    rows = (
        _student_at_livings(student=student, department=department, user=user)
        .filter(living_start__isnull=False)
        .order_by("living_start", "pk")
        .values_list("living_start", "coverage")
    )
    return list(rows)


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
    roster = _roster(department)
    watched = roster.filter(
        Exists(
            StudentWatch.objects.filter(
                living=OuterRef(OuterRef("pk")), student_id=OuterRef("student_userid")
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


def _class_at_livings(*, department: Department, livings: QuerySet[Living]) -> QuerySet:
    """One row per (roster student, living of the class among ``livings``): the class's
    enrollments joined to the class's livings, annotated with the attendance.

    Livings not yet started or never synced are left out whatever the caller passes: nobody has
    watched them, so every student would count as absent.

    The watch rows of those livings and students are grouped per (living, student) once and
    joined (``annotate_attendance_joined``): per-row correlated subqueries, repeated by every
    count of the verdict, took 0.6 s for 50 students × 200 livings."""
    rules = rules_for(department)
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
            student_id__in=_roster(department).values("student_userid"),
        ),
        living="department__livings",
        student="student_id",
        student_userid="student__student_userid",
        guardians=Guardianship.objects.filter(student__in=_roster(department)),
        terms=terms,
        threshold=Value(rules.present_threshold),
        rules=rules,
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
    rows = (
        _class_at_livings(department=department, livings=livings)
        .values("living_id")
        .annotate(**_summary_counts())
        .order_by()
    )
    by_living = {row["living_id"]: row for row in rows}
    return [
        {"living": living, **_finish_summary(by_living.get(living.pk, {}))} for living in livings
    ]


def class_period_students(
    *, department: Department, start: dt.datetime | None = None, end: dt.datetime | None = None
) -> QuerySet:
    """One row (a dict) per roster student over the class's livings in [start, end): student_id,
    name, student_userid, livings, present, partial, absent, unreachable, late, left_early,
    replay_only, commented (counts of livings) and mean_coverage (0..1); most absences first.
    Students of a class without livings in the range are not listed; livings not yet started or
    never synced do not count."""
    livings = _class_livings_base(department=department, start=start, end=end, counted=True)
    return (
        _class_at_livings(department=department, livings=livings)
        .values("student_id")
        .annotate(
            name=F("student__name"),
            student_userid=F("student__student_userid"),
            livings=Count("pk"),
            **{verdict: Count("pk", filter=Q(verdict=verdict)) for verdict in SUMMARY_VERDICTS},
            late=Count("pk", filter=Q(is_late=True)),
            left_early=Count("pk", filter=Q(left_early=True)),
            replay_only=Count("pk", filter=Q(replay_only=True)),
            commented=Count("pk", filter=Q(commented=True)),
            mean_coverage=Avg("coverage"),
        )
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


__all__ = [
    "arrival_histogram",
    "class_attendance",
    "class_livings",
    "class_period_students",
    "class_period_summary",
    "class_roster",
    "class_summary",
    "coverage_histogram",
    "living_breakdown",
    "livings_breakdown",
    "student_history",
    "student_trend",
    "students_absent_repeatedly",
    "students_with_falling_coverage",
    "unknown_watchers",
    "watch_accounts",
]
