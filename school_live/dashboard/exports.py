"""Class attendance as CSV and XLSX downloads. What the columns hold, and how a sheet is written,
is ``attendance/sheets.py`` (the reports' attachment uses the same); this module makes the
HTTP responses."""

import csv
import datetime as dt
import io
from collections.abc import Iterable, Sequence

from django.http import HttpResponse
from openpyxl import Workbook

from school_live.attendance.sheets import (
    XLSX_TYPE,
    cell_neutralise,
    sheet_title_clean,
    xlsx_sheet_append,
)


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


def xlsx_response(
    *, headers: Sequence[str], rows: Iterable[Sequence], filename: str, title: str
) -> HttpResponse:
    workbook = Workbook(write_only=True)
    xlsx_sheet_append(
        workbook, title=sheet_title_clean(title) or "Sheet", headers=headers, rows=rows
    )
    buffer = io.BytesIO()
    workbook.save(buffer)
    response = HttpResponse(buffer.getvalue(), content_type=XLSX_TYPE)
    response["Content-Disposition"] = f'attachment; filename="{filename}.xlsx"'
    return response
