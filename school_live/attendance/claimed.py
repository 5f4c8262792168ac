"""WeChat visitors claimed in the nickname book (``school_live.corrections.NicknameClaim``), as
SQL facts beside a student's own watch rows: the one statement of how a claimed visit counts.

The rule: a student with no watch row of their own (of more than 0 s) at a lesson of a class
gets, as their attendance, the visitor rows of that lesson whose nickname is claimed for them in
that class. Several such rows (a nickname is not unique, a family may claim two) combine as the
student's own accounts do: the longest watch time (never the sum, which could pass the lesson's
length), the earliest first entry, the latest last exit, commented if any row commented, and the
nickname shown is the first of them in sort order. A student's own watching always wins: their
own rows are then the whole of their attendance, the visitors' are not added.
"""

from django.db.models import (
    BooleanField,
    Case,
    CharField,
    DateTimeField,
    Exists,
    F,
    IntegerField,
    Max,
    Min,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.expressions import ResolvedOuterRef
from django.db.models.functions import Coalesce
from django.db.models.lookups import GreaterThan

from school_live.corrections.models import NicknameClaim
from school_live.db_internals import join_grouped, joined_column
from school_live.school.models import Department, VisitorWatch


def combined_rows(prefix: str) -> dict:
    """The aggregates by which several watch rows of one student at one lesson (their accounts,
    or claimed visitor rows) combine, named ``<prefix>watch_time`` etc.: the longest watch time
    (never the sum), the earliest first entry, the latest last exit, commented if any row did
    (MAX over 0/1 rather than over a boolean: PostgreSQL has no MAX(boolean))."""
    return {
        f"{prefix}watch_time": Max("watch_time"),
        f"{prefix}first_enter": Min("enter_time"),
        f"{prefix}last_leave": Max("leave_time"),
        f"{prefix}commented": Max(Case(When(is_comment=True, then=1), default=0)),
    }


def _deeper(value):
    """A reference to the outer row, seen from one subquery further in."""
    if isinstance(value, OuterRef | ResolvedOuterRef):
        return OuterRef(value)
    return value


def claimed_visits(*, living, student, department=None) -> QuerySet[VisitorWatch]:
    """The visitor rows of more than 0 s at ``living`` whose nickname has an active claim for
    ``student`` in ``department`` — in any class ``living`` covers when None. Each argument is a
    value or an ``OuterRef`` to the row the caller annotates."""
    claims = NicknameClaim.objects.active().filter(
        student=_deeper(student), nickname=OuterRef("nickname")
    )
    if department is None:
        claims = claims.filter(department__livings=OuterRef("living_id"))
    else:
        claims = claims.filter(department=_deeper(department))
    return VisitorWatch.objects.filter(living=living, watch_time__gt=0).filter(Exists(claims))


def visit_facts(visits: QuerySet[VisitorWatch]) -> dict:
    """The facts of ``visits`` (``claimed_visits``, correlated to the row) as subqueries."""
    rows = visits.order_by()

    def combined(aggregate) -> Subquery:
        # Every row shares the living: GROUP BY it gives one row, the aggregate of them all.
        return Subquery(rows.values("living_id").annotate(value=aggregate).values("value")[:1])

    return {
        "watched": Exists(rows),
        "watch_time": Coalesce(combined(Max("watch_time")), 0),
        "first_enter": combined(Min("enter_time")),
        "last_leave": combined(Max("leave_time")),
        "commented": Exists(rows.filter(is_comment=True)),
        "nickname": combined(Min("nickname")),
    }


def join_visit_facts(
    queryset: QuerySet, *, department: Department, living_keys, living: str | None, student: str
) -> tuple[QuerySet, dict]:
    """``visit_facts`` for many rows of one class: the claimed visits of ``living_keys`` grouped
    per (living, claimed student) once and joined on the row's ``living`` and ``student`` (pk);
    ``living`` None: ``living_keys`` is one living, grouped and joined per student only."""
    keys = {"visit_student": F("claimed_student")}
    if living is not None:
        keys = {"visit_living": F("living_id"), **keys}
    claimed_student = Subquery(
        NicknameClaim.objects.active()
        .filter(department=department, nickname=OuterRef("nickname"))
        .values("student_id")[:1]
    )
    grouped = (
        VisitorWatch.objects.filter(living__in=living_keys, watch_time__gt=0)
        .annotate(claimed_student=claimed_student)
        .filter(claimed_student__isnull=False)
        .order_by()
        .values(**keys)
        .annotate(
            **combined_rows("visit_"),
            visit_nickname=Min("nickname"),
        )
    )
    queryset, alias = join_grouped(
        queryset,
        grouped=grouped,
        table_name="attendance_visit_facts",
        on=[(living, "visit_living")] * (living is not None) + [(student, "visit_student")],
    )

    def column(name, field):
        return joined_column(alias, name, field)

    watch_time = column("visit_watch_time", IntegerField())
    return queryset, {
        "watched": GreaterThan(Coalesce(watch_time, 0), 0),
        "watch_time": Coalesce(watch_time, 0),
        "first_enter": column("visit_first_enter", DateTimeField()),
        "last_leave": column("visit_last_leave", DateTimeField()),
        "commented": GreaterThan(Coalesce(column("visit_commented", IntegerField()), 0), 0),
        "nickname": column("visit_nickname", CharField()),
    }


def with_visits(queryset: QuerySet, *, own: dict, visits: dict) -> tuple[QuerySet, dict]:
    """``queryset`` annotated with ``via_visitor`` (the student did not watch, a claimed visitor
    did) and ``via_nickname`` (that visitor's nickname, else None); and the student's facts with
    the visits taking the place of the own rows where ``via_visitor``."""
    queryset = queryset.annotate(
        via_visitor=Case(
            When(own["watched"], then=Value(False)),
            When(visits["watched"], then=Value(True)),
            default=Value(False),
            output_field=BooleanField(),
        )
    ).annotate(
        via_nickname=Case(
            When(via_visitor=True, then=visits["nickname"]),
            default=Value(None),
            output_field=CharField(),
        )
    )

    def either(name, field):
        return Case(
            When(via_visitor=True, then=visits[name]), default=own[name], output_field=field
        )

    facts = dict(own)
    facts.update(
        watched=Case(
            When(own["watched"], then=Value(True)),
            When(Q(via_visitor=True), then=Value(True)),
            default=Value(False),
            output_field=BooleanField(),
        ),
        watch_time=either("watch_time", IntegerField()),
        first_enter=either("first_enter", DateTimeField()),
        last_leave=either("last_leave", DateTimeField()),
        commented=either("commented", BooleanField()),
    )
    return queryset, facts
