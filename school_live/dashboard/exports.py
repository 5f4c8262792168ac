"""Class attendance as CSV and XLSX, with Chinese headers and times labelled as Beijing time.

Spreadsheet programs run a cell that starts with = + - @ (or a tab or carriage return) as a formula,
and names and nicknames come from WeCom, where anyone can type one: such cells get a leading quote.
"""

import csv
import datetime as dt
import io
from collections.abc import Iterable, Sequence

from django.http import HttpResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font

from school_live.attendance.rules import Verdict

from .templatetags.dashboard import flag_names

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


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


def living_export_table(rows: Iterable) -> tuple[list[str], list[list]]:
    """Headers and rows for one living's class attendance (``class_attendance`` rows)."""
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
    ]
    body = []
    for row in rows:
        coverage = getattr(row, "coverage", None)
        body.append(
            [
                row.name,
                row.student_userid,
                str(verdicts.get(row.verdict, row.verdict)),
                round(coverage * 100, 1) if coverage is not None else None,
                round((row.watch_time or 0) / 60, 1),
                beijing_naive(row.first_enter),
                beijing_naive(row.last_leave),
                "、".join(str(name) for name in flag_names(row)),
                _yes_no(row.commented),
                _yes_no(row.has_subscribed_parent),
            ]
        )
    return headers, body


def range_export_table(rows: Iterable) -> tuple[list[str], list[list]]:
    """Headers and rows for a date range's per-student aggregate."""
    headers = [
        _("Student"),
        _("WeCom student userid"),
        _("Live lessons"),
        _("Present"),
        _("Partial"),
        _("Absent"),
        _("Unreachable"),
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
                row["name"],
                row["student_userid"],
                row["livings"],
                row["present"],
                row["partial"],
                row["absent"],
                row["unreachable"],
                row["late"],
                row["left_early"],
                row["commented"],
                round(mean * 100, 1) if mean is not None else None,
            ]
        )
    return headers, body


def _csv_value(value):
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if value is None:
        return ""
    return cell_neutralise(value)


def csv_response(
    *, headers: Sequence[str], rows: Iterable[Sequence], filename: str
) -> HttpResponse:
    """UTF-8 with a byte-order mark, so that Excel opens Chinese text correctly."""
    buffer = io.StringIO()
    buffer.write("\ufeff")
    writer = csv.writer(buffer)
    writer.writerow([cell_neutralise(str(header)) for header in headers])
    for row in rows:
        writer.writerow([_csv_value(value) for value in row])
    response = HttpResponse(
        buffer.getvalue().encode("utf-8"), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="{filename}.csv"'
    return response


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


def xlsx_response(
    *, headers: Sequence[str], rows: Iterable[Sequence], filename: str, title: str
) -> HttpResponse:
    workbook = Workbook(write_only=True)
    xlsx_sheet_append(workbook, title=_sheet_title(title), headers=headers, rows=rows)
    buffer = io.BytesIO()
    workbook.save(buffer)
    response = HttpResponse(buffer.getvalue(), content_type=XLSX_TYPE)
    response["Content-Disposition"] = f'attachment; filename="{filename}.xlsx"'
    return response


def _sheet_title(title: str) -> str:
    # Excel forbids these characters in sheet names and allows at most 31 characters.
    for char in "[]:*?/\\":
        title = title.replace(char, " ")
    return title.strip()[:31] or "Sheet"
