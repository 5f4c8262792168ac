"""What the class page keeps per class between requests until the class's attendance changes:
its warnings (``warnings_kept``), a lesson's verdict rows and the marks of same-name students
(``living``). Building and compiling the verdict query costs more than running it, and its
result changes only when the rows it reads do.

Kept in the ``pages`` cache (per process, in memory) under the class, the version of its
attendance (``school/changes.py``: bumped by the sync's store and by the corrections' services)
and whatever else the caller's result depends on: the class's thresholds and the school's
attendance policy are read each time (``ClassState``, once per page), so an admin's change is
seen at once. What is kept is used for ``FRESH_FOR`` at most, within the month it was computed in
(the warnings move with the clock: the spans of days, the month), and never for an earlier
instant. A write no version follows (an edit in the admin's roster) is therefore seen within
``FRESH_FOR``.
"""

import dataclasses
import datetime as dt
import hashlib
from collections.abc import Callable
from typing import Any, TypeVar

from django.core.cache import caches
from django.utils import timezone

from school_live.alerts.models import WarningThresholds, policy_and_thresholds
from school_live.school.changes import attendance_version
from school_live.school.models import AttendancePolicy, Department

from ..rules import AttendanceRules, rules_for

CACHE = "pages"
FRESH_FOR = dt.timedelta(seconds=60)

T = TypeVar("T")


@dataclasses.dataclass(frozen=True)
class ClassState:
    """What a class page's kept results are keyed by, read once per page: the version of the
    class's attendance, the school's attendance policy, the class's warning thresholds and its
    rules. Two reads: the policy with the thresholds (one query) and the version (one read of
    the shared cache)."""

    department: Department
    version: str
    policy: AttendancePolicy
    thresholds: WarningThresholds
    rules: AttendanceRules

    @classmethod
    def of(cls, department: Department) -> "ClassState":
        policy, thresholds = policy_and_thresholds(department)
        return cls(
            department=department,
            version=attendance_version(department.pk),
            policy=policy,
            thresholds=thresholds,
            rules=rules_for(department, policy=policy),
        )

    def described(self) -> tuple:
        fields = [field.attname for field in self.policy._meta.get_fields() if field.concrete]
        return (
            self.department.pk,
            self.version,
            self.rules,
            self.thresholds,
            [getattr(self.policy, name) for name in fields],
        )


@dataclasses.dataclass(frozen=True)
class _Kept:
    computed_at: dt.datetime
    value: Any

    def fresh_at(self, now: dt.datetime) -> bool:
        month = timezone.localtime(now).strftime("%Y-%m")
        return (
            self.computed_at <= now < self.computed_at + FRESH_FOR
            and timezone.localtime(self.computed_at).strftime("%Y-%m") == month
        )


def kept_for_class(
    name: str,
    *,
    state: ClassState,
    depends_on: tuple = (),
    compute: Callable[[], T],
    now: dt.datetime,
) -> T:
    """``compute()`` as last computed for the class when neither ``state`` nor ``depends_on``
    (values with a stable ``repr``) has changed since, and fresh at ``now``."""
    described = repr((name, *state.described(), *depends_on))
    key = f"{name}:" + hashlib.sha256(described.encode()).hexdigest()
    kept = caches[CACHE].get(key)
    if kept is not None and kept.fresh_at(now):
        return kept.value
    value = compute()
    caches[CACHE].set(key, _Kept(computed_at=now, value=value), FRESH_FOR.total_seconds())
    return value
