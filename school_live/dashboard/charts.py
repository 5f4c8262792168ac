"""Chart data for the pages: plain lists and labels that ``static/js/charts.js`` draws.

The numbers come from ``school_live.attendance``; this module only names buckets and says which
side of the present threshold each coverage bucket lies, so that the bars and the text alternative
say the same thing.
"""

from django.utils import timezone
from django.utils.translation import gettext as _

from school_live.attendance.percents import percent_number


def coverage_chart(*, counts: list[int], threshold: int) -> dict:
    """Ten buckets of watched share, 0–10% … 90–100%, each marked below or above the threshold."""
    buckets = []
    for index, count in enumerate(counts):
        low, high = index * 10, (index + 1) * 10
        buckets.append(
            {
                "label": f"{low}–{high}%",
                "count": count,
                # A bucket counts as "reaching the threshold" when its lower edge does.
                "reaches": low >= threshold,
            }
        )
    return {
        "kind": "coverage",
        "labels": [bucket["label"] for bucket in buckets],
        "values": counts,
        "reaches": [bucket["reaches"] for bucket in buckets],
        "threshold": threshold,
        "axis_x": _("Watched share of the live lesson"),
        "axis_y": _("Students"),
        "below_label": _("Below the %(threshold)d%% present threshold") % {"threshold": threshold},
        "above_label": _("At or above the %(threshold)d%% present threshold")
        % {"threshold": threshold},
        "buckets": buckets,
    }


def arrival_chart(*, buckets: list[tuple[str, int]]) -> dict:
    """Arrival minutes relative to the start, as the attendance queries bucket them."""
    names = {
        "replay": _("replay only"),
    }
    labels = [names.get(label, label) for label, _count in buckets]
    return {
        "kind": "arrival",
        "labels": [str(label) for label in labels],
        "values": [count for _label, count in buckets],
        "axis_x": _("Minutes after the start"),
        "axis_y": _("Students"),
        "series_label": _("Students"),
        "buckets": [
            {"label": str(label), "count": count}
            for label, (_l, count) in zip(labels, buckets, strict=True)
        ],
    }


def _percent_line(*, points: list[dict], key: str, axis_y: str) -> dict:
    """A line chart of a 0–1 share per living (``points[i][key]``), oldest first, in percent."""
    labels, values = [], []
    for point in points:
        start = point["living_start"]
        labels.append(timezone.localtime(start).strftime("%m-%d") if start else "—")
        share = point[key]
        values.append(percent_number(share))
    return {
        "kind": "line",
        "labels": labels,
        "values": values,
        "axis_x": _("Live lesson date"),
        "axis_y": axis_y,
        "series_label": axis_y,
        "max": 100,
        "points": [
            {"label": label, "value": value} for label, value in zip(labels, values, strict=True)
        ],
    }


def trend_chart(*, points: list[dict]) -> dict:
    """Class attendance rate per living over a date range, oldest first."""
    return _percent_line(points=points, key="rate", axis_y=_("Attendance rate (%)"))


def history_chart(*, points: list[dict]) -> dict:
    """One student's watched share per living, oldest first."""
    return _percent_line(points=points, key="coverage", axis_y=_("Watched share (%)"))
