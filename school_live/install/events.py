"""Command events: stored once when they arrive, then worked on once by a task.

``suite_event_receive`` (the view) stores an event under its natural key — the AuthCode for
create_auth and reset_permanent_code, the corp and WeCom's timestamp for change_auth and
cancel_auth — so the same event again is the same row, and queues its task on commit.

``suite_event_process`` (the task) claims the row (a claim older than ``CLAIM_TIMEOUT`` is taken
over: its worker died), runs the kind's service and records how it went. A transient WeCom error
gives the row back and is raised for the task to retry; any other error fails the row with a
message that says what to do. A finished row is never worked on again.
"""

import datetime as dt
import hashlib
import logging

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from school_live.wecom.errors import WeComError
from school_live.wecom.suite_callback import CommandEvent

from .installs import permanent_code_apply
from .lifecycle import authorization_refresh, school_cancel
from .models import SuiteEvent
from .suite import EventFailed, EventIgnored, SuiteNotConfigured

logger = logging.getLogger(__name__)

CLAIM_TIMEOUT = dt.timedelta(minutes=5)


def dedupe_key(event: CommandEvent) -> str:
    natural = event.auth_code or f"{event.auth_corp_id}\n{event.timestamp}"
    digest = hashlib.sha256(f"{event.suite_id}\n{natural}".encode()).hexdigest()[:48]
    return f"{event.info_type}:{digest}"


def suite_event_receive(event: CommandEvent) -> tuple[SuiteEvent, bool]:
    """Store the event (or find it stored); queue its task when it is new."""
    from .tasks import suite_event_task

    with transaction.atomic():
        row, created = SuiteEvent.objects.get_or_create(
            dedupe_key=dedupe_key(event),
            defaults={
                "kind": event.info_type,
                "suite_id": event.suite_id,
                "auth_code": event.auth_code,
                "auth_corp_id": event.auth_corp_id,
                "state": event.state,
                "wecom_timestamp": event.timestamp,
            },
        )
        if created:
            suite_event_task.delay_on_commit(row.pk)
    return row, created


def _claim(event_id: int) -> SuiteEvent | None:
    now = timezone.now()
    claimable = Q(status=SuiteEvent.Status.RECEIVED) | Q(
        status=SuiteEvent.Status.WORKING, claimed_at__lt=now - CLAIM_TIMEOUT
    )
    claimed = SuiteEvent.objects.filter(claimable, pk=event_id).update(
        status=SuiteEvent.Status.WORKING, claimed_at=now
    )
    return SuiteEvent.objects.filter(pk=event_id).first() if claimed else None


def _finish(row: SuiteEvent, status: str, error: str = "") -> None:
    row.status = status
    row.error = error[:2000]
    row.processed_at = timezone.now()
    if status == SuiteEvent.Status.DONE:
        row.auth_code = ""  # spent: nothing to keep
    row.save(update_fields=["status", "error", "processed_at", "auth_code", "school"])


def suite_event_process(*, event_id: int) -> SuiteEvent | None:
    """Work on one stored event; None when it is gone, finished or claimed by another worker."""
    row = _claim(event_id)
    if row is None:
        logger.info("suite event %s: gone, finished or being worked on", event_id)
        return None
    service = {
        SuiteEvent.Kind.CREATE_AUTH: permanent_code_apply,
        SuiteEvent.Kind.RESET_PERMANENT_CODE: permanent_code_apply,
        SuiteEvent.Kind.CHANGE_AUTH: authorization_refresh,
        SuiteEvent.Kind.CANCEL_AUTH: school_cancel,
    }[row.kind]
    try:
        service(row)
    except EventIgnored as reason:
        logger.info("suite event %s (%s) ignored: %s", row.pk, row.kind, reason)
        _finish(row, SuiteEvent.Status.IGNORED, str(reason))
    except WeComError as error:
        if error.transient:
            SuiteEvent.objects.filter(pk=row.pk).update(
                status=SuiteEvent.Status.RECEIVED, error=str(error)[:2000]
            )
            raise
        logger.warning("suite event %s (%s) failed: %s", row.pk, row.kind, error)
        _finish(row, SuiteEvent.Status.FAILED, str(error))
    except (SuiteNotConfigured, EventFailed) as error:
        _finish(row, SuiteEvent.Status.FAILED, str(error))
    except Exception:
        _finish(row, SuiteEvent.Status.FAILED, "an internal error: see the worker's log")
        raise
    else:
        _finish(row, SuiteEvent.Status.DONE)
    return row


def suite_event_give_up(*, event_id: int, error: Exception) -> None:
    """The task's last retry failed too: the event fails, saying why (WeCom stayed busy)."""
    row = SuiteEvent.objects.filter(pk=event_id, status=SuiteEvent.Status.RECEIVED).first()
    if row is not None:
        _finish(row, SuiteEvent.Status.FAILED, f"{error} — given up after the task's retries.")
