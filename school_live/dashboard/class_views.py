"""The class page and its downloads: one lesson or a date range of one class, through
``school_live.attendance.scope`` and ``queries`` like every page (fixed query counts)."""

import dataclasses
import datetime as dt

from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET
from django_tables2.paginators import LazyPaginator

from school_live.attendance import queries, scope, sheets, state
from school_live.attendance.namesakes import namesake_marks
from school_live.attendance.rules import rules_for
from school_live.lessons import pages
from school_live.school.models import Department, Living, Student
from school_live.wecom.living_writes import THEME_MAX_CHARS

from . import charts, exports
from .filters import StudentAttendanceFilter
from .forms import PeriodForm, day_bounds
from .rollcall import rollcall_context
from .tables import (
    ClassAttendanceTable,
    RangeAttendanceTable,
    RosterTable,
    table_paginate,
)

PER_PAGE = 50
# How many livings the class page offers in its picker: the latest that have started (older
# ones: pick a date range) and the next ones ahead.
LIVING_CHOICES = 60
UPCOMING_CHOICES = 10


def paginate(request, table) -> None:
    # A lazy paginator never counts: it reads one row past the page to know there is another.
    table_paginate(request, table, per_page=PER_PAGE, paginator_class=LazyPaginator)


def freshness(living: Living) -> dict:
    return {
        "synced_at": living.stats_synced_at,
        "complete": living.stats_complete,
        "ended": living.has_ended,
    }


def latest_started(livings: list[Living], now: dt.datetime) -> Living | None:
    """The page's default among livings listed newest first: the latest that has started; when
    none has, the next one to start, so the page says when it begins rather than nothing."""
    started = next(
        (
            living
            for living in livings
            if state.living_state(living, now=now) != state.LivingState.UPCOMING
        ),
        None,
    )
    if started is not None:
        return started
    ahead = [living for living in livings if living.living_start is not None]
    if ahead:
        return min(ahead, key=lambda living: (living.living_start, living.pk))
    return livings[0] if livings else None


@dataclasses.dataclass
class Period:
    form: PeriodForm
    living: Living | None = None
    start: dt.date | None = None
    end: dt.date | None = None

    @property
    def is_range(self) -> bool:
        return self.start is not None or self.end is not None


def period_resolve(request, department) -> Period:
    """The living (default: the latest that has started) or the date range the class page and
    its downloads show. A lesson still ahead is listed, marked, and shown only when picked."""
    now = timezone.now()
    recent = queries.class_living_choices(
        department=department, now=now, started=LIVING_CHOICES, ahead=UPCOMING_CHOICES
    )
    form = PeriodForm(request.GET or None, livings=recent)
    valid = form.is_bound and form.is_valid()
    period = Period(form=form)
    if form.has_period_errors:
        return period  # neither a range nor a lesson: the form shows what is wrong
    if valid and (form.cleaned_data.get("start") or form.cleaned_data.get("end")):
        period.start, period.end = form.cleaned_data["start"], form.cleaned_data["end"]
        return period
    livingid = request.GET.get("living", "").strip()
    if livingid:
        scope.livingid_or_404(livingid)
        period.living = next((item for item in recent if item.livingid == livingid), None)
        if period.living is None:
            period.living = Living.objects.filter(classes=department, livingid=livingid).first()
            if period.living is None:
                raise Http404(_("This live lesson is not one of the class's."))
            form.fields["living"].widget.choices.append(
                (period.living.livingid, str(period.living))
            )
    elif recent:
        period.living = latest_started(recent, now)
    if period.living is not None:
        form.initial["living"] = period.living.livingid
    return period


def student_rows(department, living):
    """The class's ``class_attendance`` rows at ``living`` in the tables' order."""
    return queries.class_attendance_in_order(department=department, living=living)


def range_rows(department, start: dt.date | None, end: dt.date | None):
    """One row per roster student over the class's livings in the range, with the verdicts of
    the single-living pages."""
    since, until = day_bounds(start, end)
    return queries.class_period_students(department=department, start=since, end=until)


@require_GET
@login_required
def class_detail(request, class_id):
    department = scope.class_or_404(request.user, class_id)
    return _class_page(request, department, period_resolve(request, department))


def _class_page(request, department, period, *, status: int = 200):
    context = {
        "department": department,
        "period": period,
        "form": period.form,
        # 现在开课 starts a lesson as the signed-in teacher (staff too, when they are one).
        "can_start_here": scope.teacher_for(request.user) is not None,
        "theme_max": THEME_MAX_CHARS,
    }
    # What the page keeps per class is keyed by its attendance's version and rules, read once.
    class_state = queries.ClassState.of(department)
    context["warnings"] = queries.class_warnings_kept(department=department, state=class_state)
    if context["can_start_here"]:
        context.update(pages.jssdk_context(request.user))
    if period.is_range:
        context.update(_range_context(request, department, period))
    elif period.living is not None:
        context.update(_living_context(request, department, period.living, class_state))
    return render(request, "dashboard/class_detail.html", context, status=status)


def _roster_context(request, department, living, status) -> dict:
    """A lesson without verdicts yet: its state and the class list, no numbers, no charts."""
    table = RosterTable(queries.class_roster(department=department))
    table.namesakes = namesake_marks(departments=[department])
    paginate(request, table)
    return {
        "living": living,
        "status": status,
        "table": table,
        "freshness": freshness(living),
    }


def _living_context(request, department, living, class_state) -> dict:
    status = state.living_status(living)
    if status.live:
        return {
            "living": living,
            "status": status,
            "freshness": freshness(living),
            **rollcall_context(living, Department.objects.filter(pk=department.pk), None),
        }
    if not status.counted:
        return _roster_context(request, department, living, status)
    # The class's rows, kept until its attendance changes: the counts, the charts and, unless
    # the teacher filters or sorts (then the database does), the table read the same list; the
    # filter then only shows its form.
    rows = queries.class_rows_kept(department=department, living=living, state=class_state)
    filterset = StudentAttendanceFilter(request.GET or None, queryset=Student.objects.none())
    table = ClassAttendanceTable(rows)
    if any(request.GET.get(name) for name in (*filterset.filters, table.prefixed_order_by_field)):
        filterset = StudentAttendanceFilter(request.GET, queryset=student_rows(department, living))
        table = ClassAttendanceTable(filterset.qs)
    table.namesakes = queries.class_namesakes_kept(department=department, state=class_state)
    paginate(request, table)
    overview = queries.class_overview(department=department, living=living, rows=rows)
    summary = overview["summary"]
    threshold = scope_threshold(table, department)
    coverage = charts.coverage_chart(counts=overview["coverage"], threshold=threshold)
    arrival = charts.arrival_chart(buckets=overview["arrival"])
    watched = summary["watched"]
    return {
        "living": living,
        "summary": summary,
        "threshold": threshold,
        "filter": filterset,
        "table": table,
        "coverage_chart": coverage,
        "arrival_chart": arrival,
        "comment_rate": summary["commented"] / watched if watched else None,
        "status": status,
        "freshness": freshness(living),
        "export_query": _export_query(request),
        "keep": [("living", living.livingid)],
    }


def scope_threshold(table, department) -> int:
    """The class's present threshold: read from a row when the page has one (no extra query)."""
    rows = table.page.object_list if getattr(table, "page", None) else []
    for row in rows:
        return row.record.present_threshold
    return rules_for(department).present_threshold


def _range_context(request, department, period) -> dict:
    since, until = day_bounds(period.start, period.end)
    points = queries.class_period_summary(department=department, start=since, end=until)
    table = RangeAttendanceTable(range_rows(department, period.start, period.end))
    table.namesakes = namesake_marks(departments=[department])
    paginate(request, table)
    trend = charts.trend_chart(
        points=[
            {"living_start": point["living"].living_start, "rate": point["rate"]}
            for point in points
        ]
    )
    return {
        "points": points,
        "range_summary": {"livings": len(points), **queries.summaries_total(points)},
        "table": table,
        "trend_chart": trend,
        "export_query": _export_query(request),
    }


def _export_query(request) -> str:
    params = request.GET.copy()
    for key in ("page", "sort"):
        params.pop(key, None)
    return params.urlencode()


@require_GET
@login_required
def class_export(request, class_id, fmt):
    if fmt not in ("csv", "xlsx"):
        raise Http404(_("Downloads come as CSV or XLSX."))
    department = scope.class_or_404(request.user, class_id)
    period = period_resolve(request, department)
    if period.form.has_period_errors:
        # A download cannot point at a field: the class page does, and nothing is downloaded.
        return _class_page(request, department, period, status=400)
    if period.is_range:
        headers, body = sheets.range_export_table(
            range_rows(department, period.start, period.end),
            namesakes=namesake_marks(departments=[department]),
        )
        stamp = "-".join(
            day.strftime("%Y%m%d") for day in (period.start, period.end) if day is not None
        )
        title = f"{department.name} {stamp}"
    elif period.living is not None:
        if not state.living_status(period.living).counted:
            raise Http404(_("This live lesson has no attendance yet."))
        rows = StudentAttendanceFilter(
            request.GET or None, queryset=student_rows(department, period.living)
        ).qs
        headers, body = sheets.living_export_table(
            rows, namesakes=namesake_marks(departments=[department])
        )
        start = period.living.living_start
        stamp = timezone.localtime(start).strftime("%Y%m%d-%H%M") if start else "living"
        title = f"{department.name} {stamp}"
    else:
        raise Http404(_("This class has no live lesson yet."))
    filename = f"class-{department.wecom_id}-{stamp}"
    if fmt == "xlsx":
        return exports.xlsx_response(headers=headers, rows=body, filename=filename, title=title)
    return exports.csv_response(headers=headers, rows=body, filename=filename)
