"""Thin tasks of the install flow: they take ids and call the services.

- ``install.suite_event``: one stored command event. WeCom's transient errors (busy, limits,
  network) are retried after 5, 10, 20, 40, 80 s: an AuthCode lives 10 minutes.
- ``install.purge_uninstalled``: daily (sync/schedule.py), the schools uninstalled more than
  SCHOOL_PURGE_AFTER_DAYS ago.
"""

from celery import shared_task

from school_live.wecom.errors import WeComTransientError

from .events import suite_event_give_up, suite_event_process
from .lifecycle import schools_purge_due

RETRY_BASE = 5


@shared_task(bind=True, name="install.suite_event", acks_late=True, max_retries=5)
def suite_event_task(self, event_id: int) -> str | None:
    try:
        row = suite_event_process(event_id=event_id)
    except WeComTransientError as error:
        if self.request.retries >= self.max_retries:
            suite_event_give_up(event_id=event_id, error=error)
            raise
        countdown = max(RETRY_BASE * 2**self.request.retries, error.retry_after or 0)
        raise self.retry(exc=error, countdown=countdown) from None
    return row.status if row is not None else None


@shared_task(name="install.purge_uninstalled", acks_late=True)
def purge_uninstalled_task() -> list[int]:
    return schools_purge_due()
