"""The reminders' parts of the lesson and class pages, so those pages' views stay untouched.

``{% reminder_button %}`` reads ``living``, ``status`` and the class (``department`` on the class
page, ``selected.department`` on the lesson's page) from the page: the page already checked
that the user may read that class of the lesson, which is who may remind it. It runs no query.
``{% living_reminders %}`` lists the reminders of the lesson in the user's classes and who joined
after each one (one query).
"""

from django import template

from school_live.attendance import scope
from school_live.attendance.namesakes import namesake_marks
from school_live.attendance.state import LivingState
from school_live.school.templatetags.people import reminded_parents_attach

from ..queries import reminder_effect, reminder_rows

register = template.Library()


def _department(context):
    department = context.get("department")
    if department is None:
        selected = context.get("selected") or {}
        department = selected.get("department") if isinstance(selected, dict) else None
    return department


@register.inclusion_tag("reminders/includes/button.html", takes_context=True)
def reminder_button(context):
    living, status = context.get("living"), context.get("status")
    department = _department(context)
    live = status is not None and getattr(status, "state", None) == LivingState.LIVE
    return {"living": living, "department": department, "show": bool(live and department)}


@register.inclusion_tag("reminders/includes/effect.html", takes_context=True)
def living_reminders(context):
    living, request = context.get("living"), context.get("request")
    if living is None or request is None:
        return {"reminders": []}
    rows = reminder_rows(living=living, departments=scope.living_classes(request.user, living))
    reminded_parents_attach(rows)
    reminded_namesakes_attach(rows)
    return {"reminders": reminder_effect(rows), "living": living}


def reminded_namesakes_attach(rows) -> None:
    """Give each reminded-student row its ``namesake`` mark (``attendance/namesakes.py``): two
    students of a class with the same name are told apart here too. One query."""
    rows = list(rows)
    marks = namesake_marks(departments={row.reminder.department_id for row in rows})
    for row in rows:
        row.namesake = marks.get(row.student_userid, "")


@register.filter
def minutes_after(delay) -> str:
    """A timedelta as whole minutes and seconds, e.g. "3:07"."""
    if delay is None:
        return ""
    seconds = max(0, round(delay.total_seconds()))
    return f"{seconds // 60}:{seconds % 60:02d}"
