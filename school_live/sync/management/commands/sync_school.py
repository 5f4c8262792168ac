"""Sync the whole school now, here, without a worker: roster, discovery, recent livings."""

import sys

from django.core.management.base import BaseCommand

from school_live.school.models import SyncRun
from school_live.school.tenancy import default_school
from school_live.sync.cli import command_client, database_prepare, quiet_logs, run_summary
from school_live.sync.runs import run_error_text, run_finish
from school_live.sync.school import school_sync
from school_live.wecom.errors import WeComError


class Command(BaseCommand):
    help = (
        "Sync the roster, discover livings and sync the stats of recent livings, one after the "
        "other in this process. WeCom's transient errors are waited out, a line for each wait; "
        "a class, teacher or living that still fails is reported and the others go on. Exits "
        "with status 1 if a step failed."
    )

    def handle(self, *args, verbosity, **options):
        database_prepare(stderr=self.stderr)
        with quiet_logs(verbosity):
            run = SyncRun.objects.create(school=default_school(), kind=SyncRun.Kind.SCHOOL)
            try:
                client = command_client(stderr=self.stderr)
            except WeComError as error:  # not configured: nothing can start
                run_finish(run, error=error)
                client = None
            try:
                if client is not None:
                    school_sync(client=client, run=run, enqueue=False)
            except Exception as error:  # recorded on the run; summarised below
                run.error = run_error_text(error)
            for step in getattr(run, "steps", []):
                line = run_summary(step)
                if step.status == SyncRun.Status.SUCCEEDED:
                    self.stdout.write(line)
                else:
                    self.stderr.write(line)
        run.refresh_from_db()
        if run.status != SyncRun.Status.SUCCEEDED:
            if not getattr(run, "steps", None):
                self.stderr.write(run_summary(run))
            sys.exit(1)
        self.stdout.write(run_summary(run))
