"""Writing corrections: mark a student excused (请假), revoke it, import a leave list.

Every write goes through ``excuse_create`` or ``excuse_revoke``: each saves one history row
(django-simple-history) with who did it (``history_user``) and why (``history_change_reason``).
Nothing is deleted; a mistaken excuse is revoked and stays on record.
"""

import dataclasses
import datetime as dt

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from school_live.school.changes import attendance_changed
from school_live.school.models import Living, Student

from .models import Excuse


class ExcuseRefused(ValueError):
    """A correction that cannot be made as asked; the message says what to fix."""


@dataclasses.dataclass(frozen=True)
class ExcuseRequest:
    """What an excuse says, before it is saved: one living, or the days start..end."""

    student: Student
    kind: str
    reason: str = ""
    start: dt.date | None = None
    end: dt.date | None = None
    living: Living | None = None


def excuse_check(request: ExcuseRequest) -> None:
    """Raise ``ExcuseRefused`` for a request that cannot be saved as it stands."""
    if request.kind not in Excuse.Kind.values:
        raise ExcuseRefused(_("Choose a reason: sick leave, personal leave or another reason."))
    if request.kind == Excuse.Kind.OTHER and not request.reason.strip():
        raise ExcuseRefused(_("Write the reason when it is neither sick nor personal leave."))
    if request.living is not None:
        if request.start or request.end:
            raise ExcuseRefused(_("Choose one live lesson or a date range, not both."))
        return
    if request.start is None or request.end is None:
        raise ExcuseRefused(_("Choose a live lesson, or the first and the last day of leave."))
    if request.start > request.end:
        raise ExcuseRefused(_("The first day of leave must not be after the last."))


def excuse_create(*, request: ExcuseRequest, by=None, why: str = "") -> Excuse:
    """Save one excuse, with ``by`` (a user, None for a command) and ``why`` in its history."""
    excuse_check(request)
    excuse = Excuse(
        school_id=request.student.school_id,
        student=request.student,
        living=request.living,
        start_date=request.start,
        end_date=request.end,
        kind=request.kind,
        reason=request.reason.strip(),
        created_by=by,
    )
    history_note(excuse, by=by, why=why or _("marked excused"))
    excuse.save()
    attendance_changed()
    return excuse


def excuse_revoke(*, excuse: Excuse, by=None, why: str = "") -> Excuse:
    """Reverse an excuse: it stays on record, revoked. Revoking twice changes nothing."""
    return record_revoke(excuse, by=by, why=why or _("revoked"))


def excuses_create_all(*, requests: list[ExcuseRequest], by=None, why: str = "") -> list[Excuse]:
    """Save every request or none (a leave list is checked whole before this is called)."""
    for request in requests:
        excuse_check(request)
    with transaction.atomic():
        return [excuse_create(request=request, by=by, why=why) for request in requests]


def record_revoke(record, *, by, why: str):
    """Revoke a correction (an excuse, a nickname claim): it stays on record with who and when,
    and its history says why. Revoking twice changes nothing."""
    if record.revoked_at is not None:
        return record
    record.revoked_at = timezone.now()
    record.revoked_by = by
    history_note(record, by=by, why=why)
    record.save(update_fields=["revoked_at", "revoked_by"])
    attendance_changed()
    return record


def history_note(record, *, by, why: str) -> None:
    """Who and why for the history row simple-history writes at the record's next save."""
    # simple-history reads these from the instance; in a request its middleware gives the user.
    if by is not None:
        record._history_user = by
    record._change_reason = why[:100]
