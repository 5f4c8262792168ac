"""Finding livings: WeCom has no "livings of the school" call, only each teacher's livingid list.

Teacher by teacher: their livingid list, then the info of each living we do not know yet or that
is not settled (stats incomplete); a living whose last sync read every page after it ended is left
alone. A teacher's livings are stored before the next teacher is asked, so one error loses at most
that teacher's list. A teacher or a living that fails is recorded and the others go on: a living
WeCom refuses (a living created by another app) is named on the run, so an admin sees it; a
transient failure (after the waits of patience.py) gets another round, and the next run finds
what is still missing. An error about the app's setup (wrong secret, untrusted IP, ...) stops the
run: every other call would repeat it.

A school sync on the workers splits the teachers into shares, one task each (triggers.py): each
share queues the stats syncs of the livings it read that the sweep's rules pick, telling them
the info was just read (so get_living_info is asked once per living and sync).
"""

from school_live.school.models import Living, School, SyncRun, Teacher
from school_live.sync.living_stats import living_info_store
from school_live.sync.patience import patient
from school_live.sync.runs import Progress, SyncProblem, run_recorded, units_problem
from school_live.sync.sweep import sweep_livingids
from school_live.sync.triggers import living_syncs_request
from school_live.sync.units import units_each
from school_live.wecom import ids
from school_live.wecom.client import WeComClient, school_client
from school_live.wecom.errors import WeComDataError

LIVINGIDS = "living/get_user_all_livingid"


class DiscoveryIncomplete(SyncProblem):
    """Some teachers' or livings' info could not be read; the others were stored."""


def livings_discover(
    *,
    client: WeComClient | None = None,
    run: SyncRun | None = None,
    teachers: list[str] | None = None,
    enqueue: bool = False,
    school: School | None = None,
) -> SyncRun:
    """Every active teacher's livings, or those of ``teachers``, of ``run``'s school (or
    ``school``'s, for a new run); ``enqueue``: then queue the stats syncs of those the sweep
    picks."""
    run = run or SyncRun.objects.create(school=school, kind=SyncRun.Kind.DISCOVERY)
    school = run.school
    with run_recorded(run), school_client(client, school=school) as client:
        progress = Progress(run)
        settled = set(
            Living.objects.filter(school=school, stats_complete=True).values_list(
                "livingid", flat=True
            )
        )
        done: set[str] = set()  # a living two teachers share is read once
        living_errors = {}

        def store(livingid: str) -> None:
            if not ids.livingid_valid(livingid):
                raise WeComDataError(f"livingid_list {ids.not_a('livingid', livingid)}", LIVINGIDS)
            living_info_store(info=client.get_living_info(livingid), school=school)
            done.add(livingid)
            run.rows += 1
            progress.page()

        def teacher(userid: str) -> None:
            livingids = [
                livingid
                for livingid in dict.fromkeys(client.iter_user_livingids(userid))
                if livingid not in settled and livingid not in done
            ]
            progress.page()
            living_errors.update(units_each({livingid: livingid for livingid in livingids}, store))

        if teachers is None:
            teachers = teachers_active(school)
        with patient(client):
            failed = units_each({f"teacher {u}": u for u in teachers}, teacher)
        if enqueue and done:
            living_syncs_request(
                school=school,
                livingids=sweep_livingids(school=school, among=done),
                info_since=run.started_at,
            )
        # A living that failed for one teacher may have been read for another.
        failed.update({k: e for k, e in living_errors.items() if k not in done})
        if failed:
            total = len(teachers) + len(done | living_errors.keys())
            problem = units_problem("teachers' livingid lists and livings", total, failed)
            raise DiscoveryIncomplete(str(problem), transient=problem.transient)
    return run


def teachers_active(school: School) -> list[str]:
    return list(
        Teacher.objects.filter(school=school, is_active=True).values_list("userid", flat=True)
    )
