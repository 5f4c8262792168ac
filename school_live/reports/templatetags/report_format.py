"""Number formats for report emails: a share as a percent, seconds as minutes."""

from django import template

register = template.Library()


@register.filter
def percent(value) -> str:
    """0.853 → "85%"; None (no roster, no data) → "—"."""
    if value is None or value == "":
        return "—"
    return f"{round(float(value) * 100)}%"


@register.filter
def whole_minutes(seconds) -> int:
    return round((seconds or 0) / 60)
