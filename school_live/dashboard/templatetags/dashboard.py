"""Small display helpers for the dashboard templates: percentages, durations, verdict badges."""

from django import template
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext as _

from school_live.attendance.rules import Verdict, flag_names

register = template.Library()

VERDICT_LABELS = dict(Verdict.choices)


@register.filter
def percent(value, digits=0):
    """0.834 → "83%"; None → "—" (no number to show)."""
    if value is None:
        return "—"
    return f"{float(value) * 100:.{int(digits)}f}%"


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
