"""One student across the livings of their classes: their history, a verdict per living."""

from django.db.models import F, OuterRef, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce

from school_live.school.models import (
    Department,
    Guardianship,
    Living,
    Student,
    StudentUnwatch,
    StudentWatch,
)

from ..claimed import claimed_visits
from ..rules import rules_for, school_rules
from ..scope import visible_livings
from ..state import counted_q
from ..verdicts import LivingTerms, annotate_attendance
from .summaries import SUMMARY_FLAGS


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
        rules = school_rules(school=student.school_id)
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
        unwatches=StudentUnwatch.objects.filter(
            living=OuterRef("pk"), student_userid=student.student_userid
        ),
        student=Value(student.pk),
        terms=LivingTerms.columns(),
        threshold=threshold,
        rules=rules,
        visits=claimed_visits(living=OuterRef("pk"), student=student, department=department),
    )


def student_history(
    *, student: Student, department: Department | None = None, user=None
) -> list[dict]:
    """The student's attendance at each living of their classes (or of ``department``), newest
    first: dicts with living, verdict, coverage, watch_time, first_enter, last_leave, flags (list
    of ``Flag`` values), the flags as booleans (is_late, left_early, replay_only, commented), and
    via_visitor / via_nickname (attended through a WeChat visitor of the nickname book)."""
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
            "via_visitor": living.via_visitor,
            "via_nickname": living.via_nickname,
            **{flag: getattr(living, flag) for flag in SUMMARY_FLAGS},
        }
        for living in livings
    ]
