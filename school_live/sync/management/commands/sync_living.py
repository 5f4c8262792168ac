"""Sync livings' info and statistics now, here, without a worker."""

import sys

from django.core.management.base import BaseCommand

from school_live.school.models import SyncRun
from school_live.school.tenancy import default_school
from school_live.sync.cli import (
    command_client,
    database_prepare,
    living_summary,
    livingid_problem,
    quiet_logs,
)
from school_live.sync.living_stats import living_stats_sync
from school_live.sync.runs import run_error_text
from school_live.wecom.errors import WeComError


class Command(BaseCommand):
    help = (
        "Download each living's info and watch statistics from WeCom and store them. WeCom's "
        "transient errors (busy, frequency limits, HTTP 5xx) are waited out, a line for each "
        "wait; on failure the living's stored data stays as it was and the command exits with "
        "status 1."
    )

    def add_arguments(self, parser):
        parser.add_argument("livingids", nargs="+", metavar="LIVINGID")

    def handle(self, *args, livingids, verbosity, **options):
        refused = [(livingid, livingid_problem(livingid)) for livingid in livingids]
        refused = [(livingid, problem) for livingid, problem in refused if problem]
        for livingid, problem in refused:
            self.stderr.write(f"{livingid[:40]!r}: not synced — {problem}")
        if refused:
            sys.exit(1)
        database_prepare(stderr=self.stderr)
        with quiet_logs(verbosity):
            failed = self._sync_all(livingids)
        if failed:
            sys.exit(1)

    def _sync_all(self, livingids: list[str]) -> int:
        try:
            client = command_client(stderr=self.stderr)
        except WeComError as error:
            self.stderr.write(f"WeCom is not configured: {error}")
            return len(livingids)
        failed = 0
        school = default_school()
        for livingid in livingids:
            try:
                run = living_stats_sync(client=client, school=school, livingid=livingid)
            except Exception as error:  # the run recorded it; the admin reads the same words
                self.stderr.write(f"{livingid}: failed, nothing changed — {run_error_text(error)}")
                failed += 1
                continue
            if run.livingid != livingid or run.status != SyncRun.Status.SUCCEEDED:
                self.stderr.write(
                    f"{livingid}: not synced — run #{run.pk} is already syncing it; try again "
                    "when it has finished."
                )
                failed += 1
                continue
            self.stdout.write(living_summary(run.living, run))
        return failed
