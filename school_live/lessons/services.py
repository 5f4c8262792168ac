"""Scheduling, changing, cancelling and starting lessons in WeCom, exactly once each.

``lesson_plan_check`` refuses what WeCom would refuse (and what a school would not want: a class the
teacher does not teach, a clash with the teacher's own lesson) before anything is stored or sent.
``lesson_schedule`` stores the series and one keyed occurrence per week in one transaction, then
creates each pending occurrence in WeCom. An occurrence whose create was attempted before (a crash
or a lost reply may have left a living in WeCom that we never recorded) is first looked for among
the teacher's livings; only when none matches is it created again.
"""

import dataclasses
import datetime as dt
import hashlib
import logging

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from school_live.attendance import scope
from school_live.lessons.models import LessonOccurrence, LessonSeries
from school_live.school.changes import attendance_changed
from school_live.school.models import Department, Living, Teacher
from school_live.wecom.errors import (
    ALREADY_STARTED,
    DATA_ERROR,
    HTTP_ERROR,
    NETWORK_ERROR,
    WeComError,
)
from school_live.wecom.living_writes import THEME_MAX_CHARS, check_living_fields

logger = logging.getLogger(__name__)

MAX_WEEKS = 30
MAX_MINUTES = 8 * 60
MAX_REMIND_MINUTES = 24 * 60


class LessonError(Exception):
    """A lesson that cannot be scheduled, changed or started; the message is for the teacher."""


@dataclasses.dataclass(frozen=True)
class LessonPlan:
    teacher: Teacher
    classes: tuple[Department, ...]
    start: dt.datetime  # aware
    minutes: int
    theme: str
    living_type: int = LessonSeries.Type.BIG_CLASS
    remind_minutes: int = 0
    weeks: int = 1

    def starts(self) -> list[dt.datetime]:
        local = self.start.astimezone(timezone.get_default_timezone())
        return [local + dt.timedelta(weeks=week) for week in range(self.weeks)]


def occurrence_key(*, teacher: Teacher, start: dt.datetime, theme: str) -> str:
    """The same teacher, start and theme is the same lesson, however often it is asked for."""
    text = f"{teacher.userid}\n{int(start.timestamp())}\n{theme}"
    return hashlib.sha256(text.encode()).hexdigest()


def plan_keys(plan: LessonPlan) -> list[str]:
    theme = plan.theme.strip()
    return [occurrence_key(teacher=plan.teacher, start=s, theme=theme) for s in plan.starts()]


def plan_occurrences(plan: LessonPlan):
    """The plan's occurrences already stored (a retry finds them by their keys)."""
    return LessonOccurrence.objects.filter(
        school=plan.teacher.school_id, key__in=plan_keys(plan)
    ).select_related("living")


def plan_livings(plan: LessonPlan) -> list[Living] | None:
    """The plan's livings, oldest first, when WeCom has every occurrence; otherwise None."""
    occurrences = list(plan_occurrences(plan).order_by("start"))
    if len(occurrences) < plan.weeks or any(
        o.state != LessonOccurrence.State.CREATED or o.living is None for o in occurrences
    ):
        return None
    return [o.living for o in occurrences]


def plan_unsent_forget(plan: LessonPlan) -> int:
    """After a WeCom failure, drop the plan's occurrences that WeCom certainly never created
    (never sent, or refused with an errcode), and a series left with none: the plan leaves no
    trace but what WeCom has. Returns how many occurrences were dropped."""
    with transaction.atomic():
        unsent = plan_occurrences(plan).exclude(state=LessonOccurrence.State.CREATED)
        unsent = unsent.filter(attempts=0)
        series_ids = set(unsent.values_list("series_id", flat=True))
        dropped, _counts = unsent.delete()
        LessonSeries.objects.filter(pk__in=series_ids, occurrences__isnull=True).delete()
    return dropped


def teacher_classes(teacher: Teacher):
    return Department.objects.filter(
        assignments__teacher=teacher, type=Department.Type.CLASS, is_active=True
    ).distinct()


def _overlapping(teacher: Teacher, start: dt.datetime, minutes: int, *, exclude_keys=()) -> str:
    """The theme of the teacher's own lesson that overlaps, or ""."""
    end = start + dt.timedelta(minutes=minutes)
    for living in (
        Living.objects.filter(
            school=teacher.school_id,
            anchor_userid=teacher.userid,
            living_start__lt=end,
            living_start__isnull=False,
        )
        .exclude(status__in=(Living.Status.CANCELLED, Living.Status.EXPIRED))
        .exclude(occurrence__key__in=exclude_keys)
    ):
        if living.living_end is not None and living.living_end > start:
            return living.theme or living.livingid
    pending = LessonOccurrence.objects.filter(
        series__teacher=teacher,
        state=LessonOccurrence.State.PENDING,
        start__lt=end,
    ).exclude(key__in=exclude_keys)
    for occurrence in pending.select_related("series"):
        if occurrence.start + dt.timedelta(minutes=occurrence.series.minutes) > start:
            return occurrence.series.theme
    return ""


def lesson_plan_check(plan: LessonPlan, *, now: dt.datetime | None = None) -> list[str]:
    """Every reason the plan cannot be scheduled, in words a teacher understands; [] when fine."""
    now = now or timezone.now()
    problems = []
    theme = plan.theme.strip()
    if not theme:
        problems.append(_("A lesson needs a theme."))
    elif len(theme) > THEME_MAX_CHARS:
        problems.append(
            _("The theme has %(n)d characters; WeCom allows at most %(max)d.")
            % {"n": len(theme), "max": THEME_MAX_CHARS}
        )
    if not plan.classes:
        problems.append(_("Choose at least one class."))
    taught = set(teacher_classes(plan.teacher).values_list("pk", flat=True))
    for department in plan.classes:
        if department.pk not in taught:
            problems.append(
                _("%(teacher)s does not teach %(class)s.")
                % {"teacher": plan.teacher.name or plan.teacher.userid, "class": department.name}
            )
    if not 1 <= plan.minutes <= MAX_MINUTES:
        problems.append(_("A lesson lasts between 1 and %(max)d minutes.") % {"max": MAX_MINUTES})
    if not 0 <= plan.remind_minutes <= MAX_REMIND_MINUTES:
        problems.append(_("The reminder is at most 24 hours before the start."))
    if not 1 <= plan.weeks <= MAX_WEEKS:
        problems.append(_("Repeat for 1 to %(max)d weeks.") % {"max": MAX_WEEKS})
    if plan.living_type not in LessonSeries.Type.values:
        problems.append(_("The type is 大班课 or 小班课."))
    if plan.start <= now:
        problems.append(_("The start must be in the future."))
    if problems:
        return problems
    keys = plan_keys(plan)
    for start in plan.starts():
        clash = _overlapping(plan.teacher, start, plan.minutes, exclude_keys=keys)
        if clash:
            problems.append(
                _("%(when)s overlaps %(teacher)s's lesson “%(theme)s”.")
                % {
                    "when": start.astimezone(timezone.get_default_timezone()).strftime(
                        "%Y-%m-%d %H:%M"
                    ),
                    "teacher": plan.teacher.display_name,
                    "theme": clash,
                }
            )
    return problems


def lesson_schedule(*, client, plan: LessonPlan, source: str, requested_by=None) -> LessonSeries:
    """Store the plan's occurrences (keyed, once each) and create them in WeCom.

    Raises ``LessonError`` for a plan that fails ``lesson_plan_check`` (nothing is stored) and
    ``WeComError`` when WeCom fails part-way: the occurrences already created stay, and running
    the same plan again creates only the rest.
    """
    problems = lesson_plan_check(plan)
    if problems:
        raise LessonError(" ".join(problems))
    theme = plan.theme.strip()
    for start in plan.starts():
        check_living_fields(
            theme=theme,
            living_start=int(start.timestamp()),
            living_duration=plan.minutes * 60,
            type=plan.living_type,
            remind_time=plan.remind_minutes * 60,
        )
    school = plan.teacher.school
    with transaction.atomic():
        keys = plan_keys(plan)
        occurrences = LessonOccurrence.objects.filter(school=school, key__in=keys)
        existing = occurrences.select_related("series").first()
        if existing is not None:
            series = existing.series
        else:
            series = LessonSeries.objects.create(
                school=school,
                teacher=plan.teacher,
                theme=theme,
                first_start=plan.start,
                minutes=plan.minutes,
                weeks=plan.weeks,
                living_type=plan.living_type,
                remind_minutes=plan.remind_minutes,
                source=source,
                requested_by=requested_by,
            )
            series.classes.set(plan.classes)
        known = set(occurrences.values_list("key", flat=True))
        taken = set(series.occurrences.values_list("index", flat=True))
        index = max(taken, default=-1) + 1
        for key, start in zip(keys, plan.starts(), strict=True):
            if key in known:
                continue
            LessonOccurrence.objects.create(
                school=school, series=series, index=index, key=key, start=start
            )
            index += 1
    series_create_pending(client=client, series=series)
    return series


def series_create_pending(*, client, series: LessonSeries) -> None:
    """Create every occurrence of the series that WeCom does not have yet, in order."""
    for occurrence in series.occurrences.exclude(state=LessonOccurrence.State.CREATED):
        occurrence_create(client=client, occurrence=occurrence)


def occurrence_create(*, client, occurrence: LessonOccurrence) -> Living:
    series = occurrence.series
    if occurrence.state == LessonOccurrence.State.CREATED and occurrence.living_id:
        return occurrence.living
    start = int(occurrence.start.timestamp())
    livingid = ""
    if occurrence.attempts:
        livingid = _find_created(client=client, series=series, start=start)
        if livingid:
            logger.info("occurrence %s was created before as %s", occurrence.key[:12], livingid)
    if not livingid:
        # The attempt is on record before WeCom is called: a crash after WeCom created the
        # living is found by the next attempt instead of creating a second one.
        LessonOccurrence.objects.filter(pk=occurrence.pk).update(
            attempts=occurrence.attempts + 1, attempted_at=timezone.now()
        )
        occurrence.attempts += 1
        try:
            livingid = client.create_living(
                anchor_userid=series.teacher.userid,
                theme=series.theme,
                living_start=start,
                living_duration=series.minutes * 60,
                type=series.living_type,
                remind_time=series.remind_minutes * 60,
            )
        except WeComError as error:
            if not _may_have_created(error):
                occurrence.attempts -= 1
            occurrence.error = str(error)
            occurrence.save(update_fields=["attempts", "error"])
            raise
    with transaction.atomic():
        living = living_record(
            school=series.school,
            livingid=livingid,
            theme=series.theme,
            start=occurrence.start,
            minutes=series.minutes,
            anchor_userid=series.teacher.userid,
            classes=list(series.classes.all()),
            status=Living.Status.RESERVED,
        )
        occurrence.living = living
        occurrence.state = LessonOccurrence.State.CREATED
        occurrence.error = ""
        occurrence.save(update_fields=["living", "state", "error"])
    return living


def _may_have_created(error: WeComError) -> bool:
    """Whether living/create may have created the living although we got an error: only when
    the call went out and its answer was lost or unreadable. An errcode is WeCom saying no."""
    return error.endpoint == "living/create" and error.errcode in (
        NETWORK_ERROR,
        HTTP_ERROR,
        DATA_ERROR,
    )


def _find_created(*, client, series: LessonSeries, start: int) -> str:
    """A living of the teacher that this app created for this occurrence but never recorded."""
    recorded = set(
        Living.objects.values_list("livingid", flat=True).filter(
            school=series.school_id, anchor_userid=series.teacher.userid
        )
    )
    for livingid in client.iter_user_livingids(series.teacher.userid):
        if livingid in recorded:
            continue
        info = client.get_living_info(livingid)
        if info.theme == series.theme and info.living_start == start:
            return livingid
    return ""


def living_record(
    *,
    school,
    livingid: str,
    theme: str,
    start: dt.datetime | None,
    minutes: int,
    anchor_userid: str,
    classes: list[Department],
    status: int,
) -> Living:
    """The school's Living as we created it, with its planned classes, stored at once so that it
    shows up before any sync. A later sync fills in what WeCom knows."""
    living, created = Living.objects.get_or_create(
        school=school,
        livingid=livingid,
        defaults={
            "theme": theme,
            "living_start": start,
            "living_duration": minutes * 60,
            "anchor_userid": anchor_userid,
            "status": status,
            "status_changed_at": timezone.now(),
        },
    )
    living.planned_classes.set(classes)
    if created or not living.range_partyids:
        living.classes.set(classes)
    return living


def _wecom_refusal(error: WeComError) -> LessonError:
    if error.errcode == ALREADY_STARTED:
        return LessonError(_("This lesson has already started or was cancelled in WeCom."))
    return LessonError(str(error))


def _check_reserved(living: Living, now: dt.datetime) -> None:
    if living.status not in (None, Living.Status.RESERVED) or (
        living.living_start is not None and living.living_start <= now
    ):
        raise LessonError(_("This lesson has already started or was cancelled in WeCom."))


def lesson_modify(
    *,
    client,
    living: Living,
    theme: str,
    start: dt.datetime,
    minutes: int,
    living_type: int = LessonSeries.Type.BIG_CLASS,
    remind_minutes: int = 0,
) -> Living:
    """Change a reserved lesson in WeCom, then here."""
    now = timezone.now()
    _check_reserved(living, now)
    theme = theme.strip()
    if not theme or len(theme) > THEME_MAX_CHARS:
        raise LessonError(_("The theme needs 1 to %(max)d characters.") % {"max": THEME_MAX_CHARS})
    if start <= now:
        raise LessonError(_("The start must be in the future."))
    try:
        client.modify_living(
            livingid=living.livingid,
            theme=theme,
            living_start=int(start.timestamp()),
            living_duration=minutes * 60,
            type=living_type,
            remind_time=remind_minutes * 60,
        )
    except WeComError as error:
        raise _wecom_refusal(error) from None
    living.theme = theme
    living.living_start = start
    living.living_duration = minutes * 60
    living.save(update_fields=["theme", "living_start", "living_duration"])
    return living


def lesson_cancel(*, client, living: Living) -> Living:
    """Cancel a reserved lesson in WeCom; it stays here, marked cancelled, with no verdicts."""
    _check_reserved(living, timezone.now())
    try:
        client.cancel_living(living.livingid)
    except WeComError as error:
        raise _wecom_refusal(error) from None
    living.status = Living.Status.CANCELLED
    living.status_changed_at = timezone.now()
    living.save(update_fields=["status", "status_changed_at"])
    attendance_changed(living.classes.values_list("pk", flat=True))
    return living


def lesson_is_reserved(living: Living, *, now: dt.datetime | None = None) -> bool:
    """Whether the lesson can still be changed or cancelled: WeCom has it reserved (or
    has not said otherwise) and its start is still ahead."""
    try:
        _check_reserved(living, now or timezone.now())
    except LessonError:
        return False
    return True


def lesson_host(user, living: Living) -> bool:
    """Whether the user is the lesson's host (WeCom's anchor)."""
    teacher = scope.teacher_for(user)
    return bool(
        teacher
        and living.anchor_userid
        and teacher.school_id == living.school_id
        and teacher.userid == living.anchor_userid
    )


def lesson_changeable(user, living: Living) -> bool:
    """Who may change, cancel or start a lesson: its host and the school's admins. A teacher
    who only sees it (the 班主任 of one class of a joint lesson, a subject teacher) may not."""
    return lesson_host(user, living) or scope.is_staff(user)


def lesson_startable(living: Living, *, now: dt.datetime | None = None) -> bool:
    """Whether the host can still start it from the phone: WeCom has not reported it started,
    ended or cancelled, and its planned end is ahead (a teacher may start a few minutes late)."""
    end = living.living_end
    return living.status in (None, Living.Status.RESERVED) and (
        end is None or end > (now or timezone.now())
    )
