"""Attendance as spreadsheet rows: the columns of the class and range downloads, and the one
writer of an XLSX sheet. The dashboard's downloads and the reports' attachment both read here,
so a page's XLSX and an email's attachment never differ (and neither app imports the other).

Spreadsheet programs run a cell that starts with = + - @ (or a tab or carriage return) as a formula,
and names and nicknames come from WeCom, where anyone can type one: such cells get a leading quote.
Times are Beijing wall-clock times, labelled as such in the headers.
"""

import datetime as dt
import re
from collections.abc import Iterable, Sequence

from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font

from .namesakes import student_label
from .percents import percent_number
from .rules import Verdict, flag_names

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# Excel forbids these characters in sheet titles and allows at most 31 characters.
SHEET_TITLE_FORBIDDEN = re.compile(r"[\[\]:*?/\\]")
SHEET_TITLE_MAX = 31


def cell_neutralise(value):
    """A text cell that a spreadsheet would read as a formula, made plain text."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def beijing_naive(value: dt.datetime | None) -> dt.datetime | None:
    """Spreadsheets have no time zones: the Beijing wall-clock time, labelled in the header."""
    if value is None:
        return None
    return timezone.localtime(value).replace(tzinfo=None)


def _yes_no(value) -> str:
    return _("yes") if value else _("no")


def via_visitor(nickname: str) -> str:
    """How a student who attended through a claimed WeChat visitor is labelled everywhere: on
    the pages, in the downloads and in the reports (plain text; templates escape it)."""
    # Translators: the student attended through a WeChat visitor whose nickname the nickname
    # book says is their family's; keep "WeChat 访客" recognisable, e.g. 通过微信访客 %(nickname)s
    return _("via WeChat 访客 %(nickname)s") % {"nickname": nickname}


def watched_through(row) -> str:
    """The accounts a student watched through: their own, a parent's, or a claimed visitor."""
    if getattr(row, "via_visitor", False):
        return via_visitor(row.via_nickname)
    if not row.watched:
        return ""
    parts = []
    if row.own_account:
        parts.append(_("own account"))
    family = row.account_count - (1 if row.own_account else 0)
    if family:
        parts.append(
            ngettext("%(count)d parent account", "%(count)d parent accounts", family)
            % {"count": family}
        )
    return "、".join(parts)


def living_export_table(
    rows: Iterable, *, namesakes: dict[str, str] | None = None
) -> tuple[list[str], list[list]]:
    """Headers and rows for one living's class attendance (``class_attendance`` rows);
    ``namesakes``: the marks of shared names (``namesakes.namesake_marks``) by userid."""
    namesakes = namesakes or {}
    verdicts = dict(Verdict.choices)
    headers = [
        _("Student"),
        _("WeCom student userid"),
        _("Verdict"),
        _("Watched share (%)"),
        _("Watch time (minutes)"),
        _("First entry (Beijing time)"),
        _("Last exit (Beijing time)"),
        _("Flags"),
        _("Commented"),
        _("Family follows 学校通知"),
        _("Watched through"),
    ]
    body = []
    for row in rows:
        coverage = getattr(row, "coverage", None)
        body.append(
            [
                student_label(row.name, namesakes.get(row.student_userid, "")),
                row.student_userid,
                str(verdicts.get(row.verdict, row.verdict)),
                percent_number(coverage),
                round((row.watch_time or 0) / 60, 1),
                beijing_naive(row.first_enter),
                beijing_naive(row.last_leave),
                "、".join(str(name) for name in flag_names(row)),
                _yes_no(row.commented),
                _yes_no(row.has_subscribed_parent),
                watched_through(row),
            ]
        )
    return headers, body


def range_export_table(
    rows: Iterable, *, namesakes: dict[str, str] | None = None
) -> tuple[list[str], list[list]]:
    """Headers and rows for a date range's per-student aggregate (``namesakes``: as above)."""
    namesakes = namesakes or {}
    headers = [
        _("Student"),
        _("WeCom student userid"),
        _("Live lessons"),
        _("Present"),
        _("Partial"),
        _("Absent"),
        _("Unreachable"),
        _("Excused"),
        _("Late"),
        _("Left early"),
        _("Commented"),
        _("Mean watched share (%)"),
    ]
    body = []
    for row in rows:
        mean = row["mean_coverage"]
        body.append(
            [
                student_label(row["name"], namesakes.get(row["student_userid"], "")),
                row["student_userid"],
                row["livings"],
                row["present"],
                row["partial"],
                row["absent"],
                row["unreachable"],
                row["excused"],
                row["late"],
                row["left_early"],
                row["commented"],
                percent_number(mean),
            ]
        )
    return headers, body


def sheet_title_clean(title: str, *, limit: int = SHEET_TITLE_MAX) -> str:
    """``title`` without the characters Excel forbids in a sheet title, cut to ``limit``; may be
    empty, for the caller to replace."""
    return SHEET_TITLE_FORBIDDEN.sub(" ", title).strip()[:limit]


def xlsx_sheet_append(
    workbook: Workbook, *, title: str, headers: Sequence[str], rows: Iterable[Sequence]
) -> None:
    """One sheet of a write-only workbook: bold headers, then the rows, every text cell cleaned
    of control characters and neutralised. The download and the report attachment share it."""
    sheet = workbook.create_sheet(title=title)
    bold = Font(bold=True)
    header_cells = []
    for header in headers:
        cell = WriteOnlyCell(sheet, value=cell_neutralise(str(header)))
        cell.font = bold
        header_cells.append(cell)
    sheet.append(header_cells)
    for row in rows:
        cells = []
        for value in row:
            if isinstance(value, str):
                # XLSX cannot hold control characters; WeCom text may carry them.
                value = ILLEGAL_CHARACTERS_RE.sub("", value)
            cell = WriteOnlyCell(sheet, value=cell_neutralise(value))
            if isinstance(value, dt.datetime):
                cell.number_format = "yyyy-mm-dd hh:mm:ss"
            cells.append(cell)
        sheet.append(cells)
