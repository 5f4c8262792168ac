"""The roll call of a lesson under way: who has joined, and who has not, split by whether WeCom can
reach their family.

While a lesson is live a verdict means little (everyone still watching is "partial"); what a
teacher acts on is who is in the room. Each roster student of a class is in exactly one group:

- ``joined`` (已进入): get_watch_stat lists them, on their own account or a parent's. A row counts
  as soon as WeCom has it, even at 0 seconds: during the lesson a student who has just opened it
  has entered (the verdicts, read after the end, ask for watching time instead);
- ``reachable`` (未进入): not joined, and a parent follows 学校通知 (``attendance/reach.py``: by
  the roster, or get_unwatch_stat lists them), so the family can be reminded;
- ``unreachable`` (未触达): not joined and no parent follows 学校通知: WeCom cannot tell.

Three queries whatever the size: the classes (``scope``), the counts per class and group
(GROUP BY in SQL), and the students of the one class a page lists.
"""

import dataclasses
import datetime as dt

from django.db.models import (
    Case,
    CharField,
    Count,
    Exists,
    F,
    IntegerField,
    Min,
    OuterRef,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Coalesce
from django.utils import timezone

from school_live.attendance.claimed import claimed_visits
from school_live.attendance.reach import reachable
from school_live.school.models import (
    Department,
    Enrollment,
    Guardianship,
    Living,
    Student,
    StudentUnwatch,
    StudentWatch,
)


class Group:
    JOINED = "joined"
    REACHABLE = "reachable"
    UNREACHABLE = "unreachable"
    ORDER = (REACHABLE, UNREACHABLE, JOINED)  # what a teacher acts on first


@dataclasses.dataclass(frozen=True)
class Counts:
    joined: int = 0
    reachable: int = 0
    unreachable: int = 0

    @property
    def not_joined(self) -> int:
        return self.reachable + self.unreachable

    @property
    def total(self) -> int:
        return self.joined + self.not_joined

    def as_dict(self) -> dict:
        return {
            "joined": self.joined,
            "reachable": self.reachable,
            "unreachable": self.unreachable,
            "not_joined": self.not_joined,
            "total": self.total,
        }


@dataclasses.dataclass(frozen=True)
class ClassRollCall:
    department: Department
    counts: Counts


@dataclasses.dataclass(frozen=True)
class RollCall:
    living: Living
    classes: list[ClassRollCall]
    now: dt.datetime

    @property
    def totals(self) -> Counts:
        return Counts(
            joined=sum(c.counts.joined for c in self.classes),
            reachable=sum(c.counts.reachable for c in self.classes),
            unreachable=sum(c.counts.unreachable for c in self.classes),
        )

    @property
    def minutes_since_start(self) -> int | None:
        start = self.living.living_start
        if start is None:
            return None
        return max(0, int((self.now - start).total_seconds() // 60))


def _of_student(model, living, userid: str, livings=None) -> QuerySet:
    """The living's rows of ``model`` for the student whose userid the outer ``userid`` gives
    (``living``: a Living, or an ``OuterRef`` to the row's living among the ids ``livings``)."""
    rows = model.objects.filter(living=living, student_userid=OuterRef(userid))
    return rows if livings is None else rows.filter(living__in=livings)


def _claimed(living: Living, student: str, department, livings=None) -> QuerySet:
    """The living's visitor rows claimed in the nickname book for the student (whose primary key
    the outer ``student`` lookup gives) in ``department`` (a value, or an ``OuterRef``)."""
    rows = claimed_visits(living=living, student=OuterRef(student), department=department)
    return rows if livings is None else rows.filter(living__in=livings)


def _annotate(
    students: QuerySet, *, living, userid: str, student: str, department, livings=None
) -> QuerySet:
    """``group`` on rows whose ``userid`` lookup gives the student's userid (``student``: their
    primary key). A visitor whose nickname the class's book claims for the student has joined
    for them. ``livings``: the ids ``living`` (an ``OuterRef``) is among, named in each
    subquery so that PostgreSQL, should it hash one ("hashed SubPlan"), reads those lessons'
    rows rather than every row of every lesson (as ``summaries.livings_breakdown``)."""
    return students.annotate(
        joined=Exists(_of_student(StudentWatch, living, userid, livings))
        | Exists(_claimed(living, student, department, livings)),
        reachable=reachable(
            guardians=Guardianship.objects.filter(student=OuterRef(student)),
            unwatches=_of_student(StudentUnwatch, living, userid, livings),
        ),
    ).annotate(
        group=Case(
            When(joined=True, then=Value(Group.JOINED)),
            When(reachable=True, then=Value(Group.REACHABLE)),
            default=Value(Group.UNREACHABLE),
            output_field=CharField(),
        )
    )


def living_rollcall(
    *, living: Living, classes: QuerySet[Department], now: dt.datetime | None = None
) -> RollCall:
    """The counts of each of ``classes`` (already scoped to the viewer), in class order."""
    departments = list(classes.order_by("-order", "id"))
    enrollments = Enrollment.objects.filter(department__in=departments, student__is_active=True)
    rows = (
        _annotate(
            enrollments,
            living=living,
            userid="student__student_userid",
            student="student_id",
            department=OuterRef("department_id"),
        )
        .values("department_id", "group")
        .annotate(students=Count("pk"))
        .order_by()
    )
    counts: dict[int, dict[str, int]] = {}
    for row in rows:
        counts.setdefault(row["department_id"], {})[row["group"]] = row["students"]
    return RollCall(
        living=living,
        classes=[
            ClassRollCall(department=department, counts=Counts(**counts.get(department.pk, {})))
            for department in departments
        ],
        now=now or timezone.now(),
    )


def class_rollcall_students(*, living: Living, department: Department) -> QuerySet[Student]:
    """The class's active students, each annotated with ``group``, ``first_enter`` (the first
        entry over their accounts), ``own_account`` (a row of their own account) and
        ``parent_account`` (a row of a parent's), ``visitor_nickname`` (a WeChat visitor the class's
    nickname book claims for them, when one came); in ``Group.ORDER``, by name within a group
        except the joined, latest arrival first (who just came in is on top)."""
    entered = _of_student(StudentWatch, living, "student_userid")
    first_enter = Subquery(
        entered.order_by()
        .values("student_userid")
        .annotate(first=Min("enter_time"))
        .values("first")[:1]
    )
    order = Case(
        *(When(group=group, then=Value(index)) for index, group in enumerate(Group.ORDER)),
        output_field=IntegerField(),
    )
    return (
        _annotate(
            Student.objects.filter(is_active=True, enrollments__department=department),
            living=living,
            userid="student_userid",
            student="pk",
            department=department,
        )
        .annotate(
            visitor_nickname=Subquery(
                _claimed(living, "pk", department).order_by("nickname").values("nickname")[:1]
            ),
            # Their own accounts' first entry, or else the claimed visitor's.
            first_enter=Coalesce(
                first_enter,
                Subquery(
                    _claimed(living, "pk", department)
                    .order_by("enter_time")
                    .values("enter_time")[:1]
                ),
            ),
            own_account=Exists(entered.filter(parent_userid="")),
            parent_account=Exists(entered.exclude(parent_userid="")),
            group_order=order,
        )
        # Only the joined have an entry time: the others tie on it and go by name.
        .order_by("group_order", F("first_enter").desc(nulls_last=True), "name", "student_userid")
    )


def livings_rollcall_totals(*, livings: list[Living], user=None) -> dict[int, Counts]:
    """The roll call's totals of each of ``livings`` over the classes of it ``user`` reads (every
    class without a user), as ``RollCall.totals``: ``{living.pk: Counts}``. Two queries whatever
    their number: the classes, and the counts per lesson and group (GROUP BY in SQL)."""
    from .summaries import _breakdown_classes  # summaries' one reading of the visible classes

    living_ids = [living.pk for living in livings]
    if not living_ids:
        return {}
    classes = _breakdown_classes(living_ids=living_ids, user=user)
    department_ids = {d.pk for departments in classes.values() for d in departments}
    totals: dict[int, dict[str, int]] = {living_id: {} for living_id in living_ids}
    if department_ids:
        pairs = Enrollment.objects.filter(
            department__in=department_ids,
            department__livings__in=living_ids,
            student__is_active=True,
        ).annotate(lesson_id=F("department__livings"))
        rows = (
            _annotate(
                pairs,
                living=OuterRef("lesson_id"),
                userid="student__student_userid",
                student="student_id",
                department=OuterRef("department_id"),
                livings=living_ids,
            )
            .values("lesson_id", "department_id", "group")
            .annotate(students=Count("pk"))
            .order_by()
        )
        for row in rows:
            # Only the classes the user reads of that lesson (a class may be in another lesson
            # the user reads and not in this one's range).
            if any(d.pk == row["department_id"] for d in classes.get(row["lesson_id"], ())):
                counts = totals[row["lesson_id"]]
                counts[row["group"]] = counts.get(row["group"], 0) + row["students"]
    return {living_id: Counts(**counts) for living_id, counts in totals.items()}
