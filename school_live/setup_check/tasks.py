"""The daily WeCom set-up check (sync/schedule.py): one task per active school, so one school's
slow or unreachable WeCom does not hold up another's check."""

import logging

from celery import shared_task
from django.conf import settings

from school_live.school.models import School

from .models import SetupCheck
from .schools import default_school
from .services import setup_check_run

logger = logging.getLogger(__name__)


@shared_task(name="setup_check.check_schools")
def check_schools() -> int:
    """Queue the check of every active school; the number queued."""
    if settings.WECOM_CORP_ID:
        default_school()  # a deployment whose migrate step has not made it yet
    school_ids = list(School.objects.active().values_list("pk", flat=True))
    for school_id in school_ids:
        check_school.delay(school_id)
    return len(school_ids)


@shared_task(name="setup_check.check_school")
def check_school(school_id: int) -> bool | None:
    """Check one school; whether everything passed (None: the school is gone)."""
    school = School.objects.filter(pk=school_id).first()
    if school is None:
        return None
    return setup_check_run(school=school, trigger=SetupCheck.Trigger.SCHEDULE).ok
