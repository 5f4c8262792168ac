"""django-tables2 tables for the dashboard pages. Rows come from ``school_live.attendance``."""

import django_tables2 as tables
from django.core.paginator import EmptyPage, Paginator
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from school_live.attendance.sheets import via_visitor, watched_through

from .templatetags.dashboard import (
    flag_badges_html,
    minutes,
    percent,
    student_name,
    verdict_badge,
)

TEMPLATE = "dashboard/tables/table.html"
NUMBER = {"th": {"class": "number"}, "td": {"class": "number"}}
# Bounds for ?page= and ?per_page=, which anyone can edit: a negative page size empties every
# page, and a huge page or page size overflows the database's integers (SQLite's OFFSET and
# LIMIT, PostgreSQL's bigint). No teacher clicks to page ten thousand of one class.
MAX_PER_PAGE = 200
MAX_PAGE = 10_000


def _query_int(request, name: str, default: int, *, high: int) -> int:
    try:
        value = int(request.GET.get(name, default))
    except (TypeError, ValueError):
        return default
    return min(max(value, 1), high)


def table_paginate(request, table, *, per_page: int, paginator_class=Paginator) -> None:
    """django-tables2's ``RequestConfig`` (sorting from ``?sort=``), with the page and the page
    size read from the query string clamped to sane bounds; a page past the end shows the last
    one (the first for a lazy paginator, which does not know where the end is)."""
    tables.RequestConfig(request, paginate=False).configure(table)
    per_page = _query_int(request, table.prefixed_per_page_field, per_page, high=MAX_PER_PAGE)
    page = _query_int(request, table.prefixed_page_field, 1, high=MAX_PAGE)
    try:
        table.paginate(paginator_class=paginator_class, per_page=per_page, page=page)
    except EmptyPage:
        table.page = table.paginator.page(table.paginator.num_pages or 1)


def beijing(value) -> str:
    if not value:
        return "—"
    return timezone.localtime(value).strftime("%m-%d %H:%M")


def yes_no(value) -> str:
    return str(_("yes")) if value else str(_("no"))


class BeijingTimeColumn(tables.Column):
    def render(self, value):
        return beijing(value)


class StudentLinkColumn(tables.Column):
    """The student's name, linking to their page; the userid shows when the name is unknown.
    A name two students of the class share carries its mark (``table.namesakes``, a dict by
    userid from ``attendance.namesakes.namesake_marks``, set by the view)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("attrs", {"td": {"class": "nowrap"}})
        super().__init__(*args, **kwargs)

    def render(self, value, record, table):
        userid = record["student_userid"] if isinstance(record, dict) else record.student_userid
        mark = getattr(table, "namesakes", {}).get(userid, "")
        return format_html(
            '<a href="{}">{}</a>',
            reverse("dashboard:student", args=[userid]),
            student_name({"name": value, "student_userid": userid, "namesake": mark}),
        )


class VerdictCells:
    """How a verdict, its coverage, watch time and flags look in any attendance table."""

    def render_verdict(self, value, record):
        nickname = record.get("via_nickname") if isinstance(record, dict) else record.via_nickname
        if nickname is None:
            return verdict_badge(value)
        return format_html(
            '{} <span class="muted via-visitor">{}</span>',
            verdict_badge(value),
            via_visitor(nickname),
        )

    def render_coverage(self, value):
        return percent(value)

    def render_watch_time(self, value):
        return minutes(value)

    def render_flags(self, record):
        return flag_badges_html(record)


class ClassAttendanceTable(VerdictCells, tables.Table):
    caption = _("Students and their attendance")
    name = StudentLinkColumn(verbose_name=_("Student"))
    verdict = tables.Column(verbose_name=_("Verdict"), order_by=("severity", "name"))
    coverage = tables.Column(verbose_name=_("Watched share"), attrs=NUMBER)
    watch_time = tables.Column(verbose_name=_("Watch time"), attrs=NUMBER)
    first_enter = BeijingTimeColumn(verbose_name=_("First entry (Beijing time)"))
    last_leave = BeijingTimeColumn(verbose_name=_("Last exit (Beijing time)"))
    flags = tables.Column(verbose_name=_("Flags"), empty_values=(), orderable=False)
    accounts = tables.Column(verbose_name=_("Watched through"), empty_values=(), orderable=False)
    has_subscribed_parent = tables.Column(verbose_name=_("Family follows 学校通知"))

    class Meta:
        template_name = TEMPLATE
        attrs = {"id": "students-table"}
        row_attrs = {"data-verdict": lambda record: record.verdict}
        empty_text = _("No student matches these filters.")

    def render_accounts(self, record):
        return watched_through(record) or "—"

    def render_has_subscribed_parent(self, value):
        return yes_no(value)


class RosterTable(tables.Table):
    """The class list for a lesson that has no verdicts yet (not started, or never synced)."""

    caption = _("Students of the class")
    name = StudentLinkColumn(verbose_name=_("Student"))
    student_userid = tables.Column(verbose_name=_("WeCom student userid"))
    has_subscribed_parent = tables.Column(verbose_name=_("Family follows 学校通知"))

    class Meta:
        template_name = TEMPLATE
        attrs = {"id": "roster-table"}
        empty_text = _("No student in this class.")
        # The rows come sorted by name; no column claims that order until a teacher sorts.
        order_by = ()

    def render_has_subscribed_parent(self, value):
        return yes_no(value)


class RangeAttendanceTable(tables.Table):
    """One row per student over the livings of a date range."""

    caption = _("Students over the period")
    name = StudentLinkColumn(verbose_name=_("Student"))
    present = tables.Column(verbose_name=_("Present"), attrs=NUMBER)
    partial = tables.Column(verbose_name=_("Partial"), attrs=NUMBER)
    absent = tables.Column(verbose_name=_("Absent"), attrs=NUMBER)
    unreachable = tables.Column(verbose_name=_("Unreachable"), attrs=NUMBER)
    excused = tables.Column(verbose_name=_("Excused"), attrs=NUMBER)
    late = tables.Column(verbose_name=_("Late"), attrs=NUMBER)
    left_early = tables.Column(verbose_name=_("Left early"), attrs=NUMBER)
    commented = tables.Column(verbose_name=_("Commented"), attrs=NUMBER)
    mean_coverage = tables.Column(verbose_name=_("Mean watched share"), attrs=NUMBER)

    class Meta:
        template_name = TEMPLATE
        attrs = {"id": "students-table"}
        empty_text = _("No student in this class.")

    def render_mean_coverage(self, value):
        return percent(value)


class VisitorTable(tables.Table):
    caption = _("Nicknames and watch times of WeChat visitors")
    nickname = tables.Column(verbose_name=_("WeChat nickname"), attrs={"td": {"class": "nickname"}})
    watch_time = tables.Column(verbose_name=_("Watch time"), attrs=NUMBER)
    enter_time = BeijingTimeColumn(verbose_name=_("First entry (Beijing time)"))
    leave_time = BeijingTimeColumn(verbose_name=_("Last exit (Beijing time)"))
    is_comment = tables.Column(verbose_name=_("Commented"))
    # Annotated when a class is chosen (``nicknames.visitors_with_claims``).
    claimed_for = tables.Column(verbose_name=_("Family of (nickname book)"), default="—")

    class Meta:
        template_name = TEMPLATE
        attrs = {"id": "visitors-table"}
        empty_text = _("No WeChat visitor watched.")
        prefix = "visitors-"

    def render_watch_time(self, value):
        return minutes(value)

    def render_is_comment(self, value):
        return yes_no(value)


class UnknownWatcherTable(tables.Table):
    caption = _("Watch records of accounts not on the rosters")
    student_userid = tables.Column(verbose_name=_("WeCom student userid"))
    student_name = tables.Column(verbose_name=_("Name in the school's records"))
    parent_userid = tables.Column(verbose_name=_("Watched through"), empty_values=())
    watch_time = tables.Column(verbose_name=_("Watch time"), attrs=NUMBER)
    enter_time = BeijingTimeColumn(verbose_name=_("First entry (Beijing time)"))
    is_comment = tables.Column(verbose_name=_("Commented"))

    class Meta:
        template_name = TEMPLATE
        attrs = {"id": "unknown-table"}
        empty_text = _("Every watcher is on the roster.")
        prefix = "unknown-"
        # The rows come sorted by userid; without this, django-tables2 reads that order off the
        # queryset and marks two columns as sorted (▲) although nobody sorted the table.
        order_by = ()

    def render_parent_userid(self, value):
        return value or _("own account")

    def render_watch_time(self, value):
        return minutes(value)

    def render_is_comment(self, value):
        return yes_no(value)


class StudentHistoryTable(VerdictCells, tables.Table):
    """One student's livings, newest first (``queries.student_history`` dicts)."""

    caption = _("Live lessons of this student")
    living = tables.Column(verbose_name=_("Live lesson"), orderable=False)
    start = tables.Column(
        verbose_name=_("Start (Beijing time)"), accessor="living__living_start", orderable=False
    )
    verdict = tables.Column(verbose_name=_("Verdict"), orderable=False)
    coverage = tables.Column(verbose_name=_("Watched share"), attrs=NUMBER, orderable=False)
    watch_time = tables.Column(verbose_name=_("Watch time"), attrs=NUMBER, orderable=False)
    first_enter = BeijingTimeColumn(verbose_name=_("First entry (Beijing time)"), orderable=False)
    flags = tables.Column(verbose_name=_("Flags"), empty_values=(), orderable=False)

    class Meta:
        template_name = TEMPLATE
        attrs = {"id": "history-table"}
        row_attrs = {"data-verdict": lambda record: record["verdict"]}
        empty_text = _("No live lesson of this student's classes yet.")

    def render_living(self, value):
        return format_html(
            '<a href="{}">{}</a>',
            reverse("dashboard:living", args=[value.livingid]),
            value.theme or value.livingid,
        )

    def render_start(self, value):
        return beijing(value)
