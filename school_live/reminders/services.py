"""Sending a reminder: check the lesson is live, select the families, send one 学校通知, record.

``reminder_send`` is what the button, the command and the automatic reminder call. It holds a
lock per living (all its classes) in the shared cache around selection and sending, so two
presses at once, from the same class or from two classes of a joint lesson, cannot both pass the
10-minute rule, which is per parent and lesson (queries.py): a press that finds the lock taken
waits a few seconds for it, then selects what is left. Right before sending, who has joined is
read again (joined.py): families whose child has come in since the last sync are left out, and
the reminder counts them. The ``Reminder``, its students and its parents are stored before
WeCom is called: whatever WeCom answers, nothing is lost, and a failure is kept with its errcode
and the message for the admin. Only reminders WeCom accepted (or that may have gone out) count
for the 10-minute rule, so a refused one can be sent again at once.
"""

import dataclasses
import datetime as dt
import functools
import logging

from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from school_live.attendance.state import LivingState, living_state, started_q
from school_live.school.models import Department, Living
from school_live.wecom.client import WeComClient, school_client
from school_live.wecom.errors import ALL_RECIPIENTS_INVALID, WeComError, errcode_transient
from school_live.wecom.single_flight import lock_wait

from .joined import joined_now, stored_rows_fresh
from .models import ClassReminderSetting, Reminder, ReminderParent, ReminderStudent
from .queries import REMIND_AGAIN_AFTER, Selection, not_joined_families

logger = logging.getLogger(__name__)

LOCK_TIMEOUT = 120  # longer than a send can take; a crashed holder's lock expires
# How long a press waits for another send of the same lesson (another class's, say) to finish
# before it is refused; then it selects what is left, so both classes' families are reached.
LOCK_WAIT = 15.0
LOCK_POLL = 0.2
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
            "start": timezone.localtime(start, timezone.get_default_timezone()).strftime("%H:%M")
            if start
            else "",
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


def joined_text(count: int) -> str:
    """Why families the last sync listed were left out: WeCom, asked right before sending,
    showed their child in the lesson."""
    return ngettext(
        "%(count)d student had joined by the time of sending: their family was left out.",
        "%(count)d students had joined by the time of sending: their families were left out.",
        count,
    ) % {"count": count}


def _lock_key(living: Living) -> str:
    """One lock per living: the 10-minute rule spans all its classes."""
    return f"reminders:send:{living.pk}"


def _lock_take(key: str) -> bool:
    return lock_wait(cache, key, timeout=LOCK_TIMEOUT, wait=LOCK_WAIT, poll=LOCK_POLL)


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

    Raises ``ReminderRefused`` when the lesson is not live or another send for it stayed under
    way for ``LOCK_WAIT`` seconds; a WeCom failure is returned in the outcome (and stored), not
    raised, including a failure to read who has joined. IntegrityError: an automatic reminder
    for this lesson and class exists already."""
    if living_state(living, now=now or timezone.now()) != LivingState.LIVE:
        raise ReminderRefused(
            _("This live lesson is not live now: reminders go out only during it.")
        )
    key = _lock_key(living)
    if not _lock_take(key):
        raise ReminderRefused(
            _(
                "A reminder for this live lesson (from this class or another of its classes) is "
                "being sent right now. Try again in a moment."
            )
        )
    try:
        # Read after the lock: a send it waited for counts for the 10-minute rule.
        return _send_locked(client, living, department, sender, kind, now or timezone.now())
    finally:
        cache.delete(key)


def _store(
    *, living, department, sender, kind, now, text, selection: Selection, status
) -> Reminder:
    """The reminder as sent (or not) to the families of ``selection``, with its parents and
    students, in one transaction."""
    with transaction.atomic():
        reminder = Reminder.objects.create(
            school_id=living.school_id,
            living=living,
            department=department,
            kind=kind,
            status=status,
            sender=sender,
            sent_at=now,
            text=text,
            parent_userids=selection.parent_userids,
            joined_before_sending=selection.joined_before_sending,
        )
        ReminderParent.objects.bulk_create(
            ReminderParent(
                school_id=living.school_id, reminder=reminder, living=living, parent_userid=parent
            )
            for parent in selection.parent_userids
        )
        ReminderStudent.objects.bulk_create(
            ReminderStudent(
                school_id=living.school_id,
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
    # What every stored Reminder of this press shares; who sent it, for whom and how it went vary.
    store = functools.partial(
        _store, living=living, department=department, kind=kind, now=now, text=text
    )
    empty = Selection(families=(), recently_reminded=0, unreachable=0, outside_scope=0)
    try:
        selection = reminder_preview(client=client, living=living, department=department, now=now)
        if selection.families and not stored_rows_fresh(living, now):
            # Not on rows older than FRESH_FOR: a failure here sends nothing (see joined.py).
            selection = selection.without(
                joined_now(client=client, living=living, department=department)
            )
    except WeComError as error:
        reminder = store(sender=sender, selection=empty, status=Reminder.Status.FAILED)
        _failed(reminder, error)
        return ReminderOutcome(selection=empty, reminder=reminder, error=error)
    if not selection.families:
        reminder = None
        if kind == Reminder.Kind.AUTOMATIC:  # once per lesson, even when nobody needed it
            reminder = store(sender=None, selection=selection, status=Reminder.Status.EMPTY)
        return ReminderOutcome(selection=selection, reminder=reminder)
    reminder = store(sender=sender, selection=selection, status=Reminder.Status.SENDING)
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
    if error.errcode == ALL_RECIPIENTS_INVALID:
        reminder.invalid_parent_userids = list(reminder.parent_userids)
    reminder.save(update_fields=["status", "errcode", "error", "invalid_parent_userids"])


def auto_reminders_due(
    *, school, now: dt.datetime | None = None
) -> list[tuple[Living, Department]]:
    """The school's (living, class) pairs whose automatic reminder is due: the class switched it on, the
    lesson is live and started at least N minutes ago, and no automatic reminder went out for
    it yet (a failed one is tried again only when WeCom's error was transient)."""
    now = now or timezone.now()
    due = []
    settings_on = ClassReminderSetting.objects.filter(
        school=school, auto_after_minutes__isnull=False, department__is_active=True
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
    return errcode_transient(reminder.errcode)


def auto_reminders_send(*, school, client: WeComClient | None = None, now=None) -> list[Reminder]:
    """Send every automatic reminder of the school that is due (through ``client``, the
    school's); returns the reminders stored."""
    due = auto_reminders_due(school=school, now=now)
    if not due:
        return []
    stored = []
    with school_client(client) as client:
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
    return stored
