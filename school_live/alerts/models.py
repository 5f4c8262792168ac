"""When a student needs attention: the thresholds of the early warnings, per class in the admin.

One row without a class holds the school's defaults; a row for a class overrides the values it
sets (an empty value there means the school's). Without any row, ``DEFAULTS`` apply. Every change
is kept with who made it, when and why (django-simple-history), like the attendance thresholds.
The warnings themselves are computed by ``school_live.attendance.queries.warnings``.
"""

import dataclasses

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator
from django.db import models
from django.db.models import Q, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from school_live.school.models import AttendancePolicy, Department
from school_live.school.models.fields import school_field


@dataclasses.dataclass(frozen=True)
class WarningThresholds:
    """The thresholds one class's warnings use. A count of 0 turns its warning off."""

    absent_count: int  # absent (缺勤) from at least this many ...
    absent_window: int  # ... of the class's last this many lessons
    falling_drop: int  # mean watch share fell by at least this many percentage points ...
    falling_days: int  # ... from the span of this many days before to the last this many days
    late_count: int  # late at least this many times in the calendar month (Beijing)
    unreachable_lessons: int  # family unreachable (未触达) at this many lessons in a row


DEFAULTS = WarningThresholds(
    absent_count=3,
    absent_window=5,
    falling_drop=30,
    falling_days=7,
    late_count=3,
    unreachable_lessons=3,
)
FIELDS = [field.name for field in dataclasses.fields(WarningThresholds)]
# The largest count of lessons a threshold may be set to (absences, their window, times late, the
# run of unreachable lessons): the warnings never look further back than this many lessons.
LARGEST_LESSON_COUNT = 60


def _threshold(verbose_name, *, maximum, help_text):
    return models.PositiveSmallIntegerField(
        verbose_name,
        null=True,
        blank=True,
        validators=[MaxValueValidator(maximum)],
        help_text=help_text,
    )


class WarningRules(models.Model):
    school = school_field()
    department = models.ForeignKey(
        Department,
        verbose_name=_("class"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="warning_rules",
        limit_choices_to={"type": Department.Type.CLASS},
        help_text=_(
            "Leave empty for the school's defaults, which every class without its own uses."
        ),
    )
    absent_count = _threshold(
        _("absences"),
        maximum=LARGEST_LESSON_COUNT,
        help_text=_(
            "Warn when a student is absent (缺勤) from at least this many lessons… (0: off)"
        ),
    )
    absent_window = _threshold(
        _("of the last lessons"),
        maximum=LARGEST_LESSON_COUNT,
        help_text=_("…of the class's last this many lessons."),
    )
    falling_drop = _threshold(
        _("watch share drop (points)"),
        maximum=100,
        help_text=_(
            "Warn when a student's mean watch share fell by at least this many percentage "
            "points… (0: off)"
        ),
    )
    falling_days = _threshold(
        _("over days"),
        maximum=60,
        help_text=_("…from the this many days before to the last this many days."),
    )
    late_count = _threshold(
        _("late times this month"),
        maximum=LARGEST_LESSON_COUNT,
        help_text=_("Warn when a student was late at least this many times this month. (0: off)"),
    )
    unreachable_lessons = _threshold(
        _("unreachable lessons in a row"),
        maximum=LARGEST_LESSON_COUNT,
        help_text=_(
            "Warn when WeCom could not reach the family (未触达) at this many lessons in a row. "
            "(0: off)"
        ),
    )
    # Every change of a threshold: who, when, before and after, and why (the audit trail).
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("warning rules")
        verbose_name_plural = _("warning rules")
        ordering = [models.F("department").asc(nulls_first=True)]
        constraints = [
            # One row per class, and one per school (no class): primary keys start at 1, so 0
            # stands for "no class".
            models.UniqueConstraint(
                "school",
                Coalesce("department", Value(0)),
                name="one_warning_rules_per_class",
                violation_error_message=_("These rules already have a row: change that one."),
            ),
        ]

    def __str__(self):
        if self.department_id is None:
            return str(_("School defaults"))
        return str(self.department)

    def clean(self):
        if self.department_id is None:
            missing = {name: _("The school's defaults need a value.") for name in FIELDS}
            errors = {
                name: message for name, message in missing.items() if getattr(self, name) is None
            }
            if errors:
                raise ValidationError(errors)
        if (
            self.absent_count is not None
            and self.absent_window is not None
            and self.absent_count > self.absent_window
        ):
            raise ValidationError(
                {"absent_count": _("A student cannot miss more lessons than the number looked at.")}
            )
        if self.falling_days == 0:
            raise ValidationError({"falling_days": _("Compare spans of at least one day.")})
        if self.absent_window == 0:
            raise ValidationError({"absent_window": _("Look at least at one lesson.")})


def policy_and_thresholds(
    department: Department,
) -> tuple[AttendancePolicy, WarningThresholds]:
    """The school's attendance policy and the class's warning thresholds, in one query (the
    class page has a query budget): the policy's row with the two rows of thresholds that may
    apply as scalar subqueries. Before the policy row exists, the two reads of before."""
    rows = {
        "school": Q(school_id=department.school_id, department__isnull=True),
        "class": Q(department=department),
    }
    values = {
        f"{row}_{name}": Subquery(WarningRules.objects.filter(condition).values(name)[:1])
        for row, condition in rows.items()
        for name in FIELDS
    }
    policy = AttendancePolicy.objects.filter(school_id=department.school_id).annotate(**values)
    policy = policy.first()
    if policy is None:
        return AttendancePolicy.current(department.school_id), warning_thresholds(department)
    merged = dataclasses.asdict(DEFAULTS)
    for row in rows:
        for name in FIELDS:
            if (value := getattr(policy, f"{row}_{name}")) is not None:
                merged[name] = value
    return policy, WarningThresholds(**merged)


def warning_thresholds(department: Department) -> WarningThresholds:
    """The class's thresholds: its own values, else the school's row, else ``DEFAULTS``. One
    query."""
    rows = {
        row.department_id: row
        for row in WarningRules.objects.filter(
            Q(school_id=department.school_id, department__isnull=True) | Q(department=department)
        )
    }
    values = dataclasses.asdict(DEFAULTS)
    for row in (rows.get(None), rows.get(department.pk)):
        if row is None:
            continue
        values.update(
            {name: getattr(row, name) for name in FIELDS if getattr(row, name) is not None}
        )
    return WarningThresholds(**values)
