"""A student's excuses with their history (who, when, what changed, why), read in two queries
whatever their number: the versions django-simple-history kept, compared here one after the
other rather than with a query per version."""

import dataclasses
import datetime as dt

from school_live.school.models import Student

from .models import Excuse

# The fields whose changes the history lists.
AUDITED_FIELDS = ("living", "start_date", "end_date", "kind", "reason", "revoked_at")


@dataclasses.dataclass(frozen=True)
class Change:
    field: str
    before: object
    after: object


@dataclasses.dataclass(frozen=True)
class HistoryEntry:
    when: dt.datetime
    who: object
    kind: str  # simple-history's history_type: "+" created, "~" changed
    why: str
    changes: list[Change]


@dataclasses.dataclass(frozen=True)
class ExcuseEntry:
    excuse: Excuse
    history: list[HistoryEntry]


def student_excuses(*, student: Student) -> list[ExcuseEntry]:
    """Every excuse of the student, newest first, revoked ones included, each with its history
    oldest first."""
    excuses = list(
        Excuse.objects.filter(student=student).select_related("living", "created_by", "revoked_by")
    )
    histories = _histories(student) if excuses else {}
    return [ExcuseEntry(excuse=excuse, history=histories.get(excuse.pk, [])) for excuse in excuses]


def _histories(student: Student) -> dict[int, list[HistoryEntry]]:
    records = (
        Excuse.history.filter(student=student)
        .select_related("history_user")
        .order_by("id", "history_date", "history_id")
    )
    labels = {name: Excuse._meta.get_field(name).verbose_name for name in AUDITED_FIELDS}
    histories: dict[int, list[HistoryEntry]] = {}
    previous = {}
    for record in records:
        before = previous.get(record.id)
        changes = []
        if before is not None:
            for name in AUDITED_FIELDS:
                old, new = _value(before, name), _value(record, name)
                if old != new:
                    changes.append(Change(field=str(labels[name]), before=old, after=new))
        histories.setdefault(record.id, []).append(
            HistoryEntry(
                when=record.history_date,
                who=record.history_user,
                kind=record.history_type,
                why=record.history_change_reason or "",
                changes=changes,
            )
        )
        previous[record.id] = record
    return histories


def _value(record, name: str):
    if name == "living":
        return record.living_id
    if name == "kind":
        return str(Excuse.Kind(record.kind).label) if record.kind in Excuse.Kind.values else ""
    return getattr(record, name)
