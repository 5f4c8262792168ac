"""Finding livings: WeCom has no "livings of the school" call, only each teacher's livingid list.

Info is fetched for livings we do not know yet and for those not settled (stats incomplete); a
living whose last sync read every page after it ended is left alone. One living WeCom refuses
(92008: created by another app) does not stop the others; the run fails naming it, so an admin
sees it. A transient error stops the run so the task can retry it whole; so does an error about
the app's setup (wrong secret, untrusted IP, ...), which every other living would repeat.
"""

from school_live.school.models import Living, SyncRun, Teacher
from school_live.sync.living_stats import living_info_store
from school_live.sync.runs import Progress, SyncProblem, error_app_wide, run_recorded
from school_live.wecom.client import WeComClient
from school_live.wecom.errors import WeComError

MAX_ERRORS_SHOWN = 5


class DiscoveryIncomplete(SyncProblem):
    """Some livings could not be read; the others were stored."""


def livings_discover(*, client: WeComClient | None = None, run: SyncRun | None = None) -> SyncRun:
    run = run or SyncRun.objects.create(kind=SyncRun.Kind.DISCOVERY)
    errors: list[str] = []
    with run_recorded(run):
        client = client or WeComClient.from_settings()
        progress = Progress(run)
        found: dict[str, None] = {}  # an ordered set: a living two teachers share counts once
        for userid in Teacher.objects.filter(is_active=True).values_list("userid", flat=True):
            found.update(dict.fromkeys(client.iter_user_livingids(userid)))
            progress.page()
        livingids = list(found)
        settled = set(Living.objects.filter(stats_complete=True).values_list("livingid", flat=True))
        for livingid in livingids:
            if livingid in settled:
                continue
            try:
                info = client.get_living_info(livingid)
            except WeComError as error:
                if error.transient or error_app_wide(error):
                    raise
                errors.append(f"{livingid}: {error}")
                continue
            living_info_store(info=info)
            run.rows += 1
            progress.page()
        if errors:
            shown = "; ".join(errors[:MAX_ERRORS_SHOWN])
            more = len(errors) - MAX_ERRORS_SHOWN
            suffix = f" (and {more} more)" if more > 0 else ""
            raise DiscoveryIncomplete(
                f"{len(errors)} of {len(livingids)} livings could not be read: {shown}{suffix}"
            )
    return run
