"""Send (or with --force re-send) the report of one lesson, for automation and support."""

from django.core.management.base import BaseCommand, CommandError

from school_live.reports.dispatch import living_report_send
from school_live.school.models import Living
from school_live.school.tenancy import default_school
from school_live.sync.cli import database_prepare


class Command(BaseCommand):
    help = (
        "Send the attendance report of one live lesson to the teachers of its classes, by email "
        "and (when WECOM_AGENT_ID is set) WeCom message. Reports already sent are skipped unless "
        "--force is given."
    )

    def add_arguments(self, parser):
        parser.add_argument("livingid", help="The WeCom living id.")
        parser.add_argument(
            "--force",
            action="store_true",
            help="Send again to teachers who already got it, and send even if the lesson's "
            "statistics are not complete yet.",
        )

    def handle(self, *args, livingid: str, force: bool, **options):
        database_prepare(stderr=self.stderr)
        living = Living.objects.filter(school=default_school(), livingid=livingid).first()
        if living is None:
            raise CommandError(
                f"Unknown living {livingid!r}: it has not been synced from WeCom. "
                "Check the id, or run the living discovery sync first."
            )
        if not living.stats_complete and not force:
            raise CommandError(
                f"The statistics of living {livingid!r} are not complete yet (the lesson has not "
                "ended or its sync has not finished). Wait for the sync, or pass --force."
            )
        summary = living_report_send(living=living, force=force)
        line = (
            f"Living {livingid} ({living.theme or 'no theme'}): {summary.sent} sent, "
            f"{summary.failed} failed, {summary.already} already sent, "
            f"{summary.opted_out} opted out."
        )
        if summary.failed:
            # A non-zero exit, so that automation notices.
            raise CommandError(f"{line} The errors are under Report deliveries in the admin.")
        self.stdout.write(self.style.SUCCESS(line))
