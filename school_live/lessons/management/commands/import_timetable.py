"""Schedule a term's lessons in WeCom from a timetable CSV, each row a weekly lesson."""

import sys
from pathlib import Path

from django.core.management.base import BaseCommand
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from school_live.lessons.cli import CommandLineError, client_make, wecom_failure_text
from school_live.lessons.models import LessonSeries
from school_live.lessons.plan_input import plan_text
from school_live.lessons.services import LessonError, lesson_schedule
from school_live.lessons.timetable import (
    COLUMNS,
    TimetableError,
    TimetableRow,
    timetable_read,
    timetable_text,
)
from school_live.school.tenancy import default_school
from school_live.sync.cli import database_prepare, quiet_logs
from school_live.wecom.errors import WeComError


def _lessons(n: int) -> str:
    return ngettext("%(n)d lesson", "%(n)d lessons", n) % {"n": n}


def _rows(n: int) -> str:
    return ngettext("%(n)d row", "%(n)d rows", n) % {"n": n}


class Command(BaseCommand):
    help = (
        "Create the lessons of a timetable in WeCom. FILE is a CSV (UTF-8, with or without "
        "Excel's BOM) with the header row " + ",".join(COLUMNS) + ": weekday 1-7 is "
        "Monday-Sunday, start_time HH:MM (Asia/Shanghai), first_date YYYY-MM-DD (the first "
        "lesson is on the first such weekday on or after it), weeks empty = 1, type big or small "
        "(empty = big). Prints per row what it creates or why it refuses the row. A file with "
        "any refused row creates nothing (exit status 1) unless --skip-bad: then the good rows "
        "are created and the exit status is 0 when at least one row is scheduled. Rows already "
        "scheduled are not created again, so the same file can be run again after a failure "
        "half-way: it creates only what is missing. Exit status 1 on a WeCom error."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", metavar="FILE.csv")
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="check every row and say what would be created; call nothing in WeCom",
        )
        parser.add_argument(
            "--skip-bad",
            action="store_true",
            help="create the good rows even when some rows are refused",
        )

    def handle(self, *args, file, dry_run, skip_bad, verbosity, **options):
        database_prepare(stderr=self.stderr)
        with quiet_logs(verbosity):
            try:
                rows = self._rows(file)
                ok = self._run(rows, dry_run=dry_run, skip_bad=skip_bad)
            except CommandLineError as error:
                self.stderr.write(str(error))
                sys.exit(1)
        if not ok:
            sys.exit(1)

    def _rows(self, file: str) -> list[TimetableRow]:
        path = Path(file)
        try:
            data = path.read_bytes()
        except OSError as error:
            raise CommandLineError(
                _("Cannot read %(file)s (%(error)s): give the path of the timetable CSV.")
                % {"file": file, "error": error.strerror or error}
            ) from None
        try:
            return timetable_read(
                timetable_text(data, name=path.name), name=path.name, school=default_school()
            )
        except TimetableError as error:
            raise CommandLineError(f"{error} " + _("Nothing was created.")) from None

    def _run(self, rows: list[TimetableRow], *, dry_run: bool, skip_bad: bool) -> bool:
        refused = [row for row in rows if not row.good]
        todo = [row for row in rows if row.good and not row.scheduled]
        scheduled = [row for row in rows if row.good and row.scheduled]
        for row in rows:
            if not row.good:
                self.stderr.write(
                    _("row %(n)d: refused — %(why)s") % {"n": row.number, "why": row.problem}
                )
            elif row.scheduled:
                self.stdout.write(
                    _("row %(n)d: already scheduled — %(plan)s")
                    % {"n": row.number, "plan": plan_text(row.plan)}
                )
            elif dry_run:
                self.stdout.write(
                    ngettext(
                        "row %(n)d: would create %(count)d lesson — %(plan)s",
                        "row %(n)d: would create %(count)d lessons — %(plan)s",
                        row.missing(),
                    )
                    % {"n": row.number, "count": row.missing(), "plan": plan_text(row.plan)}
                )
        if refused and not skip_bad:
            self.stderr.write(
                ngettext(
                    "%(n)d row refused: nothing was created. Fix it and run the command again, "
                    "or add --skip-bad to create the good rows only.",
                    "%(n)d rows refused: nothing was created. Fix them and run the command "
                    "again, or add --skip-bad to create the good rows only.",
                    len(refused),
                )
                % {"n": len(refused)}
            )
            return False
        if dry_run:
            head = _("Dry run: %(lessons)s would be created from %(rows)s; nothing was created")
            lessons = sum(row.missing() for row in todo)
        else:
            head = _("Created %(lessons)s from %(rows)s")
            lessons = self._create(todo) if todo else 0
        parts = [head % {"lessons": _lessons(lessons), "rows": _rows(len(todo))}]
        if scheduled:
            parts.append(_("%(rows)s already scheduled") % {"rows": _rows(len(scheduled))})
        if refused:
            parts.append(
                _("%(rows)s refused and skipped (--skip-bad)") % {"rows": _rows(len(refused))}
            )
        # The last line: on stdout when at least one row is scheduled, else on stderr.
        ok = bool(todo or scheduled)
        (self.stdout if ok else self.stderr).write("; ".join(parts) + ".")
        return ok

    def _create(self, rows: list[TimetableRow]) -> int:
        """Create the rows in file order; stop at the first failure (WeCom will most likely
        fail the next row too), after saying what the row left behind."""
        created = 0
        with client_make() as client:
            for row in rows:
                before = row.plan.weeks - row.missing()
                try:
                    lesson_schedule(
                        client=client, plan=row.plan, source=LessonSeries.Source.TIMETABLE
                    )
                except LessonError as error:
                    why = str(error)
                except WeComError as error:
                    why = wecom_failure_text(row.plan, error)
                else:
                    why = ""
                count = row.plan.weeks - row.missing() - before
                created += count
                if why:
                    self.stderr.write(
                        _("row %(n)d: failed — %(why)s") % {"n": row.number, "why": why}
                    )
                    raise CommandLineError(
                        _(
                            "Stopped at row %(n)d after creating %(lessons)s: run the same "
                            "command again to create the rest; nothing is created twice."
                        )
                        % {"n": row.number, "lessons": _lessons(created)}
                    )
                self.stdout.write(
                    ngettext(
                        "row %(n)d: created %(count)d lesson — %(plan)s",
                        "row %(n)d: created %(count)d lessons — %(plan)s",
                        count,
                    )
                    % {"n": row.number, "count": count, "plan": plan_text(row.plan)}
                )
        return created
