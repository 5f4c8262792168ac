"""python manage.py wecom_check [--school CORPID]: the WeCom set-up check of one school, one
line per check (✓ passed, ✗ failed with what to change, – not checked, · cannot be checked from
the server), stored like the admin's. Exit status 1 when a line failed."""

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from school_live.school.models import School
from school_live.setup_check.describe import check_lines, plain_line
from school_live.setup_check.models import SetupCheck
from school_live.setup_check.schools import school_for
from school_live.setup_check.services import setup_check_run
from school_live.sync.cli import database_prepare, quiet_logs


class Command(BaseCommand):
    help = "Check the school's WeCom set-up: every permission, each failure with its fix."

    def add_arguments(self, parser):
        parser.add_argument(
            "--school",
            metavar="CORPID",
            default="",
            help="the school's WeCom corp id (default: the school of the WECOM_* settings)",
        )

    def handle(self, *args, school: str, verbosity: int, **options):
        database_prepare(stderr=self.stderr)
        try:
            found = school_for(school)
        except School.DoesNotExist:
            known = ", ".join(School.objects.exclude(corp_id="").values_list("corp_id", flat=True))
            raise CommandError(
                _("No school has the corp id %(corp)s. Known corp ids: %(known)s.")
                % {"corp": school, "known": known or "-"}
            ) from None
        with quiet_logs(verbosity):
            check = setup_check_run(school=found, trigger=SetupCheck.Trigger.COMMAND)
        self.stdout.write(
            _("WeCom connection check: %(school)s (%(corp)s)")
            % {"school": found.name, "corp": found.wecom_corp_id or "-"}
        )
        for line in check_lines(check):
            self.stdout.write(plain_line(line))
        failed = sum(1 for line in check.probe_lines() if line.failed)
        if failed:
            raise CommandError(
                _("%(count)s check(s) failed: change what the ✗ lines say, then run it again.")
                % {"count": failed},
                returncode=1,
            )
