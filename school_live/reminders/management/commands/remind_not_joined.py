"""Remind the families of students who have not joined a live lesson, from the command line."""

import sys

from django.core.management.base import BaseCommand
from django.utils.translation import gettext as _

from school_live.attendance.state import LivingState, living_state
from school_live.reminders.services import (
    ReminderRefused,
    families_count,
    joined_text,
    reminder_preview,
    reminder_send,
)
from school_live.school.models import Department, Living
from school_live.school.tenancy import default_school
from school_live.sync.cli import database_prepare, quiet_logs
from school_live.wecom.client import WeComClient
from school_live.wecom.errors import WeComError


class CommandError(Exception):
    """The one line printed on stderr before exiting with status 1."""


class Command(BaseCommand):
    help = (
        "Remind, through 学校通知, the families of students who have not joined a live lesson "
        "(every class of the lesson, or --class). Prints one line per family reminded (or, with "
        "--dry-run, that would be). A lesson that is not live is refused with one line on "
        "stderr and exit status 1; nothing is sent."
    )

    def add_arguments(self, parser):
        parser.add_argument("livingid")
        parser.add_argument("--class", dest="class_id", metavar="ID", help="one class only")
        parser.add_argument("--dry-run", action="store_true", help="print, send nothing")

    def handle(self, *args, livingid, class_id, dry_run, verbosity, **options):
        database_prepare(stderr=self.stderr)
        with quiet_logs(verbosity):
            try:
                self._remind(livingid, class_id, dry_run)
            except CommandError as error:
                self.stderr.write(str(error))
                sys.exit(1)

    def _classes(self, living: Living, class_id: str | None) -> list[Department]:
        classes = living.classes.filter(type=Department.Type.CLASS).order_by("wecom_id")
        if class_id is None:
            return list(classes)
        try:
            return [classes.get(wecom_id=int(class_id))]
        except (ValueError, Department.DoesNotExist):
            raise CommandError(
                _("Class %(id)s is not one of this live lesson's classes; nothing was sent.")
                % {"id": class_id}
            ) from None

    def _remind(self, livingid: str, class_id: str | None, dry_run: bool) -> None:
        living = Living.objects.filter(school=default_school(), livingid=livingid).first()
        if living is None:
            raise CommandError(
                _("No live lesson %(id)s is known here (sync it first); nothing was sent.")
                % {"id": livingid}
            )
        state = living_state(living)
        if state != LivingState.LIVE:
            raise CommandError(
                _(
                    "“%(theme)s” is not live now (%(state)s): reminders go out only during the "
                    "lesson; nothing was sent."
                )
                % {"theme": living.theme or living.livingid, "state": state.label}
            )
        classes = self._classes(living, class_id)
        try:
            client = WeComClient.from_settings()
        except WeComError as error:
            raise CommandError(f"{error} " + _("Nothing was sent.")) from None
        with client:
            for department in classes:
                self._one_class(client, living, department, dry_run)

    def _one_class(self, client, living, department, dry_run) -> None:
        try:
            if dry_run:
                selection = reminder_preview(client=client, living=living, department=department)
                reminder = None
            else:
                outcome = reminder_send(client=client, living=living, department=department)
                selection, reminder = outcome.selection, outcome.reminder
                if outcome.error is not None:
                    raise CommandError(
                        _("%(class)s: %(error)s Nothing was sent to this class.")
                        % {"class": department.name, "error": outcome.error}
                    )
        except ReminderRefused as refused:
            raise CommandError(f"{department.name}: {refused}") from None
        except WeComError as error:
            raise CommandError(f"{department.name}: {error}") from None
        prefix = _("would remind") if dry_run else _("reminded")
        for family in selection.families:
            self.stdout.write(
                f"{prefix}\t{department.name}\t{family.name}\t{family.student_userid}\t"
                + ",".join(family.parent_userids)
            )
        if reminder is not None:
            reached, refused = families_count(reminder)
            self.stderr.write(
                _("%(class)s: reminded %(reached)d families; %(refused)d invalid.")
                % {"class": department.name, "reached": reached, "refused": refused}
            )
        elif not dry_run:
            self.stderr.write(
                _(
                    "%(class)s: nothing was sent (%(recent)d families reminded in the last 10 "
                    "minutes)."
                )
                % {"class": department.name, "recent": selection.recently_reminded}
            )
        if selection.joined_before_sending:
            self.stderr.write(f"{department.name}: {joined_text(selection.joined_before_sending)}")
