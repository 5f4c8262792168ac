"""Claim, send and record one report delivery, at most once per (report, period, recipient, channel).

The claim is an INSERT committed in its own transaction before anything leaves the building: a
second worker (a retried task, a doubled beat, a re-run command) hits the unique constraint and
sends nothing. A failed delivery may be claimed again, by a conditional UPDATE that only one
claimer can win: automatically up to ``MAX_ATTEMPTS``, or by an admin's "resend".

A row left ``claimed`` by a worker that died mid-send is not retried automatically (the message
may have gone out); after ``stale_claim()`` an admin can resend it.
"""

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from school_live.reports.models import ReportDelivery
from school_live.school.models import Teacher
from school_live.wecom.errors import WeComError
from school_live.wecom.redact import redact

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 3
ERROR_MAX_CHARS = 2000
# SMTP and socket errors are OSError subclasses (smtplib.SMTPException too).
EXPECTED_FAILURES = (OSError, WeComError)


def stale_claim() -> dt.timedelta:
    """Longer than the hard task time limit, so a claim this old belongs to a worker that is
    gone."""
    return dt.timedelta(seconds=getattr(settings, "CELERY_TASK_TIME_LIMIT", 660) + 240)


class DeliverySkipped(Exception):
    """Nothing can be sent to this recipient (no address): recorded as a failure an admin can fix."""


@dataclass(frozen=True)
class DeliveryKey:
    report: str
    period: str
    channel: str
    recipient: str

    @classmethod
    def of(cls, delivery: ReportDelivery) -> "DeliveryKey":
        return cls(delivery.report, delivery.period, delivery.channel, delivery.recipient)


def teacher_recipient(teacher: Teacher) -> str:
    return f"teacher:{teacher.userid}"


def user_recipient(user: AbstractBaseUser) -> str:
    return f"user:{user.pk}"


def delivery_claim(
    *,
    key: DeliveryKey,
    school,
    teacher: Teacher | None = None,
    user: AbstractBaseUser | None = None,
    retry_failed: bool = False,
    force: bool = False,
) -> ReportDelivery | None:
    """The claimed delivery row of ``school`` (its livingids and userids are the school's), or
    None when another worker has it or it was already sent.

    ``retry_failed`` takes over a failed row that has attempts left; ``force`` takes over any row
    that is not being sent right now (a support re-send).
    """
    now = timezone.now()
    try:
        # durable: the claim must be committed before sending, never folded into a caller's
        # transaction where other workers could not see it.
        with transaction.atomic(durable=True):
            return ReportDelivery.objects.create(
                school=school,
                report=key.report,
                period=key.period,
                channel=key.channel,
                recipient=key.recipient,
                teacher=teacher,
                user=user,
                status=ReportDelivery.Status.CLAIMED,
                attempts=1,
                claimed_at=now,
            )
    except IntegrityError:
        pass
    if not (retry_failed or force):
        return None
    rows = ReportDelivery.objects.filter(
        school=school,
        report=key.report,
        period=key.period,
        channel=key.channel,
        recipient=key.recipient,
    )
    if force:
        takeable = Q(status__in=[ReportDelivery.Status.SENT, ReportDelivery.Status.FAILED]) | Q(
            status=ReportDelivery.Status.CLAIMED, claimed_at__lt=now - stale_claim()
        )
    else:
        takeable = Q(status=ReportDelivery.Status.FAILED, attempts__lt=MAX_ATTEMPTS)
    taken = rows.filter(takeable).update(
        status=ReportDelivery.Status.CLAIMED,
        attempts=F("attempts") + 1,
        claimed_at=now,
        error="",
    )
    if taken != 1:
        return None
    return rows.get()


def delivery_reclaim(*, delivery: ReportDelivery) -> ReportDelivery | None:
    """An admin's resend: take over this row unless a worker is sending it right now."""
    return delivery_claim(key=DeliveryKey.of(delivery), school=delivery.school, force=True)


def delivery_run(
    *, delivery: ReportDelivery, send: Callable[[], tuple[str, str]]
) -> ReportDelivery:
    """Call ``send`` (which returns the address and subject it used) and record the outcome.

    Failures are recorded on the row, not raised: one unreachable teacher must not stop the
    others, and the row is what an admin sees and resends.
    """
    try:
        address, subject = send()
    except SoftTimeLimitExceeded:
        _record_failure(delivery, "the task ran out of time before this report was sent")
        raise
    except DeliverySkipped as exc:
        _record_failure(delivery, str(exc))
    except EXPECTED_FAILURES as exc:
        # The outside world said no (SMTP refused, WeCom errcode): one line, no traceback.
        logger.warning("report delivery %s failed: %s", delivery.pk, type(exc).__name__)
        _record_failure(delivery, f"{type(exc).__name__}: {exc}")
    except Exception as exc:
        logger.exception("report delivery %s failed unexpectedly", delivery.pk)
        _record_failure(delivery, f"{type(exc).__name__}: {exc}")
    else:
        delivery.status = ReportDelivery.Status.SENT
        delivery.sent_at = timezone.now()
        delivery.error = ""
        delivery.address = address[:254]
        delivery.subject = subject[:255]
        delivery.save(update_fields=["status", "sent_at", "error", "address", "subject"])
    return delivery


def _record_failure(delivery: ReportDelivery, message: str) -> None:
    delivery.status = ReportDelivery.Status.FAILED
    # An unexpected exception's text may carry a URL with a token: the admin reads this row.
    delivery.error = redact(message)[:ERROR_MAX_CHARS]
    delivery.save(update_fields=["status", "error"])


def email_send(*, message: EmailMultiAlternatives) -> None:
    """Send through the configured backend; SMTP waits at most EMAIL_TIMEOUT seconds."""
    connection = get_connection(fail_silently=False, timeout=getattr(settings, "EMAIL_TIMEOUT", 30))
    message.connection = connection
    message.send(fail_silently=False)
