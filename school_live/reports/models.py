"""Who gets which scheduled report, and the record of every report sent.

A ``ReportDelivery`` row is the claim on one (report, period, recipient, channel): it is inserted
before anything is sent, so a retried task or a doubled beat finds the row and sends nothing.
"""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from school_live.school.models import Teacher
from school_live.school.models.fields import school_field


class ReportPreference(models.Model):
    """A teacher's choices. A teacher without a row gets the defaults below."""

    school = school_field()
    teacher = models.OneToOneField(
        Teacher,
        verbose_name=_("teacher"),
        on_delete=models.CASCADE,
        related_name="report_preference",
    )
    living_report = models.BooleanField(
        _("report after each live lesson"),
        default=True,
        help_text=_("Sent when a live lesson has ended and its statistics are complete."),
    )
    weekly_digest = models.BooleanField(
        _("weekly digest"), default=True, help_text=_("Sent on Monday morning.")
    )
    xlsx_attachment = models.BooleanField(
        _("attach the class table (Excel)"),
        default=False,
        help_text=_("The full class table as an .xlsx file with each lesson report."),
    )
    wecom_message = models.BooleanField(
        _("WeCom message after each live lesson"),
        default=True,
        help_text=_("A short card in WeCom with the numbers that matter and a link."),
    )
    email_override = models.EmailField(
        _("email address"),
        blank=True,
        help_text=_("Leave empty to use the address from WeCom."),
    )
    language = models.CharField(
        _("language"),
        max_length=10,
        choices=settings.LANGUAGES,
        default=settings.LANGUAGE_CODE,
    )
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("report preference")
        verbose_name_plural = _("report preferences")
        ordering = ["teacher__userid"]

    def __str__(self):
        return str(self.teacher)

    @property
    def address(self) -> str:
        """Where email goes: the teacher's own override, else the address WeCom gave."""
        return self.email_override or self.teacher.email

    @classmethod
    def for_teacher(cls, teacher: Teacher) -> "ReportPreference":
        """The saved preference, or an unsaved one holding the defaults."""
        try:
            return teacher.report_preference
        except cls.DoesNotExist:
            return cls(school_id=teacher.school_id, teacher=teacher)


class ReportDelivery(models.Model):
    class Report(models.TextChoices):
        LIVING = "living", _("lesson report")
        WEEKLY_TEACHER = "weekly_teacher", _("weekly digest for teachers")
        WEEKLY_ADMIN = "weekly_admin", _("weekly digest for admins")

    class Channel(models.TextChoices):
        EMAIL = "email", _("email")
        WECOM = "wecom", _("WeCom message")

    class Status(models.TextChoices):
        CLAIMED = "claimed", _("sending")
        SENT = "sent", _("sent")
        FAILED = "failed", _("failed")

    school = school_field()
    report = models.CharField(_("report"), max_length=20, choices=Report.choices)
    period = models.CharField(
        _("period"),
        max_length=128,
        help_text=_("The living id for a lesson report, the ISO week (2026-W07) for a digest."),
    )
    channel = models.CharField(_("channel"), max_length=10, choices=Channel.choices)
    recipient = models.CharField(
        _("recipient"),
        max_length=100,
        help_text=_("teacher:<WeCom userid> or user:<login id>; stable when an address changes."),
    )
    teacher = models.ForeignKey(
        Teacher,
        verbose_name=_("teacher"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="report_deliveries",
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("admin"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="report_deliveries",
    )
    address = models.CharField(
        _("sent to"), max_length=254, blank=True, help_text=_("Email address or WeCom userid.")
    )
    subject = models.CharField(_("subject"), max_length=255, blank=True)
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.CLAIMED
    )
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=1)
    error = models.TextField(_("error"), blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    claimed_at = models.DateTimeField(_("claimed at"))
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)

    class Meta:
        verbose_name = _("report delivery")
        verbose_name_plural = _("report deliveries")
        ordering = ["-created_at"]
        constraints = [
            # The period (a livingid) and the recipient (a userid) are WeCom's: per school.
            models.UniqueConstraint(
                fields=["school", "report", "period", "recipient", "channel"],
                name="unique_report_delivery",
            )
        ]
        indexes = [models.Index(fields=["status", "report"])]

    def __str__(self):
        return f"{self.get_report_display()} · {self.period} · {self.recipient}"
