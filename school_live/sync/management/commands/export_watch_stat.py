"""A living's stored watch rows as CSV on stdout, exactly as WeCom sent them.

Times go back to WeCom's Unix seconds (0 where WeCom sent 0), partyids keep WeCom's order joined
by ";", flags are 0/1. No spreadsheet-formula neutralising: this is for comparing with WeCom's
own numbers byte for byte, not for opening in Excel (the dashboard's exports do that).
"""

import csv
import sys

from django.core.management.base import BaseCommand

from school_live.school.models import Living, to_unix
from school_live.school.tenancy import default_school
from school_live.sync.cli import database_prepare

WATCH_HEADER = [
    "student_userid",
    "parent_userid",
    "partyids",
    "watch_time",
    "enter_time",
    "leave_time",
    "is_comment",
]
VISITOR_HEADER = ["nickname", "watch_time", "enter_time", "leave_time", "is_comment"]


class Command(BaseCommand):
    help = "Print a living's stored student (or, with --visitors, visitor) watch rows as CSV."

    def add_arguments(self, parser):
        parser.add_argument("livingid", metavar="LIVINGID")
        parser.add_argument(
            "--visitors", action="store_true", help="the WeChat visitors instead of students"
        )

    def handle(self, *args, livingid, visitors, **options):
        database_prepare(stderr=self.stderr)
        living = Living.objects.filter(school=default_school(), livingid=livingid).first()
        if living is None:
            self.stderr.write(
                f"{livingid}: no such living is stored; sync it first "
                f"(python manage.py sync_living {livingid})."
            )
            sys.exit(1)
        writer = csv.writer(self.stdout, lineterminator="\n")
        if visitors:
            writer.writerow(VISITOR_HEADER)
            for row in living.visitors.order_by("position").iterator(chunk_size=2000):
                writer.writerow(
                    [
                        row.nickname,
                        row.watch_time,
                        to_unix(row.enter_time),
                        to_unix(row.leave_time),
                        int(row.is_comment),
                    ]
                )
            return
        writer.writerow(WATCH_HEADER)
        for row in living.watches.order_by("pk").iterator(chunk_size=2000):
            writer.writerow(
                [
                    row.student_userid,
                    row.parent_userid,
                    ";".join(str(party) for party in row.partyids),
                    row.watch_time,
                    to_unix(row.enter_time),
                    to_unix(row.leave_time),
                    int(row.is_comment),
                ]
            )
