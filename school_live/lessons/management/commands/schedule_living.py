"""Schedule one lesson, or the same lesson weekly, in WeCom (living/create) from the command line."""

import sys

from django.core.management.base import BaseCommand
from django.utils.translation import gettext as _

from school_live.lessons import plan_input
from school_live.lessons.cli import CommandLineError, client_make, wecom_failure_text
from school_live.lessons.models import LessonSeries
from school_live.lessons.services import (
    MAX_MINUTES,
    MAX_REMIND_MINUTES,
    MAX_WEEKS,
    LessonError,
    LessonPlan,
    lesson_plan_check,
    lesson_schedule,
    plan_livings,
)
from school_live.school.tenancy import default_school
from school_live.sync.cli import database_prepare, quiet_logs
from school_live.wecom.errors import WeComError

REFUSED = "%(problem)s Nothing was created; fix it and run the command again."


class Command(BaseCommand):
    help = (
        "Create a lesson in WeCom with the teacher as anchor and store it, reserved, with the "
        "classes given; print its livingid (one line per week with --weeks). The start is "
        "Asia/Shanghai time. Bad input or a WeCom error prints one line on stderr and exits "
        "with status 1; nothing is created. Running the same command again prints the same "
        "livingids and creates nothing; after a failure half-way it creates only the rest."
    )

    def add_arguments(self, parser):
        parser.add_argument("--teacher", required=True, metavar="USERID", help="WeCom userid")
        parser.add_argument(
            "--class",
            dest="classes",
            action="append",
            required=True,
            metavar="ID",
            help="WeCom department id of a class the teacher teaches; repeat for several",
        )
        parser.add_argument("--start", required=True, metavar='"YYYY-MM-DD HH:MM"')
        parser.add_argument("--minutes", required=True, metavar="N", help="duration")
        parser.add_argument("--theme", required=True, help="at most 20 characters")
        parser.add_argument("--type", default="big", metavar="big|small", help="大班课 or 小班课")
        parser.add_argument(
            "--remind", default="0", metavar="MINUTES", help="remind this long before"
        )
        parser.add_argument("--weeks", default="1", metavar="N", help="repeat weekly")

    def handle(self, *args, verbosity, **options):
        database_prepare(stderr=self.stderr)
        with quiet_logs(verbosity):
            try:
                livings, already = self._schedule(options)
            except CommandLineError as error:
                self.stderr.write(str(error))
                sys.exit(1)
        for living in livings:
            self.stdout.write(living.livingid)
        if already and verbosity:
            self.stderr.write(_("Already scheduled: nothing was created."))

    def _schedule(self, options) -> tuple[list, bool]:
        try:
            plan = self._plan(options)
        except plan_input.InputError as error:
            raise CommandLineError(REFUSED % {"problem": error}) from None
        livings = plan_livings(plan)
        if livings is not None:
            return livings, True
        problems = lesson_plan_check(plan)
        if problems:
            raise CommandLineError(REFUSED % {"problem": " ".join(problems)})
        client = client_make()
        with client:
            try:
                lesson_schedule(client=client, plan=plan, source=LessonSeries.Source.COMMAND)
            except LessonError as error:
                raise CommandLineError(REFUSED % {"problem": error}) from None
            except WeComError as error:
                raise CommandLineError(wecom_failure_text(plan, error)) from None
        return plan_livings(plan) or [], False

    @staticmethod
    def _plan(options) -> LessonPlan:
        teacher = plan_input.teacher_read(options["teacher"], school=default_school())
        return LessonPlan(
            teacher=teacher,
            classes=tuple(plan_input.classes_read(teacher, options["classes"])),
            start=plan_input.start_read(options["start"]),
            minutes=plan_input.number_read(
                options["minutes"], field="--minutes", low=1, high=MAX_MINUTES
            ),
            theme=options["theme"],
            living_type=plan_input.type_read(options["type"]),
            remind_minutes=plan_input.number_read(
                options["remind"], field="--remind", low=0, high=MAX_REMIND_MINUTES
            ),
            weeks=plan_input.number_read(options["weeks"], field="--weeks", low=1, high=MAX_WEEKS),
        )
