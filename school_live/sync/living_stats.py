"""One living's statistics: download every page first, then replace the stored snapshot at once.

WeCom's pages are all read and checked before anything is written, so a failure on page 7 leaves
the previous snapshot (and the living's ``stats_synced_at``/``stats_complete``) exactly as it
was. The rows wait in a spool (spool.py), off the heap, and are compared with the stored ones in
the database (upsert.py): the write is one transaction that touches only what changed and deletes
the rows WeCom no longer lists, and a killed worker leaves either the old or the new snapshot. A
worker's memory does not grow with the size of the living, on a first sync or a re-sync.
"""

import datetime as dt
import functools
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.utils import timezone

from school_live.school.changes import attendance_changed
from school_live.school.models import (
    Department,
    Living,
    School,
    StudentUnwatch,
    StudentWatch,
    SyncRun,
    VisitorWatch,
    from_unix,
    to_unix,
)
from school_live.sync.liveness import heartbeat
from school_live.sync.locks import LivingLocked, living_lock
from school_live.sync.patience import patient
from school_live.sync.runs import Progress, run_finish, run_recorded
from school_live.sync.spool import RowSpool
from school_live.sync.upsert import Replaced, SnapshotTable
from school_live.wecom import ids
from school_live.wecom.client import WeComClient, school_client
from school_live.wecom.errors import WeComDataError
from school_live.wecom.records import LivingInfo, UnwatchRecord, VisitorRecord, WatchRecord

logger = logging.getLogger(__name__)

# Limits of the columns the rows go into; WeCom sending more is a malformed answer, not a crash.
MAX_INT = 2**31 - 1
MAX_USERID = 64

WATCH_STAT = "school/living/get_watch_stat"
UNWATCH_STAT = "school/living/get_unwatch_stat"
LIVING_INFO = "school/living/get_living_info"

WATCH_FIELDS = ["partyids", "watch_time", "enter_time", "leave_time", "is_comment"]
VISITOR_FIELDS = ["nickname", "watch_time", "enter_time", "leave_time", "is_comment"]


@dataclass
class LivingSnapshot:
    """Everything WeCom said about one living, read before anything is stored."""

    info: LivingInfo
    fetched_at: int  # Unix seconds when the statistics download began
    # (student_userid, parent_userid, partyids, watch_time, enter_time, leave_time, is_comment)
    # as WeCom sent them, in page order: a row repeated on a later page is stored once, as the
    # later page has it.
    watches: RowSpool = field(default_factory=RowSpool)
    # (nickname, watch_time, enter_time, leave_time, is_comment): each row is one, by position.
    visitors: RowSpool = field(default_factory=RowSpool)
    # (student_userid, parent_userid, partyids), repeats as for watches.
    unwatches: RowSpool = field(default_factory=RowSpool)
    pages: int = 0

    @property
    def ended(self) -> bool:
        start = self.info.living_start
        return bool(start) and start + self.info.living_duration <= self.fetched_at

    def close(self) -> None:
        for spool in (self.watches, self.visitors, self.unwatches):
            spool.close()


@dataclass(frozen=True)
class StoredSnapshot:
    living: Living
    watches: Replaced
    visitors: Replaced
    unwatches: Replaced

    @property
    def rows(self) -> int:
        """Rows of the snapshot: the watch and unwatch rows each key once, every visitor."""
        return self.watches.rows + self.visitors.rows + self.unwatches.rows


def living_stats_sync(
    *,
    client: WeComClient | None = None,
    livingid: str,
    run: SyncRun | None = None,
    task_id: str = "",
    info_since: dt.datetime | None = None,
    school: School | None = None,
) -> SyncRun:
    """Download and store one living's info and statistics; returns the run that did it. The
    living is ``run``'s school's, or ``school``'s for a new run.

    ``info_since``: the living's info stored since then (by the discovery of the same school
    sync) is used as it is, not asked of WeCom again.

    If another run holds this living's lock, ``run`` is closed as not started and the run under
    way is returned instead (a lock held by ``run`` itself is taken over: see locks.py). Transient
    WeCom errors are waited out (patience.py); what remains is recorded on the run and re-raised.
    """
    if run is None:
        run = SyncRun.objects.create(
            school=school,
            kind=SyncRun.Kind.LIVING,
            livingid=livingid,
            living=Living.objects.filter(school=school, livingid=livingid).first(),
        )
    school = run.school
    try:
        with (
            living_lock(livingid, school_id=school.pk, run_id=run.pk),
            run_recorded(run, task_id=task_id),
        ):
            with school_client(client, school=school) as used, patient(used):
                snapshot = living_snapshot_fetch(
                    client=used,
                    livingid=livingid,
                    progress=Progress(run),
                    info=living_info_fresh(school=school, livingid=livingid, since=info_since),
                )
            try:
                heartbeat(force=True)  # the store has a full SYNC_DEAD_AFTER to itself
                stored = living_snapshot_store(snapshot=snapshot, school=school)
            finally:
                snapshot.close()
            run.living = stored.living
            run.pages = snapshot.pages
            run.rows = stored.rows
    except LivingLocked as locked:
        return _report_under_way(run, locked)
    return run


def _report_under_way(run: SyncRun, locked: LivingLocked) -> SyncRun:
    holder = SyncRun.objects.filter(pk=locked.holder).first() if locked.holder else None
    number = f" #{holder.pk}" if holder else ""
    run_finish(
        run,
        error=(
            f"Not started: another sync{number} of living {locked.livingid} was already under "
            "way; its result is what you will see."
        ),
    )
    return holder or run


def living_info_fresh(
    *, school: School, livingid: str, since: dt.datetime | None
) -> LivingInfo | None:
    """The school's living's info as stored, if get_living_info was read at ``since`` or
    later."""
    if since is None:
        return None
    living = Living.objects.filter(
        school=school, livingid=livingid, info_synced_at__gte=since
    ).first()
    if living is None:
        return None
    return LivingInfo(
        livingid=livingid,
        theme=living.theme,
        living_start=to_unix(living.living_start),
        living_duration=living.living_duration,
        anchor_userid=living.anchor_userid,
        partyids=tuple(living.range_partyids),
        group_names=tuple(living.range_group_names),
        viewer_num=living.viewer_num,
        comment_num=living.comment_num,
        open_replay=living.open_replay,
        online_count=0,  # not stored, and not stored from WeCom's answer either
        subscribe_count=0,
    )


def living_snapshot_fetch(
    *,
    client: WeComClient,
    livingid: str,
    progress: Progress | None = None,
    info: LivingInfo | None = None,
) -> LivingSnapshot:
    """Every page of get_watch_stat and get_unwatch_stat, checked, spooled (closed on failure;
    the caller closes it after storing); the info too, unless it is given."""
    info = info or client.get_living_info(livingid)
    _check_info(info)
    snapshot = LivingSnapshot(info=info, fetched_at=int(time.time()))
    try:
        _pages_fetch(client, snapshot, progress)
    except BaseException:
        snapshot.close()
        raise
    return snapshot


def _pages_fetch(client: WeComClient, snapshot: LivingSnapshot, progress: Progress | None):
    livingid = snapshot.info.livingid
    for number, page in enumerate(client.iter_watch_stat(livingid), start=1):
        snapshot.pages += 1
        for index, record in enumerate(page.students):
            where = f"page {number}: stat_infoes.students[{index}]"
            _check_userids(record, WATCH_STAT, where)
            _check_times(record, where)
        snapshot.watches.extend([_watch_row(record) for record in page.students])
        for index, record in enumerate(page.visitors):
            _check_times(record, f"page {number}: stat_infoes.visitors[{index}]")
        snapshot.visitors.extend([_visitor_row(record) for record in page.visitors])
        if progress:
            progress.page()
    for number, page in enumerate(client.iter_unwatch_stat(livingid), start=1):
        snapshot.pages += 1
        for index, record in enumerate(page.students):
            _check_userids(record, UNWATCH_STAT, f"page {number}: stat_info.students[{index}]")
        snapshot.unwatches.extend(
            [(r.student_userid, r.parent_userid, r.partyids) for r in page.students]
        )
        if progress:
            progress.page()


def _watch_row(r: WatchRecord) -> tuple:
    return (
        r.student_userid,
        r.parent_userid,
        r.partyids,
        r.watch_time,
        r.enter_time,
        r.leave_time,
        r.is_comment,
    )


def _visitor_row(r: VisitorRecord) -> tuple:
    return (r.nickname, r.watch_time, r.enter_time, r.leave_time, r.is_comment)


def _malformed(endpoint: str, where: str, problem: str) -> WeComDataError:
    return WeComDataError(f"{where} {problem}", endpoint)


def _check_info(info: LivingInfo) -> None:
    for name in ("living_start", "living_duration", "viewer_num", "comment_num"):
        value = getattr(info, name)
        if not 0 <= value <= (2**33 if name == "living_start" else MAX_INT):
            raise _malformed(LIVING_INFO, f"living_info.{name}", f"is out of range ({value})")
    if len(info.anchor_userid) > MAX_USERID:
        raise _malformed(LIVING_INFO, "living_info.anchor_userid", "is too long")
    if info.anchor_userid and not ids.userid_valid(info.anchor_userid):
        raise _malformed(
            LIVING_INFO, "living_info.anchor_userid", ids.not_a("userid", info.anchor_userid)
        )
    if not ids.livingid_valid(info.livingid):
        raise _malformed(LIVING_INFO, "livingid", ids.not_a("livingid", info.livingid))


def _check_userids(record: WatchRecord | UnwatchRecord, endpoint: str, where: str) -> None:
    if len(record.student_userid) > MAX_USERID or len(record.parent_userid) > MAX_USERID:
        raise _malformed(endpoint, where, "has a userid longer than 64 characters")
    if not ids.userid_valid(record.student_userid):
        raise _malformed(
            endpoint, f"{where}.student_userid", ids.not_a("userid", record.student_userid)
        )
    if record.parent_userid and not ids.userid_valid(record.parent_userid):
        raise _malformed(
            endpoint, f"{where}.parent_userid", ids.not_a("userid", record.parent_userid)
        )


def _check_times(record: WatchRecord | VisitorRecord, where: str) -> None:
    if not 0 <= record.watch_time <= MAX_INT:
        raise _malformed(
            WATCH_STAT, f"{where}.watch_time", f"is out of range ({record.watch_time})"
        )
    for name in ("enter_time", "leave_time"):
        value = getattr(record, name)
        # Unix seconds up to the year 2242; beyond that it is not a timestamp.
        if not 0 <= value <= 2**33:
            raise _malformed(WATCH_STAT, f"{where}.{name}", f"is out of range ({value})")


def living_info_store(*, info: LivingInfo, school: School, synced_at=None) -> Living:
    """Create or update the school's living from get_living_info; its classes are the school's
    known ones in range, or the planned ones while WeCom reports no range."""
    _check_info(info)
    synced_at = synced_at or timezone.now()
    with transaction.atomic():
        living, _created = Living.objects.update_or_create(
            school=school,
            livingid=info.livingid,
            defaults={
                "theme": info.theme[:255],
                "living_start": from_unix(info.living_start),
                "living_duration": info.living_duration,
                "anchor_userid": info.anchor_userid,
                "range_partyids": list(info.partyids),
                "range_group_names": list(info.group_names),
                "viewer_num": info.viewer_num,
                "comment_num": info.comment_num,
                "open_replay": info.open_replay,
                "info_synced_at": synced_at,
            },
        )
        in_range = Department.objects.filter(
            school=school, wecom_id__in=info.partyids, type=Department.Type.CLASS
        )
        classes_before = set(living.classes.values_list("pk", flat=True))
        if info.partyids or info.group_names:
            # WeCom's range wins once it names an audience; a difference from the plan is shown.
            living.classes.set(in_range)
        else:
            # A reserved living from living/create has no class field: the classes the teacher
            # scheduled it for stand in until WeCom reports a range.
            living.classes.set(living.planned_classes.all())
        # The lesson's classes, before and after: their warnings read its verdicts.
        attendance_changed(classes_before | set(living.classes.values_list("pk", flat=True)))
    return living


def living_snapshot_store(*, snapshot: LivingSnapshot, school: School) -> StoredSnapshot:
    """Replace the school's living's stored rows with the snapshot, in one transaction."""
    now = timezone.now()
    with transaction.atomic():
        living = living_info_store(info=snapshot.info, school=school, synced_at=now)
        stored = StoredSnapshot(
            living=living,
            watches=_watches_replace(living, snapshot.watches),
            visitors=_visitors_replace(living, snapshot.visitors),
            unwatches=_unwatches_replace(living, snapshot.unwatches),
        )
        living.stats_synced_at = now
        living.stats_complete = snapshot.ended
        living.save(update_fields=["stats_synced_at", "stats_complete"])
        # living_info_store above has told the lesson's classes their attendance changed.
    logger.info(
        "living %s stored: %s",
        living.livingid,
        "; ".join(
            f"{name} {r.rows} ({r.created} new, {r.updated} changed, {r.deleted} removed)"
            for name, r in (
                ("watch rows", stored.watches),
                ("visitors", stored.visitors),
                ("unwatched", stored.unwatches),
            )
        ),
    )
    return stored


# The rows of one living share a few partyids lists and most of their seconds: each converter
# below turns a distinct value into the driver's once (a bounded cache: memory stays flat).
# Converting every row's values (JSON encoding, datetime adaptation) was most of the time spent
# storing a big living.


def _partyids_to_db(table: SnapshotTable) -> Callable[[tuple[int, ...]], Any]:
    prepare = table.preparer("partyids")
    return functools.lru_cache(maxsize=1024)(lambda partyids: prepare(list(partyids)))


def _seconds_to_db(table: SnapshotTable) -> Callable[[int], Any]:
    # enter_time's preparer serves leave_time too: both are DateTimeFields.
    prepare = table.preparer("enter_time")
    return functools.lru_cache(maxsize=8192)(lambda seconds: prepare(from_unix(seconds)))


def _watches_replace(living: Living, spool: RowSpool) -> Replaced:
    table = SnapshotTable(
        StudentWatch,
        scope="living",
        key=["student_userid", "parent_userid"],
        values=["school", *WATCH_FIELDS],
        stage="stage_watch",
    )
    partyids, seconds, living_pk = _partyids_to_db(table), _seconds_to_db(table), living.pk
    school_pk = living.school_id
    return table.replace(
        living_pk,
        (
            (
                seq,
                living_pk,
                student,
                parent,
                school_pk,
                partyids(p),
                watch,
                seconds(enter),
                seconds(leave),
                comment,
            )
            for seq, (student, parent, p, watch, enter, leave, comment) in enumerate(spool)
        ),
    )


def _visitors_replace(living: Living, spool: RowSpool) -> Replaced:
    table = SnapshotTable(
        VisitorWatch,
        scope="living",
        key=["position"],
        values=["school", *VISITOR_FIELDS],
        stage="stage_visitor",
    )
    seconds, living_pk, school_pk = _seconds_to_db(table), living.pk, living.school_id
    return table.replace(
        living_pk,
        (
            (seq, living_pk, seq, school_pk, nick, watch, seconds(enter), seconds(leave), comment)
            for seq, (nick, watch, enter, leave, comment) in enumerate(spool)
        ),
    )


def _unwatches_replace(living: Living, spool: RowSpool) -> Replaced:
    table = SnapshotTable(
        StudentUnwatch,
        scope="living",
        key=["student_userid", "parent_userid"],
        values=["school", "partyids"],
        stage="stage_unwatch",
    )
    partyids, living_pk, school_pk = _partyids_to_db(table), living.pk, living.school_id
    return table.replace(
        living_pk,
        (
            (seq, living_pk, student, parent, school_pk, partyids(p))
            for seq, (student, parent, p) in enumerate(spool)
        ),
    )
