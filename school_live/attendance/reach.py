"""Whether WeCom can reach a student's family: the one definition every reader uses.

A student is **reachable** for a lesson when a parent of theirs follows 学校通知, which the school
knows two ways:

- the roster: an active parent linked to the student who follows 学校通知 (``Parent.is_subscribed``,
  from school/user/list);
- WeCom's word for the lesson: get_unwatch_stat lists the student with a parent (WeCom doc 93742
  lists only students a parent of whom follows 学校通知).

Either is enough. The second alone is not: whether WeCom lists anyone for a lesson created through
living/create is undocumented (api.md §12), and an empty list must not make a class unreachable.
The first alone is not either: a roster synced before a parent followed would hide them.

The roll call (未进入 vs 未触达), the reminder's recipients, the verdicts (缺勤 vs 未触达), the warnings
and the digests read this module; each correlates the rows to its own query shape.
"""

from django.db.models import Count, Exists, F, IntegerField, Q, QuerySet
from django.db.models.functions import Coalesce
from django.db.models.lookups import GreaterThan

from school_live.db_internals import join_grouped, joined_column
from school_live.school.models import Guardianship, StudentUnwatch


def following_guardians(guardians: QuerySet[Guardianship]) -> QuerySet[Guardianship]:
    """Those of ``guardians`` whose parent follows 学校通知 by the roster (and is still in WeCom)."""
    return guardians.filter(parent__is_active=True, parent__is_subscribed=True)


def listed_unwatched(unwatches: QuerySet[StudentUnwatch]) -> QuerySet[StudentUnwatch]:
    """Those of ``unwatches`` (get_unwatch_stat rows) that name a parent WeCom reaches."""
    return unwatches.exclude(parent_userid="")


def reachable(*, guardians: QuerySet[Guardianship], unwatches: QuerySet[StudentUnwatch]) -> Q:
    """The rule as a condition on the outer row: ``guardians`` are the student's Guardianship
    rows and ``unwatches`` their unwatch rows at the lesson, both correlated with OuterRef by
    the caller. Usable in ``annotate`` and ``filter``."""
    return Exists(following_guardians(guardians)) | Exists(listed_unwatched(unwatches))


def join_reachable(
    queryset: QuerySet,
    *,
    guardians: QuerySet[Guardianship],
    unwatches: QuerySet[StudentUnwatch],
    student: str,
    student_userid: str,
    living: str | None,
) -> tuple[QuerySet, Q]:
    """The rule for many rows at once: ``guardians`` and ``unwatches`` not correlated (every row
    that may matter), grouped per student and per (lesson, student) in subqueries joined once to
    ``queryset`` on the row's ``student`` (the student's pk), ``student_userid`` and ``living``
    (the lesson's id; None when ``unwatches`` are of one lesson). Returns the queryset and the
    condition: a correlated EXISTS would be inlined again by every use of the verdict."""
    following = (
        following_guardians(guardians)
        .order_by()
        .values(guardian_student=F("student_id"))
        .annotate(guardian_count=Count("pk"))
    )
    queryset, guardian_alias = join_grouped(
        queryset,
        grouped=following,
        table_name="attendance_guardian_facts",
        on=[(student, "guardian_student")],
    )
    keys = {"unwatch_student": F("student_userid")}
    if living is not None:
        keys = {"unwatch_living": F("living_id"), **keys}
    listed = (
        listed_unwatched(unwatches).order_by().values(**keys).annotate(unwatch_count=Count("pk"))
    )
    queryset, unwatch_alias = join_grouped(
        queryset,
        grouped=listed,
        table_name="attendance_unwatch_facts",
        on=[(living, "unwatch_living")] * (living is not None)
        + [(student_userid, "unwatch_student")],
    )

    def counted(alias: str, column: str) -> Q:
        return Q(GreaterThan(Coalesce(joined_column(alias, column, IntegerField()), 0), 0))

    return queryset, counted(guardian_alias, "guardian_count") | counted(
        unwatch_alias, "unwatch_count"
    )
