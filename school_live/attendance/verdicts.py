"""One student's attendance at one living, as SQL expressions: the single definition of the
verdict and the flags that every query in ``queries/`` annotates onto its rows.

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
    DateField,
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
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Cast, Coalesce, Least, NullIf, TruncDate
from django.db.models.lookups import GreaterThan, GreaterThanOrEqual
from django.utils import timezone

from school_live.corrections.models import Excuse
from school_live.db_internals import join_grouped, joined_column
from school_live.school.models import (
    Department,
    Guardianship,
    Living,
    StudentUnwatch,
    StudentWatch,
    VisitorWatch,
)

from .claimed import combined_rows, join_visit_facts, visit_facts, with_visits
from .reach import join_reachable, reachable
from .rules import AttendanceRules, Verdict

SECOND = dt.timedelta(seconds=1)


@dataclasses.dataclass(frozen=True)
class LivingTerms:
    """A living's start, end and duration as SQL: literals for one living, or the columns of the
    living that is the row (or the outer row) of the query."""

    start: Expression
    end: Expression
    duration: Expression
    # The living's id and its start's Beijing date: what an excuse (请假) covers.
    living_id: Expression
    date: Expression
    # For one living, the moments themselves: shifted in Python, so a missing start stays a
    # typed NULL (PostgreSQL cannot add an interval to an untyped NULL).
    living: Living | None = None
    # Moments computed once per living in a joined subquery (``joined``): {(kind, delta): expr}
    # with kind "start" (after the start) or "end" (before the end).
    shifted: tuple[tuple[tuple[str, dt.timedelta], Expression], ...] = ()

    @classmethod
    def of(cls, living: Living) -> "LivingTerms":
        start = living.living_start
        return cls(
            start=Value(start, output_field=DateTimeField()),
            end=Value(living.living_end, output_field=DateTimeField()),
            duration=Value(living.living_duration, output_field=IntegerField()),
            living_id=Value(living.pk, output_field=IntegerField()),
            date=Value(start and timezone.localdate(start), output_field=DateField()),
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
            living_id=ExpressionWrapper(ref("id"), output_field=IntegerField()),
            date=_beijing_date(ref("living_start")),
        )

    @classmethod
    def joined(
        cls, queryset: QuerySet, *, living: str, livings, rules: AttendanceRules
    ) -> tuple[QuerySet, "LivingTerms"]:
        """The columns of the living whose id the row's ``living`` lookup gives, computed once
        per living among ``livings`` in a subquery joined to ``queryset``: the moments the
        verdict compares with (end, start + late grace, end − early grace) are then plain
        columns, where ``columns`` computes them again for every row and every use (on SQLite
        each is a call into Python: 100,000 calls for 50 students × 200 livings)."""
        terms = cls.columns()
        moments = {
            "term_start": terms.start,
            "term_end": terms.end,
            "term_late_after": terms.after_start(rules.late_grace),
            "term_early_before": terms.before_end(rules.early_grace),
        }
        # GROUP BY the living's id: one row per living, and a subquery the database computes
        # once rather than folding it back into the outer query.
        grouped = (
            Living.objects.filter(pk__in=livings)
            .order_by()
            .values(term_living=F("pk"))
            .annotate(
                term_duration=Max("living_duration"),
                term_date=Max(_beijing_date(F("living_start"))),
                **{name: Max(moment) for name, moment in moments.items()},
            )
        )
        queryset, alias = join_grouped(
            queryset,
            grouped=grouped,
            table_name="attendance_living_terms",
            on=[(living, "term_living")],
        )
        start = joined_column(alias, "term_start", DateTimeField())
        end = joined_column(alias, "term_end", DateTimeField())
        return queryset, cls(
            start=start,
            end=end,
            duration=joined_column(alias, "term_duration", IntegerField()),
            living_id=joined_column(alias, "term_living", IntegerField()),
            date=joined_column(alias, "term_date", DateField()),
            shifted=(
                (
                    ("start", rules.late_grace),
                    joined_column(alias, "term_late_after", DateTimeField()),
                ),
                (
                    ("end", rules.early_grace),
                    joined_column(alias, "term_early_before", DateTimeField()),
                ),
            ),
        )

    def has_duration(self) -> Q:
        return Q(GreaterThan(self.duration, 0))

    def after_start(self, delta: dt.timedelta) -> Expression:
        if self.living is not None:
            start = self.living.living_start
            return Value(start and start + delta, output_field=DateTimeField())
        if (moment := dict(self.shifted).get(("start", delta))) is not None:
            return moment
        return ExpressionWrapper(self.start + Value(delta), output_field=DateTimeField())

    def before_end(self, delta: dt.timedelta) -> Expression:
        if self.living is not None:
            end = self.living.living_end
            return Value(end and end - delta, output_field=DateTimeField())
        if (moment := dict(self.shifted).get(("end", delta))) is not None:
            return moment
        return ExpressionWrapper(self.end - Value(delta), output_field=DateTimeField())


def _beijing_date(moment: Expression) -> Expression:
    """The school's calendar day of a moment (Asia/Shanghai): the day an excuse names."""
    return TruncDate(moment, tzinfo=timezone.get_default_timezone())


def _excused() -> Exists:
    """An active excuse of the row's student (``excuse_student``) that names the row's living
    (``excuse_living``) or covers its Beijing date (``excuse_date``)."""
    return Exists(
        Excuse.objects.active()
        .filter(student_id=OuterRef("excuse_student"))
        .filter(
            Q(living_id=OuterRef("excuse_living"))
            | Q(start_date__lte=OuterRef("excuse_date"), end_date__gte=OuterRef("excuse_date"))
        )
    )


def _watched_rows(watches: QuerySet[StudentWatch]) -> QuerySet[StudentWatch]:
    """The rows that prove watching: a row of 0 seconds (an account that opened the lesson and
    saw nothing of it) counts as not watched, its times as no evidence."""
    return watches.filter(watch_time__gt=0)


def _flag(condition: Q) -> Case:
    return Case(
        When(condition, then=Value(True)), default=Value(False), output_field=BooleanField()
    )


def _join_watch_facts(
    queryset: QuerySet,
    *,
    watches: QuerySet[StudentWatch],
    living: str | None,
    student_userid: str,
) -> tuple[QuerySet, dict]:
    """Join ``watches`` grouped per (living, student) to each row of ``queryset`` whose
    ``living`` and ``student_userid`` (lookups from the row) match; the facts as expressions.
    ``living`` None: the watch rows are one living's, grouped and matched per student only."""
    keys = {"fact_student": F("student_userid")}
    if living is not None:
        keys = {"fact_living": F("living_id"), **keys}
    grouped = (
        watches.order_by()
        .values(**keys)
        .annotate(
            **combined_rows("fact_"),
            fact_own_account=Max(Case(When(parent_userid="", then=1), default=0)),
            fact_accounts=Count("pk"),
        )
    )
    queryset, alias = join_grouped(
        queryset,
        grouped=grouped,
        table_name="attendance_watch_facts",
        on=[(living, "fact_living")] * (living is not None) + [(student_userid, "fact_student")],
    )

    def column(name, field):
        return joined_column(alias, name, field)

    accounts = Coalesce(column("fact_accounts", IntegerField()), 0)
    return queryset, {
        "watched": GreaterThan(accounts, 0),
        "watch_time": Coalesce(column("fact_watch_time", IntegerField()), 0),
        "first_enter": column("fact_first_enter", DateTimeField()),
        "last_leave": column("fact_last_leave", DateTimeField()),
        "commented": GreaterThan(Coalesce(column("fact_commented", IntegerField()), 0), 0),
        "own_account": GreaterThan(Coalesce(column("fact_own_account", IntegerField()), 0), 0),
        "account_count": accounts,
    }


def annotate_attendance(
    queryset: QuerySet,
    *,
    watches: QuerySet[StudentWatch],
    guardians: QuerySet,
    unwatches: QuerySet[StudentUnwatch],
    student: Expression,
    terms: LivingTerms,
    threshold: Expression,
    rules: AttendanceRules,
    visits: QuerySet[VisitorWatch] | None,
) -> QuerySet:
    """Annotate each row of ``queryset`` with one student's attendance at one living.

    ``watches`` are that student's watch rows at that living, ``guardians`` their
    Guardianship rows and ``unwatches`` their get_unwatch_stat rows at that living (whether
    WeCom can reach the family: ``reach``), ``visits`` the visitor rows claimed for them (``claimed.claimed_visits``),
    all correlated to the row with OuterRef as the caller's shape needs; ``student`` gives the
    student's pk on the row (their excuses are read by it).
    """
    rows = _watched_rows(watches).order_by()

    def per_student(aggregate) -> Subquery:
        return Subquery(rows.values("student_userid").annotate(value=aggregate).values("value")[:1])

    facts = {
        "watched": Exists(rows),
        "watch_time": Coalesce(per_student(Max("watch_time")), 0),
        "first_enter": per_student(Min("enter_time")),
        "last_leave": per_student(Max("leave_time")),
        "commented": Exists(rows.filter(is_comment=True)),
        "own_account": Exists(rows.filter(parent_userid="")),
        "account_count": Coalesce(per_student(Count("pk")), 0),
        # The family can be reached (``reach``): 缺勤 rather than 未触达.
        "has_subscribed_parent": reachable(guardians=guardians, unwatches=unwatches),
    }
    queryset, facts = _with_claimed(
        queryset, facts, None if visits is None else visit_facts(visits)
    )
    return _judge(
        queryset, facts=facts, student=student, terms=terms, threshold=threshold, rules=rules
    )


def _with_claimed(queryset: QuerySet, facts: dict, visits: dict | None) -> tuple[QuerySet, dict]:
    """The facts with the claimed WeChat visits (``claimed``), or ``via_visitor`` off for a
    question that has no class to read claims of."""
    if visits is not None:
        return with_visits(queryset, own=facts, visits=visits)
    queryset = queryset.annotate(
        via_visitor=Value(False, output_field=BooleanField()),
        via_nickname=Value(None, output_field=CharField()),
    )
    return queryset, facts


def annotate_attendance_joined(
    queryset: QuerySet,
    *,
    watches: QuerySet[StudentWatch],
    living: str | None,
    student: str,
    student_userid: str,
    guardians: QuerySet[Guardianship],
    unwatches: QuerySet[StudentUnwatch],
    terms: LivingTerms,
    threshold: Expression,
    rules: AttendanceRules,
    department: Department,
    living_keys,
) -> QuerySet:
    """``annotate_attendance`` for many rows at once: the same annotations, read from
    ``watches``, ``guardians`` and ``unwatches`` not correlated (every row that may matter, e.g. of the class's
    livings and students), grouped per (living, student) and per student in subqueries joined
    once, matched on the row's ``living`` (a lookup giving the living's id; None when
    ``watches`` and ``living_keys`` are of one living), ``student`` (the student's pk) and
    ``student_userid``; the WeChat visits of ``living_keys`` (the livings'
    ids, a list or a values() query) claimed in ``department``'s nickname book likewise."""
    queryset, facts = _join_watch_facts(
        queryset, watches=_watched_rows(watches), living=living, student_userid=student_userid
    )
    queryset, visits = join_visit_facts(
        queryset,
        department=department,
        living_keys=living_keys,
        living=living,
        student=student,
    )
    queryset, facts["has_subscribed_parent"] = join_reachable(
        queryset,
        guardians=guardians,
        unwatches=unwatches,
        student=student,
        student_userid=student_userid,
        living=living,
    )
    queryset, facts = with_visits(queryset, own=facts, visits=visits)
    return _judge(
        queryset, facts=facts, student=F(student), terms=terms, threshold=threshold, rules=rules
    )


def _judge(
    queryset: QuerySet,
    *,
    facts: dict,
    student: Expression,
    terms: LivingTerms,
    threshold: Expression,
    rules: AttendanceRules,
) -> QuerySet:
    """The verdict and the flags from the facts of the student's watch rows (watched,
    watch_time, first_enter, last_leave, commented, own_account, account_count) and whether
    WeCom can reach their family (has_subscribed_parent, by ``reach``). A student can
    watch from their own account and from one or two parents' accounts at once (two devices, one
    lesson); WeCom counts each account separately, so the student's time is the longest of them,
    never the sum.

    An excused student (请假, ``school_live.corrections``) who did not reach the threshold is
    ``excused`` whatever else they would be; one who did stays present: the excuse never hides
    attendance."""
    return (
        queryset.annotate(
            excuse_student=ExpressionWrapper(student, output_field=IntegerField()),
            excuse_living=terms.living_id,
            excuse_date=terms.date,
        )
        .annotate(
            **facts,
            excused=_excused(),
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
                # Integer arithmetic: watch_time / duration >= threshold % without floats.
                When(
                    Q(watched=True)
                    & terms.has_duration()
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
                When(excused=True, then=Value(Verdict.EXCUSED)),
                # WeCom can reach a family only through a parent who follows 学校通知 (``reach``:
                # by the roster or WeCom's unwatch list); without one, not watching proves
                # nothing (WeCom doc 93742), so it is not "absent".
                When(watched=False, has_subscribed_parent=True, then=Value(Verdict.ABSENT)),
                When(watched=False, then=Value(Verdict.UNREACHABLE)),
                default=Value(Verdict.PARTIAL),
                output_field=CharField(),
            ),
        )
    )
