"""Telling apart students who share a name within a class (two 唐睿 in 一年级一班).

Wherever a student is listed or picked (tables, the roll call, warnings, dropdowns, downloads and
emails) a student whose name another student of the same class also has gets a short mark a
teacher understands: the relation and the tail of the mobile of one of their parents, as the
roster gives them ("爸爸 尾号 1234"); without a mobile, or when two marks would read the same,
the student's WeCom userid. Students with a name of their own get no mark.

One query per listing, whatever its size: the students of the classes who share a name, each with
the parent the mark names (a subquery). The caller keeps the marks in a dict by student userid.
"""

from collections import defaultdict
from collections.abc import Iterable

from django.db.models import Case, Exists, IntegerField, OuterRef, Subquery, Value, When
from django.utils.translation import gettext as _

from school_live.school.models import Department, Enrollment, Guardianship

MOBILE_TAIL = 4


def _mark_parent(field: str, student: str = "student_id") -> Subquery:
    """``field`` of the guardianship the mark names: a parent with a mobile first, then by
    parent userid, so that the mark stays the same from one page to the next. ``student``: the
    outer lookup that gives the student's primary key."""
    return Subquery(
        Guardianship.objects.filter(student_id=OuterRef(student))
        .annotate(
            no_mobile=Case(
                When(parent__mobile="", then=Value(1)),
                default=Value(0),
                output_field=IntegerField(),
            )
        )
        .order_by("no_mobile", "parent__parent_userid")
        .values(field)[:1]
    )


def _mark(relation: str | None, mobile: str | None, userid: str) -> str:
    digits = "".join(c for c in (mobile or "") if c.isdigit())
    if len(digits) < MOBILE_TAIL:
        return userid
    # Translators: tells apart two students of the same name by a parent, e.g. 爸爸 尾号 1234
    return _("%(relation)s, mobile ending %(tail)s") % {
        "relation": relation or _("parent"),
        "tail": digits[-MOBILE_TAIL:],
    }


def namesake_marks(*, departments: Iterable[Department | int]) -> dict[str, str]:
    """``{student_userid: mark}`` for the students of ``departments`` whose name another
    student of the same class has; the others are not in it."""
    ids = [getattr(department, "pk", department) for department in departments]
    if not ids:
        return {}
    namesake = Enrollment.objects.filter(
        department_id=OuterRef("department_id"), student__name=OuterRef("student__name")
    ).exclude(student_id=OuterRef("student_id"))
    rows = (
        Enrollment.objects.filter(department_id__in=ids)
        .exclude(student__name="")
        .filter(Exists(namesake))
        .annotate(
            relation=_mark_parent("relation"),
            mobile=_mark_parent("parent__mobile"),
        )
        .values_list(
            "department_id", "student__student_userid", "student__name", "relation", "mobile"
        )
        .order_by()
    )
    groups: dict[tuple[int, str], dict[str, str]] = defaultdict(dict)
    for department_id, userid, name, relation, mobile in rows:
        groups[department_id, name][userid] = _mark(relation, mobile, userid)
    return _distinct(groups.values())


def namesake_columns(department: Department) -> dict:
    """Annotations for a queryset of ``Student`` rows of ``department`` (e.g. a grouped query,
    where a second query would break its budget): ``namesake_shared``, ``namesake_relation``,
    ``namesake_mobile``; ``marks_of_rows`` turns the rows into marks."""
    namesake = Enrollment.objects.filter(
        department_id=department.pk, student__name=OuterRef("name")
    ).exclude(student_id=OuterRef("pk"))
    return {
        "namesake_shared": Exists(namesake),
        "namesake_relation": _mark_parent("relation", "pk"),
        "namesake_mobile": _mark_parent("parent__mobile", "pk"),
    }


def marks_of_rows(rows: Iterable[dict]) -> dict[str, str]:
    """``{student_userid: mark}`` from rows annotated with ``namesake_columns``. Only the rows
    at hand are compared: two marks that read the same among them fall back to the userid."""
    groups: dict[str, dict[str, str]] = defaultdict(dict)
    for row in rows:
        if row["namesake_shared"] and row["name"]:
            userid = row["student_userid"]
            groups[row["name"]][userid] = _mark(
                row["namesake_relation"], row["namesake_mobile"], userid
            )
    return _distinct(groups.values())


def _distinct(groups) -> dict[str, str]:
    marks: dict[str, str] = {}
    for group in groups:
        if len(set(group.values())) < len(group):
            # Two namesakes' parents read the same: only the userid tells them apart.
            group = {userid: userid for userid in group}
        marks.update(group)
    return marks


def mark_brackets(mark: str) -> str:
    # Translators: what tells a student apart from a classmate of the same name, after the
    # name, e.g. （爸爸 尾号 1234）
    return _("(%(mark)s)") % {"mark": mark}


def student_label(name: str, mark: str = "") -> str:
    """A student's name as plain text, with their mark when their name is shared."""
    if not mark:
        return name
    # Translators: a student's name with what tells them apart from a classmate of the same
    # name, e.g. 唐睿（爸爸 尾号 1234）
    return _("%(name)s %(mark)s") % {"name": name, "mark": mark_brackets(mark)}


def _field(record, name: str, default=""):
    if isinstance(record, dict):
        return record.get(name, default)
    return getattr(record, name, default)


def record_label(record) -> tuple[str, str]:
    """(name, mark) of a student row (a model, an annotated row, a dict) that carries its mark
    as ``namesake``; the userid stands in for a missing name."""
    name = _field(record, "name") or _field(record, "student_userid")
    return str(name), str(_field(record, "namesake") or "")
