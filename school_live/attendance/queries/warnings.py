"""Early warnings: the students of a class who need attention now, each warning with its evidence.

Four rules, their thresholds per class in the admin (``school_live.alerts``):
- absent (缺勤) from N of the class's last M lessons, with the dates;
- mean watch share falling from the span of D days before to the last D days;
- late N times in the calendar month (Beijing);
- family unreachable (未触达) at the last N lessons in a row.

Only ended lessons with their statistics read count (``state.counted_q``), never a cancelled one.
An excused lesson (请假) never counts toward a warning: it is neither an absence, a lateness nor a
watch share, and does not extend a run of unreachable lessons (a lesson the student watched,
excused or not, ends one: WeCom did reach them). The
window of the absent rule is the class's last M lessons: an excused one among them is simply
not an absence.

The run of unreachable lessons is the lessons since the student last watched one (any class's
lesson); it is followed back at most ``RUN_LOOKBACK`` of the class's lessons, the largest count a
threshold accepts (``LARGEST_LESSON_COUNT``, 60): no threshold can ask for more, and a longer run
counts its unreachable lessons among those 60 only.

Everything is counted in SQL over the verdicts (``_class_at_livings``) of the lessons some rule
can see: the last M lessons, the last 2 × D days, this month, and the lessons of the run window
after the student's last watched one, so the cost does not grow with the class's number of
lessons (the last lessons are read backwards along the start's index). The student's last watched
lesson is the watch rows of the run window grouped per student once and joined; the verdict rows
are a subquery joined to the roster, each verdict computed once, and counted per student with
conditional aggregates, the dates of the absences as one text. With the thresholds and the
attendance policy (read together) that is two queries, at any class size and for any number of
lessons.
"""

import dataclasses
import datetime as dt
import functools
import operator

from django.db import models
from django.db.models import (
    Aggregate,
    Avg,
    Count,
    Exists,
    ExpressionWrapper,
    F,
    FloatField,
    Max,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
)
from django.db.models.functions import Least
from django.db.models.lookups import (
    Exact,
    GreaterThan,
    GreaterThanOrEqual,
    In,
    IsNull,
    LessThan,
)
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from school_live.alerts.models import (
    LARGEST_LESSON_COUNT,
    WarningThresholds,
    policy_and_thresholds,
)
from school_live.db_internals import join_grouped, joined_column
from school_live.school.models import AttendancePolicy, Department, Living, StudentWatch

from ..namesakes import marks_of_rows, namesake_columns
from ..percents import percent_text
from ..rules import AttendanceRules, Verdict, rules_for
from ..state import counted_q
from .class_range import _class_at_livings
from .living import active_roster

# How far back a run of unreachable lessons is followed: no threshold can ask for a longer run,
# so a longer run counts (and shows) only its unreachable lessons among the last this many.
RUN_LOOKBACK = LARGEST_LESSON_COUNT
NOT_COUNTED = (Verdict.EXCUSED,)


class WarningKind(models.TextChoices):
    # Translators: an early warning: absent (缺勤) from several of the last lessons
    ABSENT = "absent", _("absent repeatedly")
    # Translators: an early warning: the student watches less and less of the lessons
    FALLING = "falling", _("watch share falling")
    # Translators: an early warning: late (迟到) several times this month
    LATE = "late", _("often late")
    # Translators: an early warning: WeCom could not reach the family (未触达) several times
    UNREACHABLE = "unreachable", _("family unreachable")


@dataclasses.dataclass(frozen=True)
class EarlyWarning:
    """One warning with its evidence. ``text`` is read where it is shown, in the reader's
    language (an email is rendered in the teacher's)."""

    kind: WarningKind
    count: int = 0  # absences, times late, unreachable lessons
    lessons: int = 0  # of how many lessons (absent)
    dates: tuple[dt.date, ...] = ()  # of the absences, oldest first
    before: float | None = None  # mean watch share, 0..1, of the earlier span (falling)
    after: float | None = None  # and of the last span
    days: int = 0  # the span both cover together (falling)

    @property
    def text(self) -> str:
        if self.kind == WarningKind.ABSENT:
            return ngettext(
                "absent %(count)d of the last %(lessons)d lesson (%(dates)s)",
                "absent %(count)d of the last %(lessons)d lessons (%(dates)s)",
                self.lessons,
            ) % {
                "count": self.count,
                "lessons": self.lessons,
                "dates": ", ".join(day.strftime("%m-%d") for day in self.dates),
            }
        if self.kind == WarningKind.FALLING:
            return ngettext(
                "watch share falling: %(before)s → %(after)s over %(days)d day",
                "watch share falling: %(before)s → %(after)s over %(days)d days",
                self.days,
            ) % {"before": _percent(self.before), "after": _percent(self.after), "days": self.days}
        if self.kind == WarningKind.LATE:
            return ngettext(
                "late %(count)d time this month", "late %(count)d times this month", self.count
            ) % {"count": self.count}
        return ngettext(
            "family unreachable for %(count)d lesson: ask them to follow 学校通知",
            "family unreachable for %(count)d lessons: ask them to follow 学校通知",
            self.count,
        ) % {"count": self.count}


def _percent(share: float | None) -> str:
    return percent_text(share or 0)


@dataclasses.dataclass(frozen=True)
class StudentWarnings:
    student_id: int
    name: str
    student_userid: str
    warnings: tuple[EarlyWarning, ...]
    # What tells the student apart from a classmate of the same name (``namesakes``), or "".
    namesake: str = ""


@dataclasses.dataclass(frozen=True)
class _Spans:
    now: dt.datetime
    month_start: dt.datetime
    recent_start: dt.datetime
    earlier_start: dt.datetime

    @classmethod
    def at(cls, now: dt.datetime, thresholds: WarningThresholds) -> "_Spans":
        local = timezone.localtime(now, timezone.get_default_timezone())
        span = dt.timedelta(days=thresholds.falling_days)
        return cls(
            now=now,
            month_start=local.replace(day=1, hour=0, minute=0, second=0, microsecond=0),
            recent_start=now - span,
            earlier_start=now - 2 * span,
        )


def _counted_livings(department: Department, now: dt.datetime) -> QuerySet[Living]:
    """The class's counted lessons before ``now``. The class as EXISTS, not a join: the last
    lessons are then read backwards along the start's index, as far as they reach, instead of
    every lesson of the class being judged and sorted."""
    in_class = Living.classes.through.objects.filter(
        living_id=OuterRef("pk"), department_id=department.pk
    )
    return Living.objects.filter(Exists(in_class), living_start__lt=now).filter(counted_q(now=now))


def _last_lessons(livings: QuerySet[Living], count: int) -> QuerySet[Living]:
    """The ids of the last ``count`` lessons among ``livings``, as a subquery."""
    return livings.order_by("-living_start", "-pk").values("pk")[:count]


def _last_watched(department, run_start: Subquery, now: dt.datetime) -> QuerySet:
    """Per roster student, the start of the last lesson before ``now`` they watched (any
    class's), among the lessons since ``run_start``: their run of unreachable lessons is the
    one after it (none there: the whole window). Grouped once, to be joined."""
    in_roster = active_roster(department).filter(student_userid=OuterRef("student_userid"))
    return (
        # The lessons first, along the start's index, then their watch rows, each checked
        # against the roster (EXISTS): an IN list of the roster would be read first, and the
        # roster's rows all together are every lesson they ever watched.
        StudentWatch.objects.filter(
            Exists(in_roster),
            school_id=department.school_id,
            living_id__in=Living.objects.filter(
                living_start__lt=now, living_start__gte=run_start
            ).values("pk"),
            watch_time__gt=0,
        )
        .order_by()
        .values(watched_student=F("student_userid"))
        .annotate(last_watched=Max("living__living_start"))
    )


def _rows(department, rules: AttendanceRules, thresholds: WarningThresholds, spans: _Spans):
    """The verdict rows any rule can read, one per (roster student, counted lesson of the class):
    of the last M lessons, of the spans of days (falling, this month), and of the lessons of the
    run window after the student's last watched one. A values() query with ``in_window`` (the
    lesson is of the last M) and ``in_run`` (of the current run, unreachable or not)."""
    livings = _counted_livings(department, spans.now)
    last_window = _last_lessons(livings, thresholds.absent_window)
    run_window = _last_lessons(livings, RUN_LOOKBACK)
    since = min(spans.month_start, spans.earlier_start)
    run_start = Subquery(
        Living.objects.filter(pk__in=run_window).order_by("living_start").values("living_start")[:1]
    )
    # Every lesson since the first of the run window or of the spans, one range of the index.
    horizon = livings.filter(
        living_start__gte=Least(run_start, Value(since), output_field=models.DateTimeField())
    )
    rows = _class_at_livings(department=department, livings=horizon, rules=rules).annotate(
        lesson_start=F("department__livings__living_start")
    )
    rows, alias = join_grouped(
        rows,
        grouped=_last_watched(department, run_start, spans.now),
        table_name="warnings_last_watched",
        on=[("student__student_userid", "watched_student")],
    )
    last = joined_column(alias, "last_watched", models.DateTimeField())
    in_window = Q(living_id__in=last_window)
    in_run = Q(living_id__in=run_window) & (
        Q(IsNull(last, True)) | Q(GreaterThan(F("lesson_start"), last))
    )
    return (
        rows.filter(in_window | Q(lesson_start__gte=since) | in_run)
        .annotate(
            in_window=ExpressionWrapper(in_window, output_field=models.BooleanField()),
            in_run=ExpressionWrapper(in_run, output_field=models.BooleanField()),
        )
        .values(
            "student_id",
            "lesson_start",
            "verdict",
            "is_late",
            "coverage",
            "excuse_date",
            "in_window",
            "in_run",
        )
    )


class _DateList(Aggregate):
    """The row's dates as one text, comma-separated ``YYYY-MM-DD`` in any order: SQLite's
    GROUP_CONCAT, PostgreSQL's STRING_AGG (Django 5.2 has no such aggregate for both)."""

    function = "GROUP_CONCAT"
    template = "%(function)s(%(expressions)s)"
    output_field = models.TextField()

    def as_postgresql(self, compiler, connection, **extra_context):
        clone = self.copy()
        clone.function = "STRING_AGG"
        # TO_CHAR rather than a cast to text, whose format follows the session's DateStyle.
        clone.template = "%(function)s(TO_CHAR(%(expressions)s, 'YYYY-MM-DD'), ',')"
        return clone.as_sql(compiler, connection, **extra_context)


def _dates(text: str | None) -> list[dt.date]:
    return [dt.date.fromisoformat(part) for part in (text or "").split(",") if part]


def _least_drop(thresholds: WarningThresholds) -> float:
    # A hair below the threshold: 0.9 − 0.6 is 0.29999… in floating point.
    return thresholds.falling_drop / 100 - 1e-9


def _fires(thresholds: WarningThresholds) -> list[Q]:
    """The rules that are on, each as a condition over the per-student aggregates (HAVING)."""
    fires = []
    if thresholds.absent_count:
        fires.append(Q(recent_absent__gte=thresholds.absent_count))
    if thresholds.falling_drop:
        fires.append(Q(share_drop__gte=_least_drop(thresholds)))
    if thresholds.late_count:
        fires.append(Q(late_this_month__gte=thresholds.late_count))
    if thresholds.unreachable_lessons:
        fires.append(Q(unreachable_run__gte=thresholds.unreachable_lessons))
    return fires


def class_warnings(
    *,
    department: Department,
    now: dt.datetime | None = None,
    thresholds: WarningThresholds | None = None,
    policy: AttendancePolicy | None = None,
) -> list[StudentWarnings]:
    """The class's students who need attention at ``now`` (default: now), by name, each with
    their warnings in the order of ``WarningKind``. ``thresholds``: the class's from the admin
    unless given; ``policy``: the school's attendance policy, read with them unless given."""
    if policy is None or thresholds is None:
        read_policy, class_thresholds = policy_and_thresholds(department)
        policy, thresholds = policy or read_policy, thresholds or class_thresholds
    fires = _fires(thresholds)
    if not fires:
        return []  # every rule turned off
    spans = _Spans.at(now or timezone.now(), thresholds)
    rows = _rows(department, rules_for(department, policy=policy), thresholds, spans)
    # The verdict rows, each computed once, joined to the roster and counted per student: the
    # aggregates read their columns, not the verdict's expression again and again.
    stats, alias = join_grouped(
        active_roster(department),
        grouped=rows,
        table_name="warnings_verdicts",
        on=[("pk", "student_id")],
    )

    def column(name, field=None):
        return joined_column(alias, name, field or models.BooleanField())

    verdict = column("verdict", models.CharField())
    lesson_start = column("lesson_start", models.DateTimeField())
    in_window = Exact(column("in_window"), True)
    absent = in_window & Exact(verdict, Verdict.ABSENT)
    counted = ~Q(In(verdict, NOT_COUNTED))
    coverage = column("coverage", FloatField())
    recent = Q(GreaterThanOrEqual(lesson_start, spans.recent_start)) & counted
    earlier = (
        Q(GreaterThanOrEqual(lesson_start, spans.earlier_start))
        & Q(LessThan(lesson_start, spans.recent_start))
        & counted
    )
    stats = list(
        stats.values("pk", "name", "student_userid")
        .annotate(
            recent_lessons=Count(verdict, filter=in_window),
            recent_absent=Count(verdict, filter=absent),
            absent_dates=_DateList(column("excuse_date", models.DateField()), filter=absent),
            late_this_month=Count(
                verdict,
                filter=Q(Exact(column("is_late"), True))
                & Q(GreaterThanOrEqual(lesson_start, spans.month_start))
                & counted,
            ),
            share_before=Avg(coverage, filter=earlier, output_field=FloatField()),
            share_after=Avg(coverage, filter=recent, output_field=FloatField()),
            unreachable_run=Count(
                verdict,
                filter=Q(Exact(column("in_run"), True)) & Q(Exact(verdict, Verdict.UNREACHABLE)),
            ),
        )
        .annotate(share_drop=F("share_before") - F("share_after"))
        .filter(functools.reduce(operator.or_, fires))
        # Read in the same query: the page's budget has no room for another.
        .annotate(**namesake_columns(department))
        .order_by("name", "student_userid")
    )
    marks = marks_of_rows(stats)
    return [
        StudentWarnings(
            student_id=row["pk"],
            name=row["name"] or row["student_userid"],
            student_userid=row["student_userid"],
            warnings=tuple(_warnings_of(row, thresholds)),
            namesake=marks.get(row["student_userid"], ""),
        )
        for row in stats
    ]


def _warnings_of(row: dict, thresholds: WarningThresholds):
    if thresholds.absent_count and row["recent_absent"] >= thresholds.absent_count:
        yield EarlyWarning(
            WarningKind.ABSENT,
            count=row["recent_absent"],
            lessons=row["recent_lessons"],
            dates=tuple(sorted(_dates(row["absent_dates"]))),
        )
    drop = row["share_drop"]
    if thresholds.falling_drop and drop is not None and drop >= _least_drop(thresholds):
        yield EarlyWarning(
            WarningKind.FALLING,
            before=row["share_before"],
            after=row["share_after"],
            days=2 * thresholds.falling_days,
        )
    if thresholds.late_count and row["late_this_month"] >= thresholds.late_count:
        yield EarlyWarning(WarningKind.LATE, count=row["late_this_month"])
    if thresholds.unreachable_lessons and row["unreachable_run"] >= thresholds.unreachable_lessons:
        yield EarlyWarning(WarningKind.UNREACHABLE, count=row["unreachable_run"])
