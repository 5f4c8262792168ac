"""Lessons started from the teacher's phone (``ww.startLiving``, api.md §14.2): recorded at once
with their classes, and synced, so pages show them live before WeCom's callback or the sweep."""

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from school_live.lessons.services import LessonError, lesson_startable, living_record
from school_live.school.models import Department, Living, Teacher


def lesson_started(
    *, livingid: str, teacher: Teacher, classes: list[Department], theme: str, minutes: int = 45
) -> Living:
    """A lesson the teacher just started from the phone (ww.startLiving): record it with its
    classes and queue its sync at once."""
    from school_live.sync.triggers import living_sync_request

    if not livingid or len(livingid) > 128:
        raise LessonError(_("WeCom did not return a valid living id."))
    with transaction.atomic():
        living = living_record(
            livingid=livingid,
            theme=theme[:255],
            start=timezone.now(),
            minutes=minutes,
            anchor_userid=teacher.userid,
            classes=classes,
            status=Living.Status.LIVE,
        )
        living_sync_request(livingid=livingid)
    return living


def reserved_lesson_started(*, living: Living) -> bool:
    """The host just started this reserved lesson from the phone (``ww.startLiving`` answered
    with its livingId): mark it live from now, so pages show it at once, and queue its sync,
    which reads WeCom's own start time. The callback and the sweep would tell us too, later.
    Returns whether anything changed (a lesson already started, ended or cancelled is left)."""
    from school_live.sync.triggers import living_sync_request

    with transaction.atomic():
        living = Living.objects.select_for_update().get(pk=living.pk)
        now = timezone.now()
        if not lesson_startable(living, now=now):
            return False
        living.status = Living.Status.LIVE
        living.status_changed_at = now
        living.living_start = now
        living.save(update_fields=["status", "status_changed_at", "living_start"])
        living_sync_request(livingid=living.livingid)
    return True
