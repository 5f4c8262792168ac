"""Export a school's data, dumpdata-style, secrets never in it:

    python manage.py export_school CORPID > school.json

The corp id exactly as WeCom gives it (an encrypted one is case-sensitive); ``--id N`` names the
school by its id instead (a pending school has no corp id yet). An audit line records the export.
"""

from django.core.management.base import BaseCommand, CommandError

from school_live.install.export import school_export_json
from school_live.install.models import SchoolAudit, audit
from school_live.school.cli import database_ready
from school_live.school.models import School


class Command(BaseCommand):
    help = "Write a school's data as JSON (dumpdata's format) to standard output, without secrets."

    def add_arguments(self, parser):
        parser.add_argument("corp_id", nargs="?", help="the school's WeCom corp id, exactly")
        parser.add_argument("--id", type=int, dest="school_id", help="the school's id instead")

    def handle(self, *args, corp_id, school_id, **options):
        if bool(corp_id) == bool(school_id):
            raise CommandError("Name the school by its corp id (CORPID) or by --id N, not both.")
        database_ready()
        if school_id:
            school = School.objects.filter(pk=school_id).first()
            what = f"id {school_id}"
        else:
            school = School.objects.filter(corp_id=corp_id).first()
            what = f"corp id {corp_id!r}"
        if school is None:
            raise CommandError(
                f"No school has the {what} (corp ids are case-sensitive: copy it exactly)."
            )
        text = school_export_json(school)
        self.stdout.write(text)
        audit(school, SchoolAudit.Event.EXPORTED, by="manage.py export_school")
        self.stderr.write(f"Exported school #{school.pk} {school.name}.")
