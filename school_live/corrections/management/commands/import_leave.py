"""``python manage.py import_leave FILE.csv``: mark students excused (请假) from a leave list."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from school_live.corrections.leave_file import LeaveFileRefused, leave_file_read
from school_live.corrections.services import excuses_create_all
from school_live.school.tenancy import default_school


class Command(BaseCommand):
    help = (
        "Mark students excused from a CSV file with the columns student_userid,start,end,reason "
        "(dates inclusive, YYYY-MM-DD; reason 病假, 事假 or free text). A file with a bad row "
        "changes nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", help="the CSV file (UTF-8, with or without BOM)")

    def handle(self, *args, file, **options):
        path = Path(file)
        try:
            data = path.read_bytes()
        except OSError as error:
            raise CommandError(
                _("Cannot read %(file)s: %(error)s") % {"file": file, "error": error.strerror}
            ) from None
        try:
            requests = leave_file_read(data, school=default_school())
        except LeaveFileRefused as refused:
            for line in refused.problems:
                self.stderr.write(line)
            raise CommandError(
                _("Nothing was imported: fix the rows above and run the command again.")
            ) from None
        excuses = excuses_create_all(
            requests=requests, why=_("imported from %(file)s") % {"file": path.name}
        )
        self.stdout.write(
            _("Imported %(count)d excused absences from %(file)s.")
            % {"count": len(excuses), "file": path.name}
        )
