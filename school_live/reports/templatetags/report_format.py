"""Number formats for report emails: a share as a percent, seconds as minutes."""

from django import template

from school_live.attendance import namesakes
from school_live.attendance.percents import percent_text

register = template.Library()


@register.filter
def percent(value) -> str:
    """0.853 → "85%", halves up as on the pages (``attendance/percents.py``); None (no roster,
    no data) → "—"."""
    return percent_text(value)


@register.filter
def student_label(record) -> str:
    """A student's name as text, with the mark of a shared name (``attendance/namesakes.py``)."""
    return namesakes.student_label(*namesakes.record_label(record))


@register.filter
def whole_minutes(seconds) -> int:
    return round((seconds or 0) / 60)
