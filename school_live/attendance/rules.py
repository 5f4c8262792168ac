"""What counts as present, late or left early: the school's policy with a class's override.

The verdicts themselves are computed in SQL by ``verdicts.py``; this module only names them and
gathers the numbers they depend on.
"""

import dataclasses
import datetime as dt

from django.db import models
from django.utils.translation import gettext_lazy as _

from school_live.school.models import AttendancePolicy, Department


class Verdict(models.TextChoices):
    # Translators: 出勤
    PRESENT = "present", _("present")
    # Translators: 部分
    PARTIAL = "partial", _("partial")
    # Translators: 缺勤
    ABSENT = "absent", _("absent")
    # Did not watch and no parent follows 学校通知: WeCom cannot reach or count the family, so
    # absence is not proven (WeCom doc 93742 lists only subscribed families as unwatched).
    # Translators: 未触达
    UNREACHABLE = "unreachable", _("unreachable")
    # Excused by a head teacher or an admin (school_live.corrections) and not present: left out
    # of the attendance rate's denominator, counted on its own.
    # Translators: 请假
    EXCUSED = "excused", _("excused")


# The one order of verdicts in every table, download and email: the students a teacher has to
# act on first; 请假 between the partial and the present, never among the present.
VERDICT_ORDER = (
    Verdict.ABSENT,
    Verdict.UNREACHABLE,
    Verdict.PARTIAL,
    Verdict.EXCUSED,
    Verdict.PRESENT,
)


class VerdictRank(models.Func):
    """``CASE <verdict> WHEN 'absent' THEN 0 … ELSE 5 END``: ``VERDICT_ORDER`` as a simple CASE,
    which writes the verdict once. ``Case(When(verdict=…))`` would repeat the verdict's whole
    expression for each of the five verdicts (Django inlines an annotation at each use): five
    times the building and compiling of the largest expression of the query."""

    arity = 1
    output_field = models.IntegerField()

    def as_sql(self, compiler, connection, **extra_context):
        verdict_sql, params = compiler.compile(self.source_expressions[0])
        whens = " ".join(f"WHEN %s THEN {index}" for index in range(len(VERDICT_ORDER)))
        return (
            f"CASE {verdict_sql} {whens} ELSE {len(VERDICT_ORDER)} END",
            (*params, *(str(verdict) for verdict in VERDICT_ORDER)),
        )


def verdict_rank(field: str = "verdict") -> models.Func:
    """``VERDICT_ORDER`` as an SQL expression on ``field``, to sort rows by (then by name)."""
    return VerdictRank(models.F(field))


def verdict_position(verdict: str) -> int:
    """A verdict's place in ``VERDICT_ORDER``, for rows sorted in Python."""
    try:
        return VERDICT_ORDER.index(verdict)
    except ValueError:
        return len(VERDICT_ORDER)


class Flag(models.TextChoices):
    """The annotation names on ``class_attendance`` rows, with their labels."""

    # Translators: 迟到
    LATE = "is_late", _("late")
    # Translators: 早退
    LEFT_EARLY = "left_early", _("left early")
    # Translators: 仅回放
    REPLAY_ONLY = "replay_only", _("replay only")
    # Translators: 评论
    COMMENTED = "commented", _("commented")


def flag_names(record) -> list[str]:
    """The flag labels set on a row (a model instance, an annotated row or a dict), as every
    page, badge and export lists them."""
    names = []
    for name, label in Flag.choices:
        value = record.get(name) if isinstance(record, dict) else getattr(record, name, False)
        if value:
            names.append(label)
    return names


@dataclasses.dataclass(frozen=True)
class AttendanceRules:
    present_threshold: int  # percent of the living's duration
    late_grace: dt.timedelta
    early_grace: dt.timedelta

    def present_seconds(self, duration: int) -> int | None:
        """The fewest watched seconds that make a student present; None when nobody can be.

        Integer arithmetic (a ceiling) so that 80% of 3600 s is exactly 2880 s on every database;
        a living without a known duration proves nobody present.
        """
        if duration <= 0:
            return None
        return -(-self.present_threshold * duration // 100)


def school_rules(policy: AttendancePolicy | None = None, *, school=None) -> AttendanceRules:
    """The school's defaults, before any class override: ``policy``, else ``school``'s (a School
    or its id)."""
    policy = policy or AttendancePolicy.current(school)
    return AttendanceRules(
        present_threshold=policy.present_threshold,
        late_grace=dt.timedelta(minutes=policy.late_grace_minutes),
        early_grace=dt.timedelta(minutes=policy.early_leave_grace_minutes),
    )


def rules_for(
    department: Department | None, *, policy: AttendancePolicy | None = None
) -> AttendanceRules:
    """The rules for one class: the school policy, with the class's own present threshold if set."""
    rules = school_rules(policy, school=department.school_id if department else None)
    if department is not None and department.present_threshold is not None:
        rules = dataclasses.replace(rules, present_threshold=department.present_threshold)
    return rules
