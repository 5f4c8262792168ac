"""Lessons started from the teacher's phone (``ww.startLiving``, api.md §14.2).

What the phone sends is not a WeCom fact: a livingid in a POST could be made up, another app's or
another teacher's. A reported start therefore counts only once WeCom's get_living_info (api.md §4)
says that the living exists and this app may read it (WeCom refuses another app's living), that this teacher hosts
it, and that it has not ended. Then the lesson is stored from WeCom's info (theme, start, host),
with the class the teacher chose, and its sync is queued. While WeCom cannot be asked (busy, rate
limit, network) the report waits, and is no lesson: no page, roll call or reminder sees it, until
``lessons.confirm_start`` asks again. A lesson's live state comes only from WeCom: its start time
by the clock, a signed callback, or a sync.
"""

import dataclasses
import time

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from school_live.attendance import state
from school_live.lessons.models import LessonStartReport
from school_live.school.models import Department, Living, Teacher
from school_live.sync.living_stats import living_info_store
from school_live.wecom.errors import WeComError
from school_live.wecom.records import LivingInfo

# WeCom may not know how long a lesson started from the phone lasts while it is live (api.md §12
# leaves it unverified; the sandbox answers 45 minutes). A living_duration of 0 then means "live
# for now": it is stored as this much beyond the moment WeCom was asked, until a sync says more.
UNKNOWN_DURATION_SECONDS = 45 * 60
# A lesson that WeCom says started more than this long ago with no length is not live any more.
UNKNOWN_DURATION_LIMIT = 8 * 3600
# Our clock and WeCom's may differ a little: a start this far ahead of ours is "just started".
CLOCK_SKEW_SECONDS = 120


def start_refusal(info: LivingInfo, *, teacher: Teacher, now: int) -> str:
    """Why WeCom's info does not show a lesson that ``teacher`` has started and not ended, in
    words for the teacher; "" when it does."""
    if info.anchor_userid != teacher.userid:
        return _(
            "WeCom says another teacher hosts this lesson; only its host can report it started."
        )
    start = info.living_start
    if not start or start > now + CLOCK_SKEW_SECONDS:
        return _("WeCom does not show this lesson as started. Start it in WeCom first.")
    if info.living_duration:
        ended = start + info.living_duration <= now
    else:
        ended = start + UNKNOWN_DURATION_LIMIT <= now
    if ended:
        return _("WeCom says this lesson has already ended.")
    return ""


def error_refusal() -> str:
    """A permanent WeCom answer about a reported living, for the teacher."""
    return _(
        "WeCom did not confirm this lesson: this site cannot read it (it was not started from "
        "this site, or the id is wrong). Nothing was recorded."
    )


def _known_duration(info: LivingInfo, now: int) -> LivingInfo:
    if info.living_duration:
        return info
    seconds = max(0, now - info.living_start) + UNKNOWN_DURATION_SECONDS
    return dataclasses.replace(info, living_duration=seconds)


def _lesson_store(*, info: LivingInfo, department: Department, now: int) -> Living:
    """The confirmed lesson as WeCom has it (the class's school's), planned for the class the
    teacher chose, with its sync queued."""
    from school_live.sync.triggers import living_sync_request

    school = department.school
    with transaction.atomic():
        living = living_info_store(info=_known_duration(info, now), school=school)
        living.planned_classes.set([department])
        if not (info.partyids or info.group_names):
            living.classes.set([department])
        living_sync_request(school=school, livingid=living.livingid)
    return living


def start_report_confirm(*, client, report: LessonStartReport) -> LessonStartReport:
    """Ask WeCom about the reported living. The report comes back confirmed (the lesson stored,
    its sync queued), refused (with the reason) or still waiting (WeCom could not be asked now;
    the reason says why)."""
    now = int(time.time())
    report.attempts += 1
    report.checked_at = timezone.now()
    try:
        info = client.get_living_info(report.livingid)
    except WeComError as error:
        if error.transient:
            report.reason = str(error)
        else:
            report.state = LessonStartReport.State.REFUSED
            report.reason = f"{error_refusal()} ({error})"
        report.save(update_fields=["state", "reason", "attempts", "checked_at"])
        return report
    refusal = start_refusal(info, teacher=report.teacher, now=now)
    with transaction.atomic():
        if refusal:
            report.state = LessonStartReport.State.REFUSED
            report.reason = refusal
        else:
            _lesson_store(info=info, department=report.department, now=now)
            report.state = LessonStartReport.State.CONFIRMED
            report.reason = ""
        report.save(update_fields=["state", "reason", "attempts", "checked_at"])
    return report


def start_report_record(
    *, livingid: str, teacher: Teacher, department: Department, theme: str
) -> LessonStartReport:
    """The teacher's report, once per living and teacher (a repeat finds the first)."""
    report, _created = LessonStartReport.objects.get_or_create(
        school=teacher.school,
        livingid=livingid,
        teacher=teacher,
        defaults={"department": department, "theme": theme[:255]},
    )
    return report


def start_confirm_request(*, report: LessonStartReport) -> None:
    """Ask WeCom again later, from a worker."""
    from school_live.lessons.tasks import start_report_confirm_task

    start_report_confirm_task.delay_on_commit(report.pk)


def start_report_give_up(*, report: LessonStartReport) -> None:
    """WeCom could not be asked, however often we tried: the report is refused, and the lesson,
    if WeCom has it, appears with the next sync of the teacher's lessons."""
    report.state = LessonStartReport.State.REFUSED
    report.reason = _(
        "WeCom could not be asked after %(n)d tries (%(error)s). If the lesson exists, it "
        "appears after the next sync."
    ) % {"n": report.attempts, "error": report.reason}
    report.save(update_fields=["state", "reason"])


def reserved_lesson_confirm(*, client, living: Living) -> bool:
    """The host's phone says this reserved lesson started: ask WeCom and store what it says, so
    that its start time decides, by the clock, whether the lesson is live; queue its sync.
    Returns whether it is live now and was not before. Raises WeComError when WeCom cannot
    answer (the caller queues the sync, which asks again)."""
    from school_live.sync.triggers import living_sync_request

    now = int(time.time())
    was_live = state.living_state(living) == state.LivingState.LIVE
    info = client.get_living_info(living.livingid)
    with transaction.atomic():
        stored = living_info_store(info=_known_duration(info, now), school=living.school)
        living_sync_request(school=living.school, livingid=stored.livingid)
    return not was_live and state.living_state(stored) == state.LivingState.LIVE
