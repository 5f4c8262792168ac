"""How people are named on the pages: teachers by name (``Teacher.display_name``), parents as
their child's relation ("何诺文的爸爸"); a WeCom userid only as a small detail."""

from django import template
from django.core.exceptions import ObjectDoesNotExist
from django.utils.html import format_html
from django.utils.translation import gettext as _

from school_live.school.models import Guardianship, Teacher

register = template.Library()


def _teacher(value) -> Teacher | None:
    if isinstance(value, Teacher):
        return value
    try:
        return getattr(value, "teacher", None)
    except ObjectDoesNotExist:  # a login that is not a teacher's (an admin's)
        return None


@register.filter
def teacher_name(value) -> str:
    """A teacher, or a login: the teacher's name, or words saying WeCom gave none; a login
    that is no teacher's (an admin) by its username."""
    teacher = _teacher(value)
    if teacher is not None:
        return teacher.display_name
    if value is None or value == "":
        return ""
    return value.get_username() if hasattr(value, "get_username") else str(value)


@register.filter
def teacher_name_detail(value):
    """``teacher_name``, followed by the WeCom userid in small type when there is no name:
    what an admin needs to find the teacher and fill the name in."""
    teacher = _teacher(value)
    if teacher is None or teacher.name:
        return teacher_name(value)
    return format_html('{} <small class="userid">{}</small>', teacher.display_name, teacher.userid)


def parent_label(child: str, relation: str) -> str:
    """A parent as their child's relation: 何诺文的爸爸."""
    # Translators: a parent named by their child and their relation to them, e.g. 何诺文的爸爸
    return _("%(child)s’s %(relation)s") % {
        "child": child,
        "relation": relation or _("parent"),
    }


def reminded_parents_attach(rows) -> None:
    """Give each reminded-student row (``school_id``, ``student_userid``, ``name``,
    ``parent_userids``) a ``parents`` list of ``{"label": "何诺文的爸爸", "userid": …}``, the
    relation read from the roster of the row's school in one query; a parent the roster no longer
    links shows as the child's parent."""
    rows = list(rows)
    schools = {row.school_id for row in rows}
    students = {row.student_userid for row in rows}
    parents = {userid for row in rows for userid in row.parent_userids}
    relations = {}
    if students and parents:
        relations = {
            (school, student, parent): relation
            for school, student, parent, relation in Guardianship.objects.filter(
                school__in=schools,
                student__student_userid__in=students,
                parent__parent_userid__in=parents,
            ).values_list(
                "school_id", "student__student_userid", "parent__parent_userid", "relation"
            )
        }
    for row in rows:
        child = row.name or row.student_userid
        key = (row.school_id, row.student_userid)
        row.parents = [
            {
                "label": parent_label(child, relations.get((*key, userid), "")),
                "userid": userid,
            }
            for userid in row.parent_userids
        ]


@register.filter
def parent_of(relation: str, student) -> str:
    """``{{ link.relation|parent_of:student }}``: 何诺文的爸爸."""
    return parent_label(
        getattr(student, "name", "") or getattr(student, "student_userid", ""), relation
    )
