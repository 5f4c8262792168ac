"""Thin Celery tasks: they take ids or periods, load what they need and call ``dispatch``.

No retry on the tasks themselves: each delivery records its own failure, and the periodic check
tries a failed lesson report again (up to ``delivery.MAX_ATTEMPTS``); digests are resent by an admin.
"""

import logging

from celery import shared_task
from django.utils import timezone

from school_live.reports.dispatch import (
    admin_digests_send,
    living_report_send,
    living_reports_due,
    teacher_digest_send,
)
from school_live.reports.periods import previous_week_period, week_monday
from school_live.reports.weekly import weekly_teachers
from school_live.school.models import Living, Teacher
from school_live.school.tenancy import default_school

logger = logging.getLogger(__name__)


@shared_task
def check_living_reports() -> int:
    """Every 5 minutes: queue the report of each lesson whose statistics just became complete
    (the default school's, for now)."""
    school = default_school()
    due = living_reports_due(school=school)
    for livingid in due:
        send_living_report.delay(livingid, school.pk)
    return len(due)


@shared_task
def send_living_report(livingid: str, school_id: int | None = None) -> dict | None:
    """The report of the school's living (the default school's when no school is named)."""
    school_id = school_id or default_school().pk
    living = Living.objects.filter(school=school_id, livingid=livingid).first()
    if living is None or not living.stats_complete:
        return None
    summary = living_report_send(living=living)
    logger.info("lesson report %s: %s", livingid, summary)
    return vars(summary)


@shared_task
def send_weekly_teacher_digests(period: str | None = None) -> int:
    """Monday 08:00: one task per teacher, each claiming its own delivery."""
    period = _period(period)
    # The default school's teachers: their digests go through its client (the settings').
    teacher_ids = list(weekly_teachers(school=default_school()).values_list("pk", flat=True))
    for teacher_id in teacher_ids:
        send_teacher_digest.delay(teacher_id, period)
    return len(teacher_ids)


@shared_task
def send_teacher_digest(teacher_id: int, period: str) -> dict | None:
    teacher = Teacher.objects.filter(pk=teacher_id, is_active=True).first()
    if teacher is None:
        return None
    return vars(teacher_digest_send(teacher=teacher, period=period))


@shared_task
def send_weekly_admin_digests(period: str | None = None) -> dict:
    return vars(admin_digests_send(period=_period(period)))


def _period(period: str | None) -> str:
    if period is None:
        return previous_week_period(timezone.now())
    week_monday(period)  # a ValueError for a malformed period, before anything is sent
    return period
