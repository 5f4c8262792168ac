"""What the class page keeps per class between requests until the class's attendance changes:
its warnings (``warnings_kept``) and a lesson's verdict rows (``living.class_rows_kept``).
Building and compiling the verdict query costs more than running it, and its result changes
only when the rows it reads do.

Kept in the ``pages`` cache (per process, in memory) under the class, the version of its
attendance (``school/changes.py``: bumped by the sync's store and by the corrections' services)
and whatever else the caller's result depends on (its thresholds and policy, read each time, so
an admin's change is seen at once). What is kept is used for ``FRESH_FOR`` at most, within the
month it was computed in (the warnings move with the clock: the spans of days, the month), and
never for an earlier instant. A write no version follows (an edit in the admin's roster) is
therefore seen within ``FRESH_FOR``.
"""

import dataclasses
import datetime as dt
import hashlib
from collections.abc import Callable
from typing import Any, TypeVar

from django.core.cache import caches
from django.utils import timezone

from school_live.school.changes import attendance_version
from school_live.school.models import Department

CACHE = "pages"
FRESH_FOR = dt.timedelta(seconds=60)

T = TypeVar("T")


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
    department: Department,
    depends_on: tuple,
    compute: Callable[[], T],
    now: dt.datetime,
) -> T:
    """``compute()`` as last computed for the class when neither its attendance's version nor
    ``depends_on`` (values with a stable ``repr``) has changed since, and fresh at ``now``.
    One read of the shared cache (the version) when kept."""
    described = repr((name, department.pk, attendance_version(department.pk), *depends_on))
    key = f"{name}:" + hashlib.sha256(described.encode()).hexdigest()
    kept = caches[CACHE].get(key)
    if kept is not None and kept.fresh_at(now):
        return kept.value
    value = compute()
    caches[CACHE].set(key, _Kept(computed_at=now, value=value), FRESH_FOR.total_seconds())
    return value
