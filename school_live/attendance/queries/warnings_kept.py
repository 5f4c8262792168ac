"""The class page's warnings, kept per class between requests until the class's attendance
changes (``kept``): building and compiling the warnings' query (the verdict over the class's
last lessons) was most of the page's time, and its result changes only when the rows it reads
do. Keyed by the class's thresholds and the school's attendance policy too, read each time (in
one query as before, ``kept.ClassState``), so an admin's change is seen at once.
"""

import datetime as dt

from django.utils import timezone

from school_live.school.models import Department

from .kept import ClassState, kept_for_class
from .warnings import StudentWarnings, class_warnings


def class_warnings_kept(
    *, department: Department, now: dt.datetime | None = None, state: ClassState | None = None
) -> list[StudentWarnings]:
    """``class_warnings`` of the class at ``now`` (default: now), as last computed when nothing
    it reads has changed since. Two queries as ``class_warnings`` when computed (its thresholds
    and policy, its counts) and one read of the shared cache; one query and that read when kept
    (none when the page has read its ``state`` already)."""
    now = now or timezone.now()
    state = state or ClassState.of(department)
    return kept_for_class(
        "class-warnings",
        state=state,
        compute=lambda: class_warnings(
            department=department, now=now, thresholds=state.thresholds, policy=state.policy
        ),
        now=now,
    )
