"""A timetable CSV read into lesson plans, each row checked as ``schedule_living`` would check it,
and against the file's other rows.

Columns (a header row, in any order; other columns are ignored):
``class_id,teacher_userid,weekday,start_time,minutes,theme,first_date,weeks,type``. weekday 1–7 is
Monday–Sunday, start_time HH:MM in Asia/Shanghai, first_date YYYY-MM-DD: the first lesson is on the
first such weekday on or after it; weeks empty is 1; type ``big`` or ``small``, empty is big.
UTF-8 with or without the BOM Excel writes. Rows are numbered as a spreadsheet shows them: the
header is row 1.
"""

import csv
import dataclasses
import datetime as dt
import io

from django.utils import timezone
from django.utils.translation import gettext as _

from school_live.lessons import plan_input
from school_live.lessons.models import LessonOccurrence
from school_live.lessons.services import (
    MAX_MINUTES,
    MAX_WEEKS,
    LessonPlan,
    lesson_plan_check,
    plan_livings,
    plan_occurrences,
)

COLUMNS = (
    "class_id",
    "teacher_userid",
    "weekday",
    "start_time",
    "minutes",
    "theme",
    "first_date",
    "weeks",
    "type",
)


class TimetableError(ValueError):
    """The file as a whole cannot be read; the message says how to fix it."""


@dataclasses.dataclass
class TimetableRow:
    number: int
    plan: LessonPlan | None = None
    problem: str = ""
    scheduled: bool = False  # WeCom has every lesson of the row already

    @property
    def good(self) -> bool:
        return self.plan is not None and not self.problem

    def missing(self) -> int:
        """How many of the row's lessons WeCom does not have yet."""
        created = plan_occurrences(self.plan).filter(state=LessonOccurrence.State.CREATED)
        return self.plan.weeks - created.count()


def timetable_text(data: bytes, *, name: str) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise TimetableError(
            _(
                "%(name)s is not UTF-8 text: in Excel save it as “CSV UTF-8 (逗号分隔)” "
                "(WPS: CSV, UTF-8) and run the command again."
            )
            % {"name": name}
        ) from None


def timetable_read(text: str, *, name: str, school) -> list[TimetableRow]:
    """Every data row, read and checked (teachers and classes of ``school``); a row's
    ``problem`` says why it cannot be scheduled."""
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if header is None:
        raise TimetableError(_("%(name)s is empty: it needs a header row.") % {"name": name})
    header = [cell.strip().lower() for cell in header]
    absent = [column for column in COLUMNS if column not in header]
    if absent:
        raise TimetableError(
            _("%(name)s has no column %(absent)s: its first row must name the columns %(columns)s.")
            % {"name": name, "absent": ", ".join(absent), "columns": ",".join(COLUMNS)}
        )
    rows = []
    for number, cells in enumerate(reader, start=2):
        if not any(cell.strip() for cell in cells):
            continue  # the blank lines a spreadsheet leaves at the end
        values = dict(zip(header, cells, strict=False))
        row = TimetableRow(number=number)
        try:
            row.plan = _plan({column: values.get(column) or "" for column in COLUMNS}, school)
        except plan_input.InputError as error:
            row.problem = str(error)
        rows.append(row)
    if not rows:
        raise TimetableError(
            _("%(name)s has no lessons: add one row per weekly lesson under its header.")
            % {"name": name}
        )
    _check(rows)
    return rows


def _plan(cells: dict[str, str], school) -> LessonPlan:
    teacher = plan_input.teacher_read(cells["teacher_userid"], school=school)
    classes = plan_input.classes_read(teacher, [cells["class_id"]], field=_column("class_id"))
    weekday = plan_input.number_read(cells["weekday"], field=_column("weekday"), low=1, high=7)
    start_time = plan_input.time_read(cells["start_time"], field=_column("start_time"))
    first_date = plan_input.date_read(cells["first_date"], field=_column("first_date"))
    day = plan_input.first_on_weekday(first_date, weekday)
    return LessonPlan(
        teacher=teacher,
        classes=tuple(classes),
        start=dt.datetime.combine(day, start_time, tzinfo=timezone.get_default_timezone()),
        minutes=plan_input.number_read(
            cells["minutes"], field=_column("minutes"), low=1, high=MAX_MINUTES
        ),
        theme=cells["theme"],
        living_type=plan_input.type_read(cells["type"], field=_column("type")),
        weeks=plan_input.number_read(
            cells["weeks"] or "1", field=_column("weeks"), low=1, high=MAX_WEEKS
        ),
    )


def _column(name: str) -> str:
    return _("column %(name)s") % {"name": name}


def _check(rows: list[TimetableRow]) -> None:
    """Against the database (as ``lesson_plan_check``) and against the rows above it."""
    accepted: list[TimetableRow] = []
    for row in rows:
        if row.plan is None:
            continue
        row.scheduled = plan_livings(row.plan) is not None
        if not row.scheduled:
            row.problem = " ".join(lesson_plan_check(row.plan))
        if not row.problem:
            row.problem = _overlap_above(row, accepted)
        if not row.problem:
            accepted.append(row)


def _overlap_above(row: TimetableRow, above: list[TimetableRow]) -> str:
    plan = row.plan
    for other in above:
        if other.plan.teacher != plan.teacher:
            continue
        for start in plan.starts():
            end = start + dt.timedelta(minutes=plan.minutes)
            for other_start in other.plan.starts():
                other_end = other_start + dt.timedelta(minutes=other.plan.minutes)
                if start < other_end and other_start < end:
                    return _(
                        "%(when)s overlaps row %(row)d, “%(theme)s”, of the same teacher "
                        "(%(userid)s): change the time or remove one of the rows."
                    ) % {
                        "when": start.strftime("%Y-%m-%d %H:%M"),
                        "row": other.number,
                        "theme": other.plan.theme.strip(),
                        "userid": plan.teacher.userid,
                    }
    return ""
