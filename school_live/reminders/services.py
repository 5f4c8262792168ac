"""Sending a reminder: check the lesson is live, select the families, send one 学校通知, record.

``reminder_send`` is what the button, the command and the automatic reminder call. It holds a
lock per (living, class) in the shared cache around selection and sending, so two presses at
once cannot both pass the 10-minute rule. The ``Reminder`` and its students are stored before
WeCom is called: whatever WeCom answers, nothing is lost, and a failure is kept with its errcode
and the message for the admin. Only reminders WeCom accepted (or that may have gone out) count
for the 10-minute rule, so a refused one can be sent again at once.
"""

import dataclasses
import datetime as dt
import logging

from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from school_live.attendance.state import LivingState, living_state, started_q
from school_live.school.models import Department, Living
from school_live.wecom.client import WeComClient
from school_live.wecom.errors import HTTP_ERROR, NETWORK_ERROR, TRANSIENT_ERRCODES, WeComError

from .models import ClassReminderSetting, Reminder, ReminderStudent
from .queries import REMIND_AGAIN_AFTER, Selection, not_joined_families

logger = logging.getLogger(__name__)

LOCK_TIMEOUT = 120  # longer than a send can take; a crashed holder's lock expires
SCHOOL_TZ = dt.timezone(dt.timedelta(hours=8), "Asia/Shanghai")
# WeCom drops the same body sent again within this many seconds (a retry, a double press that
# slipped past the lock), but not a deliberate reminder after the 10 minutes.
DUPLICATE_CHECK_SECONDS = int(REMIND_AGAIN_AFTER.total_seconds()) - 60


class ReminderRefused(Exception):
    """Nothing was sent, for a reason the person asking can read (not live, busy)."""


@dataclasses.dataclass(frozen=True)
class ReminderOutcome:
    selection: Selection
    reminder: Reminder | None  # None: nobody to remind, nothing stored
    error: WeComError | None = None

    @property
    def sent(self) -> bool:
        return self.reminder is not None and self.reminder.status == Reminder.Status.SENT


def _plain(text: str) -> str:
    # A 学校通知 text keeps <a href> links: a theme from WeCom must not become one.
    return text.replace("<", "＜").replace(">", "＞").strip()


def reminder_text(*, living: Living, department: Department) -> str:
    """What the families read, in the school's language whoever presses the button."""
    start = living.living_start
    with translation.override(settings.LANGUAGE_CODE):
        return _(
            "【%(class)s】The live lesson “%(theme)s” started at %(start)s and your child has "
            "not joined yet. To join, open 学校通知 in WeChat and tap the lesson (or open the "
            "lesson link from the class group)."
        ) % {
            "class": _plain(department.name),
            "theme": _plain(living.theme or living.livingid),
            "start": timezone.localtime(start, SCHOOL_TZ).strftime("%H:%M") if start else "",
        }


def reminder_preview(
    *, client: WeComClient, living: Living, department: Department, now: dt.datetime | None = None
) -> Selection:
    """The families a press now would remind (reads the allow scope from WeCom)."""
    return not_joined_families(
        living=living, department=department, allow_scope=client.get_allow_scope(), now=now
    )


def families_count(reminder: Reminder) -> tuple[int, int]:
    """(families reached, families WeCom refused): a family is refused when every parent it was
    sent to is in WeCom's invalid list."""
    invalid = set(reminder.invalid_parent_userids)
    reached = refused = 0
    for parents in reminder.students.values_list("parent_userids", flat=True):
        if parents and all(parent in invalid for parent in parents):
            refused += 1
        else:
            reached += 1
    return reached, refused


def _lock_key(living: Living, department: Department) -> str:
    return f"reminders:send:{living.pk}:{department.pk}"


def reminder_send(
    *,
    client: WeComClient,
    living: Living,
    department: Department,
    sender=None,
    kind: str = Reminder.Kind.MANUAL,
    now: dt.datetime | None = None,
) -> ReminderOutcome:
    """Remind the families of the class's students who have not joined the live lesson.

    Raises ``ReminderRefused`` when the lesson is not live or another send for it is under way;
    a WeCom failure is returned in the outcome (and stored), not raised. IntegrityError: an
    automatic reminder for this lesson and class exists already."""
    now = now or timezone.now()
    if living_state(living, now=now) != LivingState.LIVE:
        raise ReminderRefused(
            _("This live lesson is not live now: reminders go out only during it.")
        )
    key = _lock_key(living, department)
    if not cache.add(key, 1, timeout=LOCK_TIMEOUT):
        raise ReminderRefused(_("A reminder for this class is being sent right now."))
    try:
        return _send_locked(client, living, department, sender, kind, now)
    finally:
        cache.delete(key)


def _store(living, department, sender, kind, now, text, selection, status) -> Reminder:
    with transaction.atomic():
        reminder = Reminder.objects.create(
            living=living,
            department=department,
            kind=kind,
            status=status,
            sender=sender,
            sent_at=now,
            text=text,
            parent_userids=selection.parent_userids,
        )
        ReminderStudent.objects.bulk_create(
            ReminderStudent(
                reminder=reminder,
                living=living,
                student_userid=family.student_userid,
                name=family.name,
                parent_userids=list(family.parent_userids),
            )
            for family in selection.families
        )
    return reminder


def _send_locked(client, living, department, sender, kind, now) -> ReminderOutcome:
    text = reminder_text(living=living, department=department)
    empty = Selection(families=(), recently_reminded=0, unreachable=0, outside_scope=0)
    try:
        selection = reminder_preview(client=client, living=living, department=department, now=now)
    except WeComError as error:
        reminder = _store(
            living, department, sender, kind, now, text, empty, Reminder.Status.FAILED
        )
        _failed(reminder, error)
        return ReminderOutcome(selection=empty, reminder=reminder, error=error)
    if not selection.families:
        reminder = None
        if kind == Reminder.Kind.AUTOMATIC:  # once per lesson, even when nobody needed it
            reminder = _store(
                living, department, None, kind, now, text, selection, Reminder.Status.EMPTY
            )
        return ReminderOutcome(selection=selection, reminder=reminder)
    reminder = _store(
        living, department, sender, kind, now, text, selection, Reminder.Status.SENDING
    )
    try:
        result = client.send_school_notice(
            parent_userids=selection.parent_userids,
            text=text,
            duplicate_check_interval=DUPLICATE_CHECK_SECONDS,
        )
    except WeComError as error:
        _failed(reminder, error)
        return ReminderOutcome(selection=selection, reminder=reminder, error=error)
    reminder.status = Reminder.Status.SENT
    reminder.invalid_parent_userids = list(result.invalid_parent_userid)
    reminder.invalid_student_userids = list(result.invalid_student_userid)
    reminder.invalid_parties = list(result.invalid_party)
    reminder.save(
        update_fields=[
            "status",
            "invalid_parent_userids",
            "invalid_student_userids",
            "invalid_parties",
        ]
    )
    return ReminderOutcome(selection=selection, reminder=reminder)


def _failed(reminder: Reminder, error: WeComError) -> None:
    logger.info("reminder %s failed: WeCom errcode %s", reminder.pk, error.errcode)
    reminder.status = Reminder.Status.FAILED
    reminder.errcode = error.errcode
    reminder.error = str(error)
    if error.errcode == 81013:  # every recipient invalid
        reminder.invalid_parent_userids = list(reminder.parent_userids)
    reminder.save(update_fields=["status", "errcode", "error", "invalid_parent_userids"])


def auto_reminders_due(*, now: dt.datetime | None = None) -> list[tuple[Living, Department]]:
    """(living, class) pairs whose automatic reminder is due: the class switched it on, the
    lesson is live and started at least N minutes ago, and no automatic reminder went out for
    it yet (a failed one is tried again only when WeCom's error was transient)."""
    now = now or timezone.now()
    due = []
    settings_on = ClassReminderSetting.objects.filter(
        auto_after_minutes__isnull=False, department__is_active=True
    ).select_related("department")
    for setting in settings_on:
        livings = Living.objects.filter(
            started_q(now=now),
            classes=setting.department,
            living_start__lte=now - dt.timedelta(minutes=setting.auto_after_minutes),
            living_start__gte=now - dt.timedelta(days=1),
        )
        for living in livings:
            if living_state(living, now=now) != LivingState.LIVE:
                continue
            done = Reminder.objects.filter(
                living=living, department=setting.department, kind=Reminder.Kind.AUTOMATIC
            )
            retry = done.filter(status=Reminder.Status.FAILED)
            if done.exclude(status=Reminder.Status.FAILED).exists():
                continue
            if retry.exists() and not _transient(retry.order_by("-sent_at").first()):
                continue
            due.append((living, setting.department))
    return due


def _transient(reminder: Reminder) -> bool:
    return reminder.errcode in {*TRANSIENT_ERRCODES, NETWORK_ERROR, HTTP_ERROR}


def auto_reminders_send(*, client: WeComClient | None = None, now=None) -> list[Reminder]:
    """Send every automatic reminder that is due; returns the reminders stored."""
    due = auto_reminders_due(now=now)
    if not due:
        return []
    own = client is None
    client = client or WeComClient.from_settings()
    stored = []
    try:
        for living, department in due:
            try:
                outcome = reminder_send(
                    client=client,
                    living=living,
                    department=department,
                    kind=Reminder.Kind.AUTOMATIC,
                    now=now,
                )
            except (ReminderRefused, IntegrityError) as refused:
                logger.info("automatic reminder for %s skipped: %s", living.livingid, refused)
                continue
            if outcome.reminder is not None:
                stored.append(outcome.reminder)
    finally:
        if own:
            client.close()
    return stored
