"""A leave list as a CSV file (``import_leave``): ``student_userid,start,end,reason`` per row,
dates inclusive (YYYY-MM-DD, Beijing), reason 病假, 事假 or free text. The whole file is checked
before anything is saved; every bad row is reported on one line (row, column, what to fix)."""

import csv
import datetime as dt
import io

from django.utils.translation import gettext as _

from school_live.school.models import Student

from .models import Excuse
from .services import ExcuseRequest

COLUMNS = ("student_userid", "start", "end", "reason")
REASON_KINDS = {
    "病假": Excuse.Kind.SICK,
    "sick": Excuse.Kind.SICK,
    "事假": Excuse.Kind.PERSONAL,
    "personal": Excuse.Kind.PERSONAL,
}
REASON_MAX = Excuse._meta.get_field("reason").max_length


class LeaveFileRefused(ValueError):
    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems


def leave_file_read(data: bytes, *, school) -> list[ExcuseRequest]:
    """The requests of a leave file (students of ``school``), or ``LeaveFileRefused`` listing
    every problem."""
    try:
        # utf-8-sig: Excel's "CSV UTF-8" starts with a byte order mark, other tools do not.
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise LeaveFileRefused([_("The file is not UTF-8 text: save it as “CSV UTF-8”.")]) from None
    reader = csv.reader(io.StringIO(text, newline=""))
    header = [name.strip() for name in next(reader, [])]
    if tuple(header) != COLUMNS:
        raise LeaveFileRefused(
            [
                _("Row 1: the columns must be %(columns)s, in this order.")
                % {"columns": ",".join(COLUMNS)}
            ]
        )
    rows = [(number, cells) for number, cells in enumerate(reader, start=2) if any(cells)]
    userids = {cells[0].strip() for _number, cells in rows if cells}
    students = {
        student.student_userid: student
        for student in Student.objects.filter(school=school, student_userid__in=userids)
    }
    requests, problems = [], []
    for number, cells in rows:
        request, found = _row_read(number, cells, students)
        problems += found
        if request is not None:
            requests.append(request)
    if problems:
        raise LeaveFileRefused(problems)
    return requests


def _row_read(number: int, cells: list[str], students: dict) -> tuple[ExcuseRequest | None, list]:
    def problem(column: str, text: str) -> str:
        return _("Row %(row)d, column %(column)s: %(text)s") % {
            "row": number,
            "column": column,
            "text": text,
        }

    if len(cells) != len(COLUMNS):
        return None, [
            problem(
                "-",
                _("it has %(count)d cells; give exactly %(columns)s.")
                % {"count": len(cells), "columns": ",".join(COLUMNS)},
            )
        ]
    userid, start_text, end_text, reason = (cell.strip() for cell in cells)
    problems = []
    student = students.get(userid)
    if student is None:
        problems.append(
            problem(
                "student_userid",
                _("no student has the userid “%(userid)s”; copy it from the student's page.")
                % {"userid": userid},
            )
        )
    start, end = _date(start_text), _date(end_text)
    for column, text, value in (("start", start_text, start), ("end", end_text, end)):
        if value is None:
            problems.append(
                problem(
                    column,
                    _("“%(text)s” is not a date; write it as YYYY-MM-DD.") % {"text": text},
                )
            )
    if start and end and start > end:
        problems.append(problem("end", _("the last day is before the first; swap them.")))
    if not reason:
        problems.append(problem("reason", _("empty; write 病假, 事假 or the reason.")))
    elif len(reason) > REASON_MAX:
        problems.append(
            problem(
                "reason",
                _("longer than %(count)d characters; shorten it.") % {"count": REASON_MAX},
            )
        )
    if problems:
        return None, problems
    kind = REASON_KINDS.get(reason.lower(), Excuse.Kind.OTHER)
    return ExcuseRequest(
        student=student,
        kind=kind,
        reason="" if kind != Excuse.Kind.OTHER else reason,
        start=start,
        end=end,
    ), []


def _date(text: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        return None
