"""The full class table of a living as an .xlsx attachment, one sheet per class.

The columns, cell values and sheet writer are those of the dashboard's class download
(``attendance.sheets``), so the attachment and the page's XLSX never differ; this module only
puts several classes into one workbook, as bytes for an email.
"""

import io
import re

from django.utils import timezone
from openpyxl import Workbook

from school_live.attendance.namesakes import namesake_marks
from school_live.attendance.queries import class_attendance_in_order
from school_live.attendance.sheets import (
    XLSX_TYPE,
    living_export_table,
    sheet_title_clean,
    xlsx_sheet_append,
)
from school_live.reports.emails import Attachment
from school_live.reports.periods import school_date
from school_live.school.models import Department, Living


def class_table_xlsx(*, living: Living, departments: list[Department]) -> bytes:
    """The workbook's bytes. Call inside the reader's ``translation.override``."""
    workbook = Workbook(write_only=True)
    used_titles: set[str] = set()
    with timezone.override(timezone.get_default_timezone()):
        for department in departments:
            # The class page's order and marks (rules.VERDICT_ORDER, attendance/namesakes.py).
            rows = class_attendance_in_order(department=department, living=living)
            headers, body = living_export_table(
                rows, namesakes=namesake_marks(departments=[department])
            )
            xlsx_sheet_append(
                workbook,
                title=_sheet_title(department, used_titles),
                headers=headers,
                rows=body,
            )
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def class_table_attachment(*, living: Living, departments: list[Department]) -> Attachment:
    day = school_date(living.living_start) if living.living_start else None
    stem = f"attendance-{day.isoformat()}" if day else "attendance"
    return Attachment(
        filename=f"{stem}-{_safe_filename(living.livingid)}.xlsx",
        content=class_table_xlsx(living=living, departments=departments),
        mimetype=XLSX_TYPE,
    )


def _sheet_title(department: Department, used: set[str]) -> str:
    # Excel compares titles without case: a name met again gets a number, within 31 characters.
    base = sheet_title_clean(department.name, limit=28) or str(department.wecom_id)
    title, number = base, 2
    while title.lower() in used:
        title = f"{base[:26]}_{number}"
        number += 1
    used.add(title.lower())
    return title


def _safe_filename(value: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "_", value)[:40]
