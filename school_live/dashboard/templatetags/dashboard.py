"""Small display helpers for the dashboard templates: percentages, durations, verdict badges."""

from django import template
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext as _

from school_live.attendance.namesakes import mark_brackets, record_label
from school_live.attendance.percents import percent_text
from school_live.attendance.rules import Verdict, flag_names

register = template.Library()

VERDICT_LABELS = dict(Verdict.choices)


@register.filter
def percent(value):
    """0.834 → "83%", halves up (``attendance/percents.py``); None → "—" (no number to show)."""
    return percent_text(value)


@register.filter
def student_name(record):
    """A student's name; with the mark that tells them apart from a classmate of the same name
    (``attendance/namesakes.py``) when the row carries one."""
    name, mark = record_label(record)
    if not mark:
        return name
    return format_html('{}<small class="namesake">{}</small>', name, mark_brackets(mark))


@register.filter
def minutes(seconds):
    """Watched seconds as whole minutes, the unit teachers think in."""
    if seconds is None:
        return "—"
    return _("%(minutes)d min") % {"minutes": round(int(seconds) / 60)}


@register.simple_tag
def verdict_badge(verdict):
    if not verdict:
        return "—"
    return format_html(
        '<span class="badge badge--{}">{}</span>', verdict, VERDICT_LABELS.get(verdict, verdict)
    )


@register.simple_tag
def flag_badges(record):
    """The flags a row carries, as badges (late, left early, replay only, commented)."""
    return flag_badges_html(record)


def flag_badges_html(record) -> str:
    names = flag_names(record)
    if not names:
        return "—"
    return format_html_join(
        " ", '<span class="badge badge--flag">{}</span>', ((name,) for name in names)
    )
