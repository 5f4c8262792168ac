"""The class page's warnings, kept per class between requests until the class's attendance
changes: building and compiling the warnings' query (the verdict over the class's last lessons)
was most of the page's time, and its result changes only when the rows it reads do.

Kept in the ``pages`` cache (per process, in memory) under the class, the version of its
attendance (``school/changes.py``: bumped by the sync's store and by the corrections' services),
its thresholds and the school's attendance policy (read each time, in one query as before, so
an admin's change is seen at once). The warnings also move with the clock (the spans of days,
the month, a lesson ending): what is kept is used for ``FRESH_FOR`` at most, within the month it
was computed in, and never for an earlier instant. A write no version follows (an edit in the
admin's roster) is therefore seen within ``FRESH_FOR``.
"""

import dataclasses
import datetime as dt
import hashlib

from django.core.cache import caches
from django.utils import timezone

from school_live.alerts.models import policy_and_thresholds
from school_live.school.changes import attendance_version
from school_live.school.models import Department

from ..rules import rules_for
from .warnings import StudentWarnings, class_warnings

CACHE = "pages"
FRESH_FOR = dt.timedelta(seconds=60)


@dataclasses.dataclass(frozen=True)
class _Kept:
    computed_at: dt.datetime
    warnings: list[StudentWarnings]

    def fresh_at(self, now: dt.datetime) -> bool:
        month = timezone.localtime(now).strftime("%Y-%m")
        return (
            self.computed_at <= now < self.computed_at + FRESH_FOR
            and timezone.localtime(self.computed_at).strftime("%Y-%m") == month
        )


def class_warnings_kept(
    *, department: Department, now: dt.datetime | None = None
) -> list[StudentWarnings]:
    """``class_warnings`` of the class at ``now`` (default: now), as last computed when nothing
    it reads has changed since. Two queries as ``class_warnings`` when computed (its thresholds
    and policy, its counts) and one read of the shared cache; one query and that read when kept."""
    now = now or timezone.now()
    policy, thresholds = policy_and_thresholds(department)
    fields = [field.attname for field in policy._meta.get_fields() if field.concrete]
    described = repr(
        (
            "class-warnings",
            department.pk,
            attendance_version(department.pk),
            rules_for(department, policy=policy),
            thresholds,
            [getattr(policy, name) for name in fields],
        )
    )
    key = "class-warnings:" + hashlib.sha256(described.encode()).hexdigest()
    kept = caches[CACHE].get(key)
    if kept is not None and kept.fresh_at(now):
        return kept.warnings
    warnings = class_warnings(department=department, now=now, thresholds=thresholds, policy=policy)
    caches[CACHE].set(key, _Kept(computed_at=now, warnings=warnings), FRESH_FOR.total_seconds())
    return warnings
