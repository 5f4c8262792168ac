"""A student's corrections with their history (who, when, what changed, why), read in two
queries whatever their number: the versions django-simple-history kept, compared here one after
the other rather than with a query per version."""

import dataclasses
import datetime as dt

from school_live.school.models import Student

from .models import Excuse, NicknameClaim

# The fields whose changes the history lists.
AUDITED_FIELDS = ("living", "start_date", "end_date", "kind", "reason", "revoked_at")
CLAIM_AUDITED_FIELDS = ("department", "nickname", "student", "reason", "revoked_at")


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
    histories = (
        versions(Excuse.history.filter(student=student), fields=AUDITED_FIELDS) if excuses else {}
    )
    return [ExcuseEntry(excuse=excuse, history=histories.get(excuse.pk, [])) for excuse in excuses]


@dataclasses.dataclass(frozen=True)
class ClaimEntry:
    claim: NicknameClaim
    history: list[HistoryEntry]


def student_nickname_claims(*, student: Student) -> list[ClaimEntry]:
    """Every WeChat nickname claimed for the student, newest first, removed ones included, each
    with its history oldest first (two queries, one when there is none)."""
    claims = list(
        NicknameClaim.objects.filter(student=student).select_related(
            "department", "created_by", "revoked_by"
        )
    )
    histories = (
        versions(NicknameClaim.history.filter(student=student), fields=CLAIM_AUDITED_FIELDS)
        if claims
        else {}
    )
    return [ClaimEntry(claim=claim, history=histories.get(claim.pk, [])) for claim in claims]


def versions(records, *, fields: tuple[str, ...]) -> dict[int, list[HistoryEntry]]:
    """The history rows ``records`` (any model's simple-history queryset) as entries per object
    id, oldest first, each with the ``fields`` that changed since the version before: one query,
    for every correction that keeps a history (excuses now, the nickname book next)."""
    model = records.model.instance_type
    labels = {name: model._meta.get_field(name).verbose_name for name in fields}
    histories: dict[int, list[HistoryEntry]] = {}
    previous = {}
    for record in records.select_related("history_user").order_by(
        "id", "history_date", "history_id"
    ):
        before = previous.get(record.id)
        changes = []
        if before is not None:
            for name in fields:
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
    """A field's value as the history shows it: a foreign key's id, a choice's label."""
    field = record.instance_type._meta.get_field(name)
    if field.is_relation:
        return getattr(record, field.attname)
    if field.choices:
        return str(dict(field.flatchoices).get(getattr(record, name), getattr(record, name)))
    return getattr(record, name)
