"""One living's statistics: download every page first, then replace the stored snapshot at once.

WeCom's pages are read into memory before anything is written, so a failure on page 7 leaves the
previous snapshot (and the living's ``stats_synced_at``/``stats_complete``) exactly as it was. The
write is one transaction of batched upserts (upsert.py) plus the deletion of rows WeCom no longer lists, so a
re-sync touches only what changed and a killed worker leaves either the old or the new snapshot.
"""

import datetime as dt
import functools
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.utils import timezone

from school_live.school.models import (
    Department,
    Living,
    StudentUnwatch,
    StudentWatch,
    SyncRun,
    VisitorWatch,
    from_unix,
    to_unix,
)
from school_live.sync.liveness import heartbeat
from school_live.sync.locks import LivingLocked, living_lock
from school_live.sync.patience import client_for, patient
from school_live.sync.runs import Progress, run_finish, run_recorded
from school_live.sync.upsert import Upsert
from school_live.wecom.client import WeComClient
from school_live.wecom.errors import WeComDataError
from school_live.wecom.records import LivingInfo, UnwatchRecord, VisitorRecord, WatchRecord

DELETE_BATCH = 500
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
    # Keyed by (student_userid, parent_userid): a row repeated on a later page is stored once.
    watches: dict[tuple[str, str], WatchRecord] = field(default_factory=dict)
    visitors: list[VisitorRecord] = field(default_factory=list)
    unwatches: dict[tuple[str, str], UnwatchRecord] = field(default_factory=dict)
    pages: int = 0

    @property
    def ended(self) -> bool:
        start = self.info.living_start
        return bool(start) and start + self.info.living_duration <= self.fetched_at

    @property
    def rows(self) -> int:
        return len(self.watches) + len(self.visitors) + len(self.unwatches)


def living_stats_sync(
    *,
    client: WeComClient | None = None,
    livingid: str,
    run: SyncRun | None = None,
    task_id: str = "",
    info_since: dt.datetime | None = None,
) -> SyncRun:
    """Download and store one living's info and statistics; returns the run that did it.

    ``info_since``: the living's info stored since then (by the discovery of the same school
    sync) is used as it is, not asked of WeCom again.

    If another run holds this living's lock, ``run`` is closed as not started and the run under
    way is returned instead (a lock held by ``run`` itself is taken over: see locks.py). Transient
    WeCom errors are waited out (patience.py); what remains is recorded on the run and re-raised.
    """
    if run is None:
        run = SyncRun.objects.create(
            kind=SyncRun.Kind.LIVING,
            livingid=livingid,
            living=Living.objects.filter(livingid=livingid).first(),
        )
    try:
        with living_lock(livingid, run_id=run.pk), run_recorded(run, task_id=task_id):
            with client_for(client) as used, patient(used):
                snapshot = living_snapshot_fetch(
                    client=used,
                    livingid=livingid,
                    progress=Progress(run),
                    info=living_info_fresh(livingid=livingid, since=info_since),
                )
            heartbeat(force=True)  # the store has a full SYNC_DEAD_AFTER to itself
            run.living = living_snapshot_store(snapshot=snapshot)
            run.pages = snapshot.pages
            run.rows = snapshot.rows
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


def living_info_fresh(*, livingid: str, since: dt.datetime | None) -> LivingInfo | None:
    """The living's info as stored, if get_living_info was read at ``since`` or later."""
    if since is None:
        return None
    living = Living.objects.filter(livingid=livingid, info_synced_at__gte=since).first()
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
    """Every page of get_watch_stat and get_unwatch_stat, checked, in memory; the info too,
    unless it is given."""
    info = info or client.get_living_info(livingid)
    _check_info(info)
    snapshot = LivingSnapshot(info=info, fetched_at=int(time.time()))
    for number, page in enumerate(client.iter_watch_stat(livingid), start=1):
        snapshot.pages += 1
        for index, record in enumerate(page.students):
            where = f"page {number}: stat_infoes.students[{index}]"
            _check_userids(record, WATCH_STAT, where)
            _check_times(record, where)
            snapshot.watches[(record.student_userid, record.parent_userid)] = record
        for index, record in enumerate(page.visitors):
            _check_times(record, f"page {number}: stat_infoes.visitors[{index}]")
            snapshot.visitors.append(record)
        if progress:
            progress.page()
    for number, page in enumerate(client.iter_unwatch_stat(livingid), start=1):
        snapshot.pages += 1
        for index, record in enumerate(page.students):
            _check_userids(record, UNWATCH_STAT, f"page {number}: stat_info.students[{index}]")
            snapshot.unwatches[(record.student_userid, record.parent_userid)] = record
        if progress:
            progress.page()
    return snapshot


def _malformed(endpoint: str, where: str, problem: str) -> WeComDataError:
    return WeComDataError(f"{where} {problem}", endpoint)


def _check_info(info: LivingInfo) -> None:
    for name in ("living_start", "living_duration", "viewer_num", "comment_num"):
        value = getattr(info, name)
        if not 0 <= value <= (2**33 if name == "living_start" else MAX_INT):
            raise _malformed(LIVING_INFO, f"living_info.{name}", f"is out of range ({value})")
    if len(info.anchor_userid) > MAX_USERID:
        raise _malformed(LIVING_INFO, "living_info.anchor_userid", "is too long")


def _check_userids(record: WatchRecord | UnwatchRecord, endpoint: str, where: str) -> None:
    if len(record.student_userid) > MAX_USERID or len(record.parent_userid) > MAX_USERID:
        raise _malformed(endpoint, where, "has a userid longer than 64 characters")


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


def living_info_store(*, info: LivingInfo, synced_at=None) -> Living:
    """Create or update the living from get_living_info; its classes are the known ones in range,
    or the planned ones while WeCom reports no range."""
    synced_at = synced_at or timezone.now()
    with transaction.atomic():
        living, _created = Living.objects.update_or_create(
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
        in_range = Department.objects.filter(id__in=info.partyids, type=Department.Type.CLASS)
        if info.partyids or info.group_names:
            # WeCom's range wins once it names an audience; a difference from the plan is shown.
            living.classes.set(in_range)
        else:
            # A reserved living from living/create has no class field: the classes the teacher
            # scheduled it for stand in until WeCom reports a range.
            living.classes.set(living.planned_classes.all())
    return living


def living_snapshot_store(*, snapshot: LivingSnapshot) -> Living:
    """Replace the living's stored rows with the snapshot, in one transaction."""
    now = timezone.now()
    with transaction.atomic():
        living = living_info_store(info=snapshot.info, synced_at=now)
        _watches_replace(living, snapshot.watches)
        _visitors_replace(living, snapshot.visitors)
        _unwatches_replace(living, snapshot.unwatches)
        living.stats_synced_at = now
        living.stats_complete = snapshot.ended
        living.save(update_fields=["stats_synced_at", "stats_complete"])
    return living


WATCH_UPSERT = ("living", "student", "parent_userid", *WATCH_FIELDS)
UNWATCH_UPSERT = ("living", "student", "parent_userid", "partyids")
VISITOR_UPSERT = ("living", "position", *VISITOR_FIELDS)


# The rows of one living share a few partyids lists and most of their seconds: each helper below
# converts a distinct value once. Converting every row's values (JSON encoding and decoding,
# datetime adaptation) was most of the time spent storing a big living.


def _partyids_to_db(upsert: Upsert) -> Callable[[tuple[int, ...]], Any]:
    prepare = upsert.preparer("partyids")
    return functools.cache(lambda partyids: prepare(list(partyids)))


def _seconds_to_db(upsert: Upsert, column: str) -> Callable[[int], Any]:
    prepare = upsert.preparer(column)
    return functools.cache(lambda seconds: prepare(from_unix(seconds)))


class _FromDatabase:
    """Stored values read raw (without the ORM's per-row converters), in WeCom's terms."""

    def __init__(self) -> None:
        self._partyids = functools.cache(lambda text: tuple(json.loads(text)))
        self.seconds = functools.cache(_seconds)

    def partyids(self, value) -> tuple:
        # SQLite hands JSON over as text; psycopg decodes it (a list, which cannot be a cache key).
        return self._partyids(value) if isinstance(value, str | bytes) else tuple(value)


def _seconds(moment: dt.datetime | str | None) -> float | None:
    """A timestamp read raw (SQLite: text in UTC; PostgreSQL: an aware datetime) as Unix
    seconds, None as None: equal to WeCom's seconds exactly when ``from_unix`` of them is the
    stored value."""
    if moment is None:
        return None
    if isinstance(moment, str):
        moment = dt.datetime.fromisoformat(moment)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.timestamp()


def _watches_replace(living: Living, records: dict[tuple[str, str], WatchRecord]) -> None:
    """``records`` keyed by (student_userid, parent_userid), as in the snapshot."""
    upsert = Upsert(StudentWatch, WATCH_UPSERT, unique=["living", "student", "parent_userid"])
    # enter_time's preparer serves leave_time too: both are DateTimeFields.
    partyids_to_db, seconds_to_db = _partyids_to_db(upsert), _seconds_to_db(upsert, "enter_time")
    from_db = _FromDatabase()
    living_pk = living.pk  # a property: not once per row
    # (pk, student, parent, partyids, watch_time, enter_time, leave_time, is_comment)
    stored = {(row[1], row[2]): row for row in upsert.stored(living_pk)}
    changed = []
    for key, record in records.items():
        old = stored.get(key)
        if (
            old is not None
            and old[4] == record.watch_time
            and old[7] == record.is_comment  # SQLite gives 0/1, equal to False/True
            and from_db.partyids(old[3]) == record.partyids
            and from_db.seconds(old[5]) == (record.enter_time or None)
            and from_db.seconds(old[6]) == (record.leave_time or None)
        ):
            continue  # unchanged: a re-sync of a settled living writes nothing
        changed.append(
            (
                living_pk,
                *key,
                partyids_to_db(record.partyids),
                record.watch_time,
                seconds_to_db(record.enter_time),
                seconds_to_db(record.leave_time),
                record.is_comment,
            )
        )
    upsert.run(changed)
    _delete(StudentWatch, [stored[key][0] for key in stored.keys() - records.keys()])


def _visitors_replace(living: Living, records: list[VisitorRecord]) -> None:
    stored = {
        position: tuple(values)
        for position, *values in living.visitors.values_list("position", *VISITOR_FIELDS)
    }
    upsert = Upsert(VisitorWatch, VISITOR_UPSERT, unique=["living", "position"])
    changed = []
    for position, record in enumerate(records):
        values = (
            record.nickname,
            record.watch_time,
            from_unix(record.enter_time),
            from_unix(record.leave_time),
            record.is_comment,
        )
        if stored.get(position) != values:
            changed.append(upsert.prepare((living.pk, position, *values)))
    upsert.run(changed)
    if len(stored) > len(records):
        living.visitors.filter(position__gte=len(records)).delete()


def _unwatches_replace(living: Living, records: dict[tuple[str, str], UnwatchRecord]) -> None:
    upsert = Upsert(StudentUnwatch, UNWATCH_UPSERT, unique=["living", "student", "parent_userid"])
    partyids_to_db, from_db = _partyids_to_db(upsert), _FromDatabase()
    # (pk, student, parent, partyids)
    stored = {(row[1], row[2]): row for row in upsert.stored(living.pk)}
    changed = []
    for key, record in records.items():
        old = stored.get(key)
        if old is None or from_db.partyids(old[3]) != record.partyids:
            changed.append((living.pk, *key, partyids_to_db(record.partyids)))
    upsert.run(changed)
    _delete(StudentUnwatch, [stored[key][0] for key in stored.keys() - records.keys()])


def _delete(model, pks: list[int]) -> None:
    for start in range(0, len(pks), DELETE_BATCH):
        model.objects.filter(pk__in=pks[start : start + DELETE_BATCH]).delete()
