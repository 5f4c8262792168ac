"""What the lesson and class pages need to show a lesson's WeCom side and to start one from the
phone: the JS-SDK to load, the teacher's WeCom userid (for the sandbox's stand-in ``ww``; harmless
in WeCom), the lesson's WeCom status, and the JSON the living page polls."""

import dataclasses

from django.conf import settings
from django.templatetags.static import static
from django.utils import timezone

from school_live.attendance import scope, state
from school_live.lessons.services import (
    lesson_changeable,
    lesson_host,
    lesson_is_reserved,
    lesson_startable,
)
from school_live.school.models import Living

VENDORED_JSSDK = "vendor/wecom-jssdk/wecom.global.prod.js"


def jssdk_context(user) -> dict:
    """The SDK is the vendored official file unless ``WECOM_JSSDK_URL`` names another (the
    sandbox's stand-in in the demo and the tests): the page code is the same either way."""
    teacher = scope.teacher_for(user)
    return {
        "jssdk_url": settings.WECOM_JSSDK_URL or static(VENDORED_JSSDK),
        "wecom_userid": teacher.userid if teacher else "",
    }


@dataclasses.dataclass(frozen=True)
class LessonSide:
    """The lesson as WeCom and school_live's scheduling see it, for one viewer."""

    wecom_status: int | None
    wecom_status_label: str
    reserved: bool  # WeCom still has it reserved
    can_change: bool  # reserved, and the viewer may edit and cancel it (host, admins)
    can_start: bool  # the viewer hosts it and WeCom has not started it
    is_host: bool
    planned: list  # names of the classes it was scheduled for, when they differ from the range
    in_range: list  # names of the classes (and groups) WeCom's range names


def lesson_side(user, living: Living) -> LessonSide:
    now = timezone.now()
    is_host = lesson_host(user, living)
    planned, in_range = [], []
    # Only those who see every class of the lesson (its host, staff) are told other classes' names.
    if is_host or scope.is_staff(user):
        planned_classes = list(living.planned_classes.all())
        range_classes = list(living.classes.all())
        if planned_classes and {d.pk for d in planned_classes} != {d.pk for d in range_classes}:
            planned = [d.name for d in planned_classes]
            in_range = [d.name for d in range_classes] + list(living.range_group_names or [])
    status = living.status
    reserved = lesson_is_reserved(living, now=now)
    # "Reserved" is what our creation was told; WeCom's school living info carries no status, so
    # once the clock has the lesson started (live or over) that word is stale and says nothing.
    stale = status == Living.Status.RESERVED and (
        state.living_state(living, now=now) != state.LivingState.UPCOMING
    )
    return LessonSide(
        wecom_status=status,
        wecom_status_label=str(Living.Status(status).label)
        if status is not None and not stale
        else "",
        reserved=reserved,
        can_change=reserved and lesson_changeable(user, living),
        can_start=is_host and lesson_startable(living, now=now),
        is_host=is_host,
        planned=planned,
        in_range=in_range,
    )


def state_payload(living: Living) -> dict:
    """``{state, display, status, synced_at}``: what the living page polls to notice a change."""
    status = state.living_status(living)
    return {
        "state": status.state.value,
        "display": status.display.value,
        "status": living.status,
        "synced_at": living.stats_synced_at.isoformat() if living.stats_synced_at else None,
    }
