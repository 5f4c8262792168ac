"""Who has joined a lesson right before a reminder goes out, not as of the last sync.

The last sync can be minutes old: a family whose child came in since must not be reminded. So
right before sending, the lesson's newest watch rows are read from WeCom (every page of
get_watch_stat, through the client's own pager), unless the stored rows were synced under
``FRESH_FOR`` ago. The rule for "joined" is the roll call's (attendance/queries/rollcall.py):
any watch row of the student counts, a row of 0 s included (during the lesson that is someone
who has just come in), and so does a visitor row of more than 0 s whose nickname the class's
nickname book claims for the student (attendance/claimed.py).

A failure to read them is the caller's to report: sending on rows older than ``FRESH_FOR``
would remind families whose child is in the room, so nothing is sent and the teacher is told to
try again (the automatic reminder retries a transient failure the next minute).
"""

import datetime as dt

from school_live.corrections.models import NicknameClaim
from school_live.school.models import Department, Living
from school_live.wecom.client import WeComClient

# Stored rows synced more recently than this are as good as asking WeCom again.
FRESH_FOR = dt.timedelta(seconds=15)


def stored_rows_fresh(living: Living, now: dt.datetime) -> bool:
    """Were the living's rows synced less than ``FRESH_FOR`` before ``now`` (read from the
    database, not from the possibly older object in hand)?"""
    synced = Living.objects.filter(pk=living.pk).values_list("stats_synced_at", flat=True).first()
    return synced is not None and now - synced < FRESH_FOR


def joined_now(*, client: WeComClient, living: Living, department: Department) -> set[str]:
    """The userids (lower-cased: WeCom's userids ignore case) of the students WeCom's newest
    watch rows show in the lesson, by their own row or by a visitor row the class's nickname
    book claims for them. Raises ``WeComError`` when WeCom cannot be read."""
    joined: set[str] = set()
    nicknames: set[str] = set()
    for page in client.iter_watch_stat(living.livingid):
        joined.update(row.student_userid.lower() for row in page.students)
        nicknames.update(row.nickname for row in page.visitors if row.watch_time > 0)
    if nicknames:
        claims = NicknameClaim.objects.active().filter(department=department)
        joined.update(
            userid.lower()
            for nickname, userid in claims.values_list("nickname", "student__student_userid")
            if nickname in nicknames
        )
    return joined
