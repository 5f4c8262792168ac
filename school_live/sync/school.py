"""The whole school in one go: roster, then living discovery, then the recent livings' stats.

On the workers (``enqueue``) discovery is split into shares, each a task of its own that queues
the stats of the livings it found; the sweep then queues the rest (settled livings due a replay
sync, livings of teachers no longer listed, runs whose worker died). The shares' own runs say
how they went, and are tried again like any task. Run here (the command), every living's stats
are synced right here, and the info discovery read is not read again.

Each step records its own SyncRun; the school run sums them and fails naming the steps that
failed. A failed step does not stop the next: stale livings are better than none. Every step
waits out WeCom's transient errors and keeps its progress per unit (class, teacher, living); when
what still failed failed only on transient errors, the school run's error is transient too, and
the Celery task runs it again later (each step then reads what is still missing).
"""

from school_live.school.models import School, SyncRun
from school_live.sync.discovery import livings_discover, teachers_active
from school_live.sync.roster import roster_sync
from school_live.sync.runs import SyncProblem, error_transient, run_recorded
from school_live.sync.sweep import recent_livings_sweep
from school_live.sync.triggers import discovery_shares_request
from school_live.wecom.client import WeComClient, school_client
from school_live.wecom.errors import WeComConfigError


def school_sync(
    *,
    client: WeComClient | None = None,
    run: SyncRun | None = None,
    enqueue: bool = False,
    task_id: str = "",
    school: School | None = None,
) -> SyncRun:
    """Syncs ``run``'s school (or ``school``, for a new run). Returns the school run;
    ``run.steps`` holds the step runs in order."""
    run = run or SyncRun.objects.create(school=school, kind=SyncRun.Kind.SCHOOL)
    school = run.school
    run.steps = []
    with run_recorded(run, task_id=task_id), school_client(client, school=school) as client:
        teachers: list[str] = []

        def discover(*, client, run):
            if not enqueue:
                return livings_discover(client=client, run=run)
            with run_recorded(run):
                teachers.extend(teachers_active(school))
                discovery_shares_request(
                    school=school, teachers=teachers, requested_by=run.requested_by
                )

        def sweep(*, client, run):
            if enqueue:
                return recent_livings_sweep(client=client, run=run, discovered=teachers)
            since = run_of(SyncRun.Kind.DISCOVERY).started_at
            return recent_livings_sweep(client=client, run=run, enqueue=False, info_since=since)

        def run_of(kind):
            return next(step for step in run.steps if step.kind == kind)

        steps = (
            (SyncRun.Kind.ROSTER, roster_sync),
            (SyncRun.Kind.DISCOVERY, discover),
            (SyncRun.Kind.SWEEP, sweep),
        )
        failed, transient = [], True
        for kind, step in steps:
            step_run = SyncRun.objects.create(
                school=school, kind=kind, requested_by=run.requested_by
            )
            run.steps.append(step_run)
            try:
                step(client=client, run=step_run)
            except WeComConfigError:
                raise  # the next steps would fail the same way
            except Exception as error:  # recorded on the step's own run
                failed.append(step_run)
                transient = transient and error_transient(error)
        run.pages = sum(s.pages for s in run.steps)
        run.rows = sum(s.rows for s in run.steps)
        if failed:
            raise SyncProblem(
                "; ".join(f"{s.get_kind_display()} failed: {s.error}" for s in failed),
                transient=transient,
            )
    return run
