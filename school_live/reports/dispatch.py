"""Send the reports: find recipients, claim each delivery, build the message, record the outcome.

Every delivery goes through ``delivery_claim`` first, so running any of these twice sends nothing
the second time. Messages are built inside the send step, after the claim, so a report that is
already sent costs no queries.
"""

import contextlib
import datetime as dt
import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models import Q
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from school_live.reports.attachments import class_table_attachment
from school_live.reports.delivery import (
    MAX_ATTEMPTS,
    DeliveryKey,
    DeliverySkipped,
    delivery_claim,
    delivery_reclaim,
    delivery_run,
    email_send,
    teacher_recipient,
    user_recipient,
)
from school_live.reports.emails import email_message, email_render
from school_live.reports.links import home_url
from school_live.reports.living import (
    ClassSection,
    living_email_context,
    living_recipients,
    living_report_build,
    teacher_living_classes,
)
from school_live.reports.models import ReportDelivery, ReportPreference
from school_live.reports.periods import week_bounds, week_monday
from school_live.reports.textcards import living_textcard, weekly_textcard
from school_live.reports.weekly import (
    admin_digest_build,
    admin_digest_context,
    teacher_digest_build,
    teacher_digest_context,
    teacher_week_has_livings,
)
from school_live.school.models import Department, Living, Teacher
from school_live.school.tenancy import user_school

logger = logging.getLogger(__name__)

Report = ReportDelivery.Report
Channel = ReportDelivery.Channel
Status = ReportDelivery.Status


def living_lookback() -> dt.timedelta:
    """How long after a lesson the periodic check still looks for a report to send."""
    return dt.timedelta(hours=getattr(settings, "REPORTS_LIVING_LOOKBACK_HOURS", 48))


@dataclass
class SendSummary:
    sent: int = 0
    failed: int = 0
    already: int = 0  # claimed or sent before: nothing sent this time
    opted_out: int = 0

    def add(self, delivery: ReportDelivery | None) -> None:
        if delivery is None:
            self.already += 1
        elif delivery.status == Status.SENT:
            self.sent += 1
        else:
            self.failed += 1


class LazyWeComClient:
    """The school's client for a run, made on first use: no WeCom setting is read unless a card
    is sent."""

    def __init__(self, school):
        self._school = school
        self._client = None
        self._opened = contextlib.ExitStack()

    def get(self):
        if self._client is None:
            from school_live.wecom.client import school_client

            self._client = self._opened.enter_context(school_client(school=self._school))
        return self._client

    def close(self) -> None:
        self._opened.close()


def wecom_messages_enabled() -> bool:
    return getattr(settings, "WECOM_AGENT_ID", None) not in (None, "")


def _claim_deliver(
    summary: SendSummary,
    key: DeliveryKey,
    deliver: Callable[..., ReportDelivery],
    *,
    force: bool,
    **recipient,
) -> None:
    """Claim the delivery (``recipient``: its ``teacher`` or ``user``, whose school it is), send
    it through ``deliver(delivery=...)`` unless another run has it, and count the outcome."""
    teacher = recipient.get("teacher")
    school = teacher.school if teacher is not None else user_school(recipient.get("user"))
    delivery = delivery_claim(key=key, school=school, retry_failed=True, force=force, **recipient)
    if delivery is not None:
        deliver(delivery=delivery)
    summary.add(delivery)


def _teacher_address(*, teacher: Teacher, preference: ReportPreference) -> str:
    """Where the teacher's email goes; with no address the delivery is skipped, saying why."""
    address = preference.address
    if not address:
        raise DeliverySkipped(
            _("%(teacher)s has no email address: add one in WeCom or in their preferences.")
            % {"teacher": teacher}
        )
    return address


def _classes_required(*, teacher: Teacher, departments: list[Department]) -> None:
    """A lesson report goes to a teacher of its classes only (they may have changed since)."""
    if not departments:
        raise DeliverySkipped(
            _("%(teacher)s no longer teaches a class of this living.") % {"teacher": teacher}
        )


def _reached_required(*, teacher: Teacher, invalid) -> None:
    """WeCom accepted the message but could not deliver it to the teacher."""
    if teacher.userid.lower() in {user.lower() for user in invalid}:
        raise DeliverySkipped(
            _("WeCom does not know the userid %(userid)s or the app cannot reach it.")
            % {"userid": teacher.userid}
        )


# Per-living report ---------------------------------------------------------------------------


def living_reports_due(*, school, now: dt.datetime | None = None) -> list[str]:
    """The school's living ids whose report should be (re)tried: complete, recent, and not yet
    fully handled.

    Not handled yet means no delivery row at all, or a failed one with attempts left. A living
    with no recipient is looked at again on each check until it leaves the look-back window.
    """
    now = now or timezone.now()
    recent = Living.objects.filter(
        school=school,
        stats_complete=True,
        living_start__gte=now - living_lookback(),
        living_start__lte=now,
    )
    handled = ReportDelivery.objects.filter(school=school, report=Report.LIVING).values("period")
    retry = ReportDelivery.objects.filter(
        school=school, report=Report.LIVING, status=Status.FAILED, attempts__lt=MAX_ATTEMPTS
    ).values("period")
    return list(
        recent.filter(~Q(livingid__in=handled) | Q(livingid__in=retry))
        .order_by("living_start")
        .values_list("livingid", flat=True)
    )


def living_report_send(*, living: Living, force: bool = False) -> SendSummary:
    """Send the lesson report to every teacher of its classes, by email and WeCom card."""
    summary = SendSummary()
    sections: dict[int, ClassSection] = {}
    wecom = LazyWeComClient(living.school)
    try:
        for teacher, departments in living_recipients(living=living):
            preference = ReportPreference.for_teacher(teacher)
            channels = []
            if preference.living_report:
                channels.append((Channel.EMAIL, living_email_deliver))
            else:
                summary.opted_out += 1
            if wecom_messages_enabled() and preference.wecom_message:
                channels.append(
                    (Channel.WECOM, functools.partial(living_wecom_deliver, wecom=wecom))
                )
            for channel, channel_deliver in channels:
                key = DeliveryKey(
                    Report.LIVING, living.livingid, channel, teacher_recipient(teacher)
                )
                deliver = functools.partial(
                    channel_deliver,
                    living=living,
                    teacher=teacher,
                    departments=departments,
                    sections=sections,
                )
                _claim_deliver(summary, key, deliver, force=force, teacher=teacher)
    finally:
        wecom.close()
    return summary


def living_email_deliver(
    *,
    delivery: ReportDelivery,
    living: Living,
    teacher: Teacher,
    departments: list[Department],
    sections: dict[int, ClassSection] | None = None,
) -> ReportDelivery:
    preference = ReportPreference.for_teacher(teacher)

    def send() -> tuple[str, str]:
        address = _teacher_address(teacher=teacher, preference=preference)
        _classes_required(teacher=teacher, departments=departments)
        report = living_report_build(living=living, departments=departments, sections=sections)
        rendered = email_render(
            report="living",
            context=living_email_context(report=report, teacher=teacher),
            language=preference.language,
        )
        attachments = ()
        if preference.xlsx_attachment:
            with translation.override(preference.language):
                attachments = (class_table_attachment(living=living, departments=departments),)
        email_send(message=email_message(rendered=rendered, to=address, attachments=attachments))
        return address, rendered.subject

    return delivery_run(delivery=delivery, send=send)


def living_wecom_deliver(
    *,
    delivery: ReportDelivery,
    living: Living,
    teacher: Teacher,
    departments: list[Department],
    wecom: LazyWeComClient,
    sections: dict[int, ClassSection] | None = None,
) -> ReportDelivery:
    preference = ReportPreference.for_teacher(teacher)

    def send() -> tuple[str, str]:
        _classes_required(teacher=teacher, departments=departments)
        report = living_report_build(living=living, departments=departments, sections=sections)
        body = living_textcard(report=report, language=preference.language)
        result = wecom.get().send_message(touser=[teacher.userid], msgtype="textcard", body=body)
        _reached_required(teacher=teacher, invalid=result.invaliduser)
        return teacher.userid, body["textcard"]["title"]

    return delivery_run(delivery=delivery, send=send)


# Weekly digests ------------------------------------------------------------------------------


def teacher_digest_send(*, teacher: Teacher, period: str, force: bool = False) -> SendSummary:
    """One teacher's weekly digest; nothing when they had no lesson that week or opted out."""
    summary = SendSummary()
    preference = ReportPreference.for_teacher(teacher)
    if not preference.weekly_digest:
        summary.opted_out += 1
        return summary
    start, end = week_bounds(period)
    if not teacher_week_has_livings(teacher=teacher, start=start, end=end):
        return summary
    channels = [(Channel.EMAIL, teacher_digest_deliver)]
    wecom = LazyWeComClient(teacher.school)
    # The lesson reports' WeCom preference covers the weekly card too.
    if wecom_messages_enabled() and preference.wecom_message:
        channels.append(
            (Channel.WECOM, functools.partial(teacher_digest_wecom_deliver, wecom=wecom))
        )
    try:
        for channel, channel_deliver in channels:
            key = DeliveryKey(Report.WEEKLY_TEACHER, period, channel, teacher_recipient(teacher))
            deliver = functools.partial(channel_deliver, teacher=teacher, period=period)
            _claim_deliver(summary, key, deliver, force=force, teacher=teacher)
    finally:
        wecom.close()
    return summary


def teacher_digest_deliver(
    *, delivery: ReportDelivery, teacher: Teacher, period: str
) -> ReportDelivery:
    preference = ReportPreference.for_teacher(teacher)

    def send() -> tuple[str, str]:
        address = _teacher_address(teacher=teacher, preference=preference)
        start, end = week_bounds(period)
        digest = teacher_digest_build(teacher=teacher, start=start, end=end)
        rendered = email_render(
            report="weekly",
            context=teacher_digest_context(digest=digest, teacher=teacher, period=period),
            language=preference.language,
        )
        email_send(message=email_message(rendered=rendered, to=address))
        return address, rendered.subject

    return delivery_run(delivery=delivery, send=send)


def teacher_digest_wecom_deliver(
    *, delivery: ReportDelivery, teacher: Teacher, period: str, wecom: LazyWeComClient
) -> ReportDelivery:
    preference = ReportPreference.for_teacher(teacher)

    def send() -> tuple[str, str]:
        start, end = week_bounds(period)
        monday = week_monday(period)
        body = weekly_textcard(
            digest=teacher_digest_build(teacher=teacher, start=start, end=end),
            monday=monday,
            sunday=monday + dt.timedelta(days=6),
            language=preference.language,
            fallback_url=home_url(),
        )
        result = wecom.get().send_message(touser=[teacher.userid], msgtype="textcard", body=body)
        _reached_required(teacher=teacher, invalid=result.invaliduser)
        return teacher.userid, body["textcard"]["title"]

    return delivery_run(delivery=delivery, send=send)


def admin_digests_send(*, period: str, force: bool = False) -> SendSummary:
    """The school-wide digest, per grade, to every active staff user with an email address."""
    summary = SendSummary()
    admins = (
        get_user_model()
        .objects.filter(is_active=True, is_staff=True)
        .exclude(email="")
        .order_by("pk")
    )
    for user in admins:
        key = DeliveryKey(Report.WEEKLY_ADMIN, period, Channel.EMAIL, user_recipient(user))
        deliver = functools.partial(admin_digest_deliver, user=user, period=period)
        _claim_deliver(summary, key, deliver, force=force, user=user)
    return summary


def admin_digest_deliver(*, delivery: ReportDelivery, user, period: str) -> ReportDelivery:
    def send() -> tuple[str, str]:
        if not user.email:
            raise DeliverySkipped(_("This admin has no email address."))
        start, end = week_bounds(period)
        digest = admin_digest_build(start=start, end=end)
        rendered = email_render(
            report="weekly_admin",
            context=admin_digest_context(digest=digest, user=user, period=period),
        )
        email_send(message=email_message(rendered=rendered, to=user.email))
        return user.email, rendered.subject

    return delivery_run(delivery=delivery, send=send)


# Resend --------------------------------------------------------------------------------------


def delivery_resend(*, delivery: ReportDelivery) -> ReportDelivery | None:
    """An admin's resend of one row; None when a worker is sending it right now."""
    claimed = delivery_reclaim(delivery=delivery)
    if claimed is None:
        return None
    if claimed.report == Report.LIVING:
        living = Living.objects.filter(school=claimed.school_id, livingid=claimed.period).first()
        teacher = claimed.teacher
        if living is None or teacher is None:
            return delivery_run(delivery=claimed, send=_gone)
        departments = teacher_living_classes(living=living, teacher=teacher)
        if claimed.channel == Channel.WECOM:
            wecom = LazyWeComClient(claimed.school)
            try:
                return living_wecom_deliver(
                    delivery=claimed,
                    living=living,
                    teacher=teacher,
                    departments=departments,
                    wecom=wecom,
                )
            finally:
                wecom.close()
        return living_email_deliver(
            delivery=claimed, living=living, teacher=teacher, departments=departments
        )
    if claimed.report == Report.WEEKLY_TEACHER:
        if claimed.teacher is None:
            return delivery_run(delivery=claimed, send=_gone)
        if claimed.channel == Channel.WECOM:
            wecom = LazyWeComClient(claimed.school)
            try:
                return teacher_digest_wecom_deliver(
                    delivery=claimed, teacher=claimed.teacher, period=claimed.period, wecom=wecom
                )
            finally:
                wecom.close()
        return teacher_digest_deliver(
            delivery=claimed, teacher=claimed.teacher, period=claimed.period
        )
    if claimed.user is None:
        return delivery_run(delivery=claimed, send=_gone)
    return admin_digest_deliver(delivery=claimed, user=claimed.user, period=claimed.period)


def _gone() -> tuple[str, str]:
    raise DeliverySkipped(_("The living or the recipient of this report no longer exists."))
