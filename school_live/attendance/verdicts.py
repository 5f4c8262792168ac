"""One student's attendance at one living, as SQL expressions: the single definition of the
verdict and the flags that every query in ``queries.py`` annotates onto its rows.

The rows may be students (a class at one living), livings (a student across livings) or
(enrollment, living) pairs (a class across livings); the caller correlates the watch and
guardianship rows with OuterRef and says where the living's start and duration come from.
"""

import dataclasses
import datetime as dt

from django.db.models import (
    BooleanField,
    Case,
    CharField,
    Count,
    DateTimeField,
    DurationField,
    Exists,
    Expression,
    ExpressionWrapper,
    F,
    FloatField,
    IntegerField,
    Max,
    Min,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Cast, Coalesce, Least, NullIf
from django.db.models.lookups import GreaterThan, GreaterThanOrEqual

from school_live.school.models import Living, StudentWatch

from .rules import AttendanceRules, Verdict

SECOND = dt.timedelta(seconds=1)


@dataclasses.dataclass(frozen=True)
class LivingTerms:
    """A living's start, end and duration as SQL: literals for one living, or the columns of the
    living that is the row (or the outer row) of the query."""

    start: Expression
    end: Expression
    duration: Expression
    # For one living, the moments themselves: shifted in Python, so a missing start stays a
    # typed NULL (PostgreSQL cannot add an interval to an untyped NULL).
    living: Living | None = None

    @classmethod
    def of(cls, living: Living) -> "LivingTerms":
        return cls(
            start=Value(living.living_start, output_field=DateTimeField()),
            end=Value(living.living_end, output_field=DateTimeField()),
            duration=Value(living.living_duration, output_field=IntegerField()),
            living=living,
        )

    @classmethod
    def columns(cls, ref=F) -> "LivingTerms":
        start = ExpressionWrapper(ref("living_start"), output_field=DateTimeField())
        duration = ExpressionWrapper(ref("living_duration"), output_field=IntegerField())
        length = ExpressionWrapper(duration * Value(SECOND), output_field=DurationField())
        return cls(
            start=start,
            end=ExpressionWrapper(start + length, output_field=DateTimeField()),
            duration=duration,
        )

    def has_duration(self) -> Q:
        return Q(GreaterThan(self.duration, 0))

    def after_start(self, delta: dt.timedelta) -> Expression:
        if self.living is not None:
            start = self.living.living_start
            return Value(start and start + delta, output_field=DateTimeField())
        return ExpressionWrapper(self.start + Value(delta), output_field=DateTimeField())

    def before_end(self, delta: dt.timedelta) -> Expression:
        if self.living is not None:
            end = self.living.living_end
            return Value(end and end - delta, output_field=DateTimeField())
        return ExpressionWrapper(self.end - Value(delta), output_field=DateTimeField())


def _flag(condition: Q) -> Case:
    return Case(
        When(condition, then=Value(True)), default=Value(False), output_field=BooleanField()
    )


def annotate_attendance(
    queryset: QuerySet,
    *,
    watches: QuerySet[StudentWatch],
    guardians: QuerySet,
    terms: LivingTerms,
    threshold: Expression,
    rules: AttendanceRules,
) -> QuerySet:
    """Annotate each row of ``queryset`` with one student's attendance at one living.

    ``watches`` are that student's watch rows at that living and ``guardians`` their
    Guardianship rows, both correlated to the row with OuterRef as the caller's shape needs.
    """
    rows = watches.order_by()

    def per_student(aggregate) -> Subquery:
        return Subquery(rows.values("student_id").annotate(value=aggregate).values("value")[:1])

    return (
        queryset.annotate(
            watched=Exists(rows),
            # A student can watch from their own account and from one or two parents' accounts at
            # once (two devices, one lesson); WeCom counts each account separately, so the
            # student's time is the longest of them, never the sum.
            watch_time=Coalesce(per_student(Max("watch_time")), 0),
            first_enter=per_student(Min("enter_time")),
            last_leave=per_student(Max("leave_time")),
            commented=Exists(rows.filter(is_comment=True)),
            own_account=Exists(rows.filter(parent_userid="")),
            account_count=Coalesce(per_student(Count("pk")), 0),
            has_subscribed_parent=Exists(
                guardians.filter(parent__is_active=True, parent__is_subscribed=True)
            ),
            present_threshold=ExpressionWrapper(threshold, output_field=IntegerField()),
        )
        .annotate(
            # No duration: NULLIF makes the division NULL, then 0.0. The COALESCE sits inside
            # LEAST because PostgreSQL's LEAST skips NULLs (it would give 1.0) where SQLite's
            # gives NULL.
            coverage=Least(
                Coalesce(
                    Cast("watch_time", FloatField())
                    / NullIf(Cast(terms.duration, FloatField()), Value(0.0)),
                    Value(0.0),
                ),
                Value(1.0),
                output_field=FloatField(),
            ),
            # Entered only after the living had ended: watched the replay. Without a known
            # duration the end is unknown and nobody is replay-only.
            replay_only=_flag(terms.has_duration() & Q(first_enter__gt=terms.end)),
        )
        .annotate(
            # A replay-only viewer is not also late.
            is_late=_flag(
                Q(replay_only=False) & Q(first_enter__gt=terms.after_start(rules.late_grace))
            ),
            left_early=_flag(
                terms.has_duration()
                & Q(replay_only=False)
                & Q(last_leave__lt=terms.before_end(rules.early_grace))
            ),
            verdict=Case(
                # WeCom can reach a family only through a parent who follows 学校通知; without
                # one, not watching proves nothing (WeCom doc 93742), so it is not "absent".
                When(watched=False, has_subscribed_parent=True, then=Value(Verdict.ABSENT)),
                When(watched=False, then=Value(Verdict.UNREACHABLE)),
                # Integer arithmetic: watch_time / duration >= threshold % without floats.
                When(
                    terms.has_duration()
                    & Q(
                        GreaterThanOrEqual(
                            F("watch_time") * 100,
                            ExpressionWrapper(
                                F("present_threshold") * terms.duration,
                                output_field=IntegerField(),
                            ),
                        )
                    ),
                    then=Value(Verdict.PRESENT),
                ),
                default=Value(Verdict.PARTIAL),
                output_field=CharField(),
            ),
        )
    )
