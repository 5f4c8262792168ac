"""Report periods on the school's clock.

A lesson belongs to the Shanghai day (and ISO week) it starts in: a lesson ending at 23:30 in
Shanghai is 15:30 UTC the same day, and one at 00:30 on Monday is still Sunday in UTC, so days and
weeks are always cut in Asia/Shanghai, never in UTC.
"""

import datetime as dt

from django.utils import timezone


def school_date(moment: dt.datetime) -> dt.date:
    """The calendar day of an aware moment in the school's time zone."""
    return moment.astimezone(timezone.get_default_timezone()).date()


def week_period(day: dt.date) -> str:
    """The ISO week holding ``day``, as ``2026-W07``: the period key of the weekly digests."""
    year, week, _weekday = day.isocalendar()
    return f"{year}-W{week:02d}"


def week_monday(period: str) -> dt.date:
    """The Monday that starts an ISO week period; ValueError for anything else."""
    try:
        year, week = period.split("-W")
        return dt.date.fromisocalendar(int(year), int(week), 1)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{period!r} is not an ISO week such as 2026-W07") from exc


def week_bounds(period: str) -> tuple[dt.datetime, dt.datetime]:
    """Monday 00:00 to the next Monday 00:00 in Shanghai, as aware datetimes (start inclusive)."""
    monday = week_monday(period)
    start = dt.datetime.combine(monday, dt.time.min, tzinfo=timezone.get_default_timezone())
    return start, start + dt.timedelta(days=7)


def previous_week_period(now: dt.datetime) -> str:
    """The last complete week before ``now``: what Monday's digest reports on."""
    return week_period(school_date(now) - dt.timedelta(days=7))
