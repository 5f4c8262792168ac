"""Counts of verdicts and flags: one class at one living, every class of many livings, and the sum
of such summaries. Counted by GROUP BY in SQL (see ``livings_breakdown`` for why not
``aggregate()``)."""

from collections import defaultdict
from collections.abc import Iterable

from django.db import connection
from django.db.models import F, OuterRef, QuerySet, Value
from django.db.models.functions import Coalesce

from school_live.school.models import (
    Department,
    Enrollment,
    Guardianship,
    Living,
    StudentUnwatch,
    StudentWatch,
)

from .. import scope
from ..claimed import claimed_visits
from ..rules import Flag, Verdict, school_rules
from ..verdicts import LivingTerms, annotate_attendance

SUMMARY_VERDICTS = tuple(Verdict.values)
SUMMARY_FLAGS = tuple(Flag.values)


def grouped_summaries(per_row: QuerySet, *, by: tuple[str, ...]) -> dict[tuple, dict]:
    """The verdict and flag counts of ``per_row`` (rows annotated with the verdict and the flags,
    e.g. a student at a living) per value of the ``by`` columns, in one query:
    ``{(value, ...): {verdict or flag or "total": n}}``, for ``summary_finish``.

    The database groups the rows by everything counted (the ``by`` columns, the verdict, the
    flags): a few groups, which Python adds up. ``Count(filter=Q(verdict=...))`` per verdict and
    flag would repeat the verdict's expression nine times in the query (Django inlines an
    annotation at each use), which took far longer to build and compile than to run. The
    GROUP BY goes around the per-row query rather than through ``.values().annotate()``, which
    compiles every grouped expression a second time to write its GROUP BY."""
    keys = (*by, "verdict", *SUMMARY_FLAGS)
    sql, params = per_row.values_list(*keys).order_by().query.sql_with_params()
    columns = ", ".join(connection.ops.quote_name(key) for key in keys)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {columns}, COUNT(*) FROM ({sql}) per_row GROUP BY {columns}",  # noqa: S608
            params,
        )
        rows = cursor.fetchall()
    counts: dict[tuple, dict] = defaultdict(lambda: defaultdict(int))
    width = len(by)
    for row in rows:
        group, (verdict, *flags, number) = tuple(row[:width]), row[width:]
        counted = counts[group]
        counted["total"] += number
        counted[verdict] += number
        for flag, value in zip(SUMMARY_FLAGS, flags, strict=True):
            if value:
                counted[flag] += number
    return counts


def summary_finish(counts: dict) -> dict:
    summary = {verdict: counts.get(verdict) or 0 for verdict in SUMMARY_VERDICTS}
    summary.update({flag: counts.get(flag) or 0 for flag in SUMMARY_FLAGS})
    # The contract names the late flag "late" in summaries ("is_late" on rows).
    summary["late"] = summary.pop(Flag.LATE)
    summary["total"] = counts.get("total") or 0
    summary["watched"] = summary[Verdict.PRESENT] + summary[Verdict.PARTIAL]
    summary["rate"] = attendance_rate(summary)
    return summary


def attendance_rate(counts: dict) -> float | None:
    """Present ÷ the students expected: the roster less the excused (请假), who are counted on
    their own. None when nobody was expected."""
    expected = (counts.get("total") or 0) - (counts.get(Verdict.EXCUSED) or 0)
    return (counts.get(Verdict.PRESENT) or 0) / expected if expected > 0 else None


# The counts that add up across classes or livings; the rate is recomputed from the sums.
SUMMED_COUNTS = (
    "present",
    "partial",
    "absent",
    "unreachable",
    "excused",
    "total",
    "late",
    "left_early",
)


def summaries_total(summaries: Iterable[dict]) -> dict:
    """``class_summary`` dicts added up (several classes of a living, or a class over a week),
    with the rate of the sums (``attendance_rate``), None when nobody was expected."""
    summaries = list(summaries)
    totals = {key: sum(summary.get(key) or 0 for summary in summaries) for key in SUMMED_COUNTS}
    totals["rate"] = attendance_rate(totals)
    return totals


def class_summary(*, department: Department, living: Living) -> dict:
    """Counts for one class at one living.

    Keys: present, partial, absent, unreachable, excused, total, watched, rate (present / the
    students not excused, None when there are none), late, left_early, replay_only, commented.
    """
    return _class_summaries(departments=[department], living=living)[department.pk]


def _breakdown_classes(*, living_ids: list[int], user) -> dict[int, list[Department]]:
    """The classes of each living whose attendance the user may read
    (``scope.living_class_links``; every class without a user), in one query and in the classes'
    usual order."""
    if user is None:
        links = scope.class_links(living_ids)
    else:
        links = scope.living_class_links(user, living_ids)
    ordering = [
        f"-department__{field[1:]}" if field.startswith("-") else f"department__{field}"
        for field in Department._meta.ordering
    ]
    classes: dict[int, list[Department]] = defaultdict(list)
    for link in links.select_related("department").order_by(*ordering):
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
    livings = list(livings)
    living_ids = [living.pk for living in livings]
    if not living_ids:
        return {}
    classes = _breakdown_classes(living_ids=living_ids, user=user)
    department_ids = {
        department.pk for departments in classes.values() for department in departments
    }
    if not department_ids:
        return {living_id: [] for living_id in living_ids}
    policy_rules = school_rules(school=livings[0].school_id)
    # Both conditions in one filter(): the enrollment's class and the living share one join.
    pairs = Enrollment.objects.filter(
        department__in=department_ids,
        department__livings__in=living_ids,
        student__is_active=True,
    ).order_by()
    # Each correlated subquery also names the livings outright: PostgreSQL may run one as a
    # hash of every row it can match (a "hashed SubPlan"), which without that reads the whole
    # table — every watch row of every lesson ever, 85,000 rows 14 times over for the home page
    # at 2,000 lessons — where the rows of these few livings, read by their index, are enough.
    of_livings = {"living__in": living_ids}
    per_pair = annotate_attendance(
        pairs.annotate(living_id=F("department__livings")),
        watches=StudentWatch.objects.filter(
            **of_livings,
            living=OuterRef("living_id"),
            student_userid=OuterRef("student__student_userid"),
        ),
        guardians=Guardianship.objects.filter(student=OuterRef("student_id")),
        unwatches=StudentUnwatch.objects.filter(
            **of_livings,
            living=OuterRef("living_id"),
            student_userid=OuterRef("student__student_userid"),
        ),
        student=F("student_id"),
        visits=claimed_visits(
            living=OuterRef("living_id"),
            student=OuterRef("student_id"),
            department=OuterRef("department_id"),
        ).filter(**of_livings),
        terms=LivingTerms.columns(lambda name: F(f"department__livings__{name}")),
        threshold=Coalesce(
            F("department__present_threshold"), Value(policy_rules.present_threshold)
        ),
        rules=policy_rules,
    )
    counts = grouped_summaries(per_pair, by=("living_id", "department_id"))
    return {
        living_id: [
            {
                "department": department,
                **summary_finish(counts.get((living_id, department.pk), {})),
            }
            for department in classes.get(living_id, [])
        ]
        for living_id in living_ids
    }


def _class_summaries(*, departments: list[Department], living: Living) -> dict[int, dict]:
    """Summaries of several classes at one living, in one grouped query (see
    ``livings_breakdown`` for why GROUP BY)."""
    policy_rules = school_rules(school=living.school_id)
    enrollments = Enrollment.objects.filter(
        department__in=departments, student__is_active=True
    ).order_by()
    per_student = annotate_attendance(
        enrollments,
        watches=StudentWatch.objects.filter(
            living=living, student_userid=OuterRef("student__student_userid")
        ),
        guardians=Guardianship.objects.filter(student=OuterRef("student_id")),
        unwatches=StudentUnwatch.objects.filter(
            living=living, student_userid=OuterRef("student__student_userid")
        ),
        student=F("student_id"),
        visits=claimed_visits(
            living=living, student=OuterRef("student_id"), department=OuterRef("department_id")
        ),
        terms=LivingTerms.of(living),
        # Each class may override the school's threshold (as ``rules_for`` does).
        threshold=Coalesce(
            F("department__present_threshold"), Value(policy_rules.present_threshold)
        ),
        rules=policy_rules,
    )
    counts = grouped_summaries(per_student, by=("department_id",))
    return {
        department.pk: summary_finish(counts.get((department.pk,), {}))
        for department in departments
    }


def living_breakdown(*, living: Living, user=None) -> list[dict]:
    """One summary per class of the living (the user's classes of it, when a user is given):
    ``{"department": Department, **class_summary}``, in the classes' usual order."""
    return livings_breakdown(livings=[living], user=user)[living.pk]
