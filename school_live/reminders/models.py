"""Reminders to the families of students who have not joined a live lesson (学校通知).

A ``Reminder`` is one press of the button (or one automatic send) for one class of one living:
its text, the parents it went to, WeCom's invalid lists, or the error that stopped it. One
``ReminderStudent`` per student it was for, one ``ReminderParent`` per parent it went to: "at
most one notice per parent (and per student) per lesson within 10 minutes, from whichever class"
is read from these rows (only reminders WeCom accepted, or that may have gone out, count), while
a lock per living held around selection and sending keeps two presses, from any of its classes,
from both passing that check.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from school_live.school.models import Department, Living
from school_live.school.models.fields import school_field


class ClassReminderSetting(models.Model):
    school = school_field()
    department = models.OneToOneField(
        Department,
        verbose_name=_("class"),
        on_delete=models.CASCADE,
        related_name="reminder_setting",
        limit_choices_to={"type": Department.Type.CLASS},
    )
    auto_after_minutes = models.PositiveSmallIntegerField(
        _("automatic reminder (minutes after the start)"),
        null=True,
        blank=True,
        help_text=_(
            "Remind the families of students who have not joined this many minutes after a live "
            "lesson of the class starts, once per lesson. Leave empty for no automatic reminder."
        ),
    )

    class Meta:
        verbose_name = _("automatic reminder of a class")
        verbose_name_plural = _("automatic reminders of classes")
        ordering = ["department_id"]

    def __str__(self):
        return str(self.department)


class Reminder(models.Model):
    class Kind(models.TextChoices):
        MANUAL = "manual", _("by a teacher")
        AUTOMATIC = "automatic", _("automatic")

    class Status(models.TextChoices):
        SENDING = "sending", _("sending")
        SENT = "sent", _("sent")
        FAILED = "failed", _("failed")
        # Translators: an automatic reminder found no family to remind
        EMPTY = "empty", _("nobody to remind")

    school = school_field()
    living = models.ForeignKey(
        Living, verbose_name=_("live lesson"), on_delete=models.CASCADE, related_name="reminders"
    )
    department = models.ForeignKey(
        Department, verbose_name=_("class"), on_delete=models.CASCADE, related_name="reminders"
    )
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.SENDING
    )
    sender = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("sent by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text=_("Empty for an automatic reminder."),
    )
    sent_at = models.DateTimeField(_("sent at"))
    text = models.TextField(_("text"))
    parent_userids = models.JSONField(_("parents"), default=list)
    invalid_parent_userids = models.JSONField(_("invalid parents"), default=list)
    invalid_student_userids = models.JSONField(_("invalid students"), default=list)
    invalid_parties = models.JSONField(_("invalid classes"), default=list)
    errcode = models.IntegerField(_("WeCom errcode"), null=True, blank=True)
    error = models.TextField(_("error"), blank=True)
    joined_before_sending = models.PositiveIntegerField(
        _("joined by the time of sending"),
        default=0,
        help_text=_(
            "Students the last sync had as not joined whom WeCom's newest rows, read right "
            "before sending, showed in the lesson: their families were left out."
        ),
    )

    class Meta:
        verbose_name = _("reminder")
        verbose_name_plural = _("reminders")
        ordering = ["-sent_at", "-pk"]
        constraints = [
            # An automatic reminder goes out once per lesson and class; a failed one may be
            # tried again (see services.auto_reminders_send).
            models.UniqueConstraint(
                fields=["living", "department"],
                condition=Q(kind="automatic") & ~Q(status="failed"),
                name="one_automatic_reminder_per_living_class",
            )
        ]
        indexes = [models.Index(fields=["living", "department", "sent_at"])]

    def __str__(self):
        return f"{self.living} · {self.department} · {self.sent_at:%Y-%m-%d %H:%M}"


class ReminderStudent(models.Model):
    """A student whose family a reminder was for, with the parents it went to."""

    school = school_field()
    reminder = models.ForeignKey(
        Reminder, verbose_name=_("reminder"), on_delete=models.CASCADE, related_name="students"
    )
    living = models.ForeignKey(
        Living, verbose_name=_("live lesson"), on_delete=models.CASCADE, related_name="+"
    )
    student_userid = models.CharField(_("WeCom student userid"), max_length=64)
    name = models.CharField(_("name"), max_length=100, blank=True)
    parent_userids = models.JSONField(_("parents"), default=list)

    class Meta:
        verbose_name = _("reminded student")
        verbose_name_plural = _("reminded students")
        ordering = ["reminder", "name", "student_userid"]
        constraints = [
            models.UniqueConstraint(
                fields=["reminder", "student_userid"], name="unique_reminder_student"
            )
        ]
        indexes = [models.Index(fields=["living", "student_userid"])]

    def __str__(self):
        return f"{self.student_userid} ← {self.reminder_id}"


class ReminderParent(models.Model):
    """A parent a reminder went to: the 10-minute rule asks, per parent and lesson, whether a
    notice reached them lately (a JSON list cannot be searched alike on SQLite and PostgreSQL)."""

    school = school_field()
    reminder = models.ForeignKey(
        Reminder, verbose_name=_("reminder"), on_delete=models.CASCADE, related_name="parents"
    )
    living = models.ForeignKey(
        Living, verbose_name=_("live lesson"), on_delete=models.CASCADE, related_name="+"
    )
    parent_userid = models.CharField(_("WeCom parent userid"), max_length=64)

    class Meta:
        verbose_name = _("reminded parent")
        verbose_name_plural = _("reminded parents")
        ordering = ["reminder", "parent_userid"]
        constraints = [
            models.UniqueConstraint(
                fields=["reminder", "parent_userid"], name="unique_reminder_parent"
            )
        ]
        indexes = [models.Index(fields=["living", "parent_userid"])]

    def __str__(self):
        return f"{self.parent_userid} ← {self.reminder_id}"
