"""Who a reminder is for, and what it changed: the reminders app's reads.

``not_joined_families`` is the selection the button, the command and the automatic reminder all
send to: students enrolled in the class who have not joined this living (no watch row at all: as in the
roll call, a row of 0 s during the lesson is someone who has just come in; nor a WeChat visitor the
class's nickname book claims for them), whose family WeCom can reach (``attendance/reach.py``,
the roll call's rule: a parent follows 学校通知 by the roster, or the living's unwatched row names
them; every such parent is sent the notice), within the app's allow scope, and not
reminded for this lesson in the last 10 minutes. That rule is per family, across every class of
the lesson: a student reminded from any class is skipped, and so is each parent a notice reached
(through any child, from any class); a family all of whose parents were reached is skipped.
"""

import dataclasses
import datetime as dt

from django.db.models import Count, Exists, OuterRef, QuerySet, Subquery
from django.utils import timezone

from school_live.attendance import scope
from school_live.attendance.claimed import claimed_visits
from school_live.attendance.reach import following_guardians, listed_unwatched, reachable
from school_live.school.models import (
    Department,
    Enrollment,
    Guardianship,
    Living,
    Student,
    StudentUnwatch,
    StudentWatch,
)
from school_live.wecom.records import AllowScope

from .models import Reminder, ReminderParent, ReminderStudent

# At most one notice per parent (and one reminder per student) per lesson within this window,
# from whichever class.
REMIND_AGAIN_AFTER = dt.timedelta(minutes=10)
# Reminders that may have reached a family: those WeCom accepted and those still on their way.
COUNTED = (Reminder.Status.SENT, Reminder.Status.SENDING)


@dataclasses.dataclass(frozen=True)
class Family:
    student_userid: str
    name: str
    parent_userids: tuple[str, ...]


@dataclasses.dataclass(frozen=True)
class Selection:
    families: tuple[Family, ...]  # to remind now
    recently_reminded: int  # not joined and reachable, but reminded in the last 10 minutes
    unreachable: int  # not joined, and no parent follows 学校通知
    outside_scope: int  # not joined and reachable, but outside the app's allow scope
    # left out because WeCom's newest rows, read right before sending, show them in the lesson
    joined_before_sending: int = 0

    def without(self, joined: set[str]) -> "Selection":
        """The selection less the families of students (lower-cased userids) who have joined
        since the rows it was read from, counted in ``joined_before_sending``."""
        kept = tuple(f for f in self.families if f.student_userid.lower() not in joined)
        return dataclasses.replace(
            self,
            families=kept,
            joined_before_sending=self.joined_before_sending + len(self.families) - len(kept),
        )

    @property
    def parent_userids(self) -> list[str]:
        """Every parent once, in the families' order."""
        return list(dict.fromkeys(p for family in self.families for p in family.parent_userids))


def _allowed_departments(scope: AllowScope, school_id: int) -> set[int]:
    """The allow scope's departments (WeCom's ids, of the school) and everything below them, as
    our primary keys."""
    children: dict[int | None, list[int]] = {}
    by_wecom_id: dict[int, int] = {}
    departments = Department.objects.filter(school_id=school_id)
    for pk, wecom_id, parent in departments.values_list("pk", "wecom_id", "parent_id"):
        children.setdefault(parent, []).append(pk)
        by_wecom_id[wecom_id] = pk
    allowed = set()
    todo = [by_wecom_id[partyid] for partyid in scope.partyids if partyid in by_wecom_id]
    while todo:
        pk = todo.pop()
        if pk not in allowed:
            allowed.add(pk)
            todo.extend(children.get(pk, ()))
    return allowed


def _not_joined(living: Living, department: Department) -> QuerySet[Student]:
    joined = StudentWatch.objects.filter(living=living, student_userid=OuterRef("student_userid"))
    # A WeChat visitor the class's nickname book claims for the student has joined for them.
    visited = claimed_visits(living=living, student=OuterRef("pk"), department=department)
    return (
        Student.objects.filter(is_active=True, enrollments__department=department)
        .exclude(Exists(joined))
        .exclude(Exists(visited))
        .annotate(
            reachable=reachable(
                guardians=Guardianship.objects.filter(student=OuterRef("pk")),
                unwatches=StudentUnwatch.objects.filter(
                    living=living, student_userid=OuterRef("student_userid")
                ),
            )
        )
        .order_by("name", "student_userid")
    )


def not_joined_families(
    *,
    living: Living,
    department: Department,
    allow_scope: AllowScope | None,
    now: dt.datetime | None = None,
) -> Selection:
    """The families to remind now (``allow_scope`` None: no scope restriction)."""
    now = now or timezone.now()
    rows = list(_not_joined(living, department).values_list("student_userid", "name", "reachable"))
    students = [(userid, name) for userid, name, _reachable in rows]
    userids = [userid for userid, _name in students]
    reach = {userid: is_reachable for userid, _name, is_reachable in rows}
    # The parents the notice goes to: those by whom the rule finds the family reachable.
    parents: dict[str, dict[str, None]] = {userid: {} for userid in userids}
    for userid, parent in listed_unwatched(
        StudentUnwatch.objects.filter(living=living, student_userid__in=userids)
    ).values_list("student_userid", "parent_userid"):
        parents[userid][parent] = None
    for userid, parent in following_guardians(
        Guardianship.objects.filter(school_id=living.school_id, student__student_userid__in=userids)
    ).values_list("student__student_userid", "parent__parent_userid"):
        parents[userid][parent] = None
    counted = {"reminder__status__in": COUNTED, "reminder__sent_at__gt": now - REMIND_AGAIN_AFTER}
    recent = set(
        ReminderStudent.objects.filter(
            living=living, student_userid__in=userids, **counted
        ).values_list("student_userid", flat=True)
    )
    reached = _parents_reached(living, {p for found in parents.values() for p in found}, counted)
    in_scope = set(userids)
    if allow_scope is not None:
        allowed = _allowed_departments(allow_scope, living.school_id)
        in_scope = {userid for userid in userids if userid in set(allow_scope.student_userids)}
        in_scope |= set(
            Enrollment.objects.filter(
                school_id=living.school_id,
                student__student_userid__in=userids,
                department_id__in=allowed,
            ).values_list("student__student_userid", flat=True)
        )
    families, counts = [], {"recent": 0, "unreachable": 0, "outside": 0}
    for userid, name in students:
        if not reach[userid]:
            counts["unreachable"] += 1
        elif userid not in in_scope:
            counts["outside"] += 1
        elif userid in recent or not set(parents[userid]) - reached:
            counts["recent"] += 1
        else:
            left = sorted(set(parents[userid]) - reached)  # one notice per parent
            families.append(Family(userid, name, tuple(left)))
    return Selection(
        families=tuple(families),
        recently_reminded=counts["recent"],
        unreachable=counts["unreachable"],
        outside_scope=counts["outside"],
    )


def _parents_reached(living: Living, parents: set[str], counted: dict) -> set[str]:
    """Those of ``parents`` a reminder of this living reached within the window (any class)."""
    found: set[str] = set()
    chosen = sorted(parents)
    for start in range(0, len(chosen), 500):  # SQLite caps a query's parameters
        found.update(
            ReminderParent.objects.filter(
                living=living, parent_userid__in=chosen[start : start + 500], **counted
            ).values_list("parent_userid", flat=True)
        )
    return found


def reminder_rows(*, living: Living, departments: QuerySet[Department]) -> list[ReminderStudent]:
    """Every student reminded in this living's ``departments``, newest reminder first, each with
    ``joined_at``: their first entry after the reminder was sent (None: not joined since). One
    query."""
    joined = StudentWatch.objects.filter(
        living=living,
        student_userid=OuterRef("student_userid"),
        watch_time__gt=0,
        enter_time__gte=OuterRef("reminder__sent_at"),
    ).order_by("enter_time")
    return list(
        ReminderStudent.objects.filter(living=living, reminder__department__in=departments)
        .select_related("reminder__sender", "reminder__department")
        .annotate(joined_at=Subquery(joined.values("enter_time")[:1]))
        .order_by("-reminder__sent_at", "-reminder_id", "name", "student_userid")
    )


def reminder_effect(rows: list[ReminderStudent]) -> list[dict]:
    """Per reminder (newest first): the reminder, its students, and how many joined after it,
    each student with ``delay`` (time from the reminder to their first entry) or None."""
    grouped: dict[int, dict] = {}
    for row in rows:
        entry = grouped.setdefault(
            row.reminder_id, {"reminder": row.reminder, "students": [], "joined": 0}
        )
        delay = None
        if row.joined_at is not None:
            delay = row.joined_at - row.reminder.sent_at
            entry["joined"] += 1
        entry["students"].append({"row": row, "joined_at": row.joined_at, "delay": delay})
    return list(grouped.values())


def reminded_families(*, living_ids: list[int], user) -> dict[int, int]:
    """How many students' families were reminded (WeCom accepted the notice) at each of
    ``living_ids``, in the classes of it ``user`` reads: ``{living_id: count}``. One query."""
    if not living_ids:
        return {}
    links = scope.living_class_links(user, living_ids).filter(
        living_id=OuterRef("living_id"), department_id=OuterRef("reminder__department_id")
    )
    rows = (
        ReminderStudent.objects.filter(
            living_id__in=living_ids, reminder__status=Reminder.Status.SENT
        )
        .filter(Exists(links))
        .values("living_id")
        .annotate(families=Count("student_userid", distinct=True))
        .order_by()
    )
    return {row["living_id"]: row["families"] for row in rows}
