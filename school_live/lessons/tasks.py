"""Thin Celery tasks of the lessons app (policy as in sync/tasks.py)."""

import logging

from celery import shared_task

from school_live.lessons.models import LessonStartReport
from school_live.lessons.starts import start_report_confirm, start_report_give_up
from school_live.sync.patience import wait_scale
from school_live.wecom.client import school_client

logger = logging.getLogger(__name__)

RETRY_SECONDS = 30


# Retried while WeCom cannot be asked: after 30 s, then twice as long each time (past WeCom's
# minute-long rate-limit block), at most 5 times (about a quarter of an hour in all). Then the
# report is refused with the reason: a lesson WeCom has still appears with the next sync of the
# teacher's lessons.
@shared_task(bind=True, name="lessons.confirm_start", acks_late=True, max_retries=5)
def start_report_confirm_task(self, report_id: int) -> str | None:
    """Ask WeCom whether a lesson the phone reported as started is this teacher's and live."""
    report = (
        LessonStartReport.objects.select_related("teacher", "department")
        .filter(pk=report_id, state=LessonStartReport.State.WAITING)
        .first()
    )
    if report is None:
        logger.info("start report %s is gone or decided; nothing to do", report_id)
        return None
    with school_client(school=report.school) as client:
        report = start_report_confirm(client=client, report=report)
    if report.state != LessonStartReport.State.WAITING:
        return report.state
    if self.request.retries >= self.max_retries:
        start_report_give_up(report=report)
        return report.state
    raise self.retry(countdown=RETRY_SECONDS * 2**self.request.retries * wait_scale())
