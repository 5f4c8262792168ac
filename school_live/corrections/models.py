"""Corrections a teacher or an admin writes over what WeCom reported: 请假 excused absences and
the nickname book (which WeChat visitor is which student's family).

Nothing here is deleted: a correction is reversed (``revoked_at``), and django-simple-history
keeps every version with who changed it, when and why (``history_change_reason``). The read side
(``school_live.attendance``) reads the active ones; WeCom's own rows are never touched.
"""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from school_live.school.models import Department, Living, Student
from school_live.school.models.fields import school_field


class RevocableQuerySet(models.QuerySet):
    def active(self):
        return self.filter(revoked_at__isnull=True)


class RevocableCorrection(models.Model):
    """A correction that is never deleted, only revoked, and keeps every version of itself: who
    wrote it and when, who revoked it and when (``services.record_revoke``), and, through
    django-simple-history, who changed what and why. A concrete correction inherits the abstract
    model ``revocable_correction()`` makes, with these fields in its own words."""

    objects = RevocableQuerySet.as_manager()

    class Meta:
        abstract = True

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


def revocable_correction(*, created_by_label, created_at_label, revoked_at_label, revoked_by_label):
    """The abstract ``RevocableCorrection`` with its audit fields and its history, each field
    labelled as one kind of correction says it (an excuse is "marked" and "revoked", a nickname
    claim "claimed" and "removed")."""

    class AuditedCorrection(RevocableCorrection):
        school = school_field()
        created_by = models.ForeignKey(
            settings.AUTH_USER_MODEL,
            verbose_name=created_by_label,
            null=True,
            blank=True,
            on_delete=models.SET_NULL,
            related_name="+",
        )
        created_at = models.DateTimeField(created_at_label, auto_now_add=True)
        revoked_at = models.DateTimeField(revoked_at_label, null=True, blank=True)
        revoked_by = models.ForeignKey(
            settings.AUTH_USER_MODEL,
            verbose_name=revoked_by_label,
            null=True,
            blank=True,
            on_delete=models.SET_NULL,
            related_name="+",
        )
        history = HistoricalRecords(inherit=True)

        class Meta:
            abstract = True

    return AuditedCorrection


class Excuse(
    revocable_correction(
        created_by_label=_("marked by"),
        created_at_label=_("marked at"),
        revoked_at_label=_("revoked at"),
        revoked_by_label=_("revoked by"),
    )
):
    """A student excused (请假) for one living, or for every living starting on the days from
    ``start_date`` to ``end_date`` (inclusive, Beijing dates)."""

    class Kind(models.TextChoices):
        # Translators: 病假
        SICK = "sick", _("sick leave")
        # Translators: 事假
        PERSONAL = "personal", _("personal leave")
        # Translators: another reason, written out in the free text
        OTHER = "other", _("other reason")

    student = models.ForeignKey(
        Student, verbose_name=_("student"), on_delete=models.PROTECT, related_name="excuses"
    )
    living = models.ForeignKey(
        Living,
        verbose_name=_("live lesson"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="excuses",
    )
    start_date = models.DateField(_("from (date)"), null=True, blank=True)
    end_date = models.DateField(_("to (date)"), null=True, blank=True)
    kind = models.CharField(_("reason"), max_length=10, choices=Kind.choices)
    reason = models.CharField(_("details"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("excused absence")
        verbose_name_plural = _("excused absences")
        ordering = ["-created_at", "-pk"]
        constraints = [
            # One lesson, or a date range: never both, never neither.
            models.CheckConstraint(
                condition=(
                    Q(living__isnull=False, start_date__isnull=True, end_date__isnull=True)
                    | Q(
                        living__isnull=True,
                        start_date__isnull=False,
                        end_date__isnull=False,
                        start_date__lte=models.F("end_date"),
                    )
                ),
                name="excuse_living_or_dates",
            )
        ]
        indexes = [models.Index(fields=["student", "revoked_at"])]

    def __str__(self):
        return f"{self.student} · {self.period_label}"

    @property
    def period_label(self) -> str:
        if self.living_id is not None:
            return str(self.living)
        if self.start_date == self.end_date:
            return self.start_date.isoformat()
        return f"{self.start_date.isoformat()} – {self.end_date.isoformat()}"

    @property
    def reason_label(self) -> str:
        label = str(self.get_kind_display())
        return f"{label}: {self.reason}" if self.reason else label


class NicknameClaim(
    revocable_correction(
        created_by_label=_("claimed by"),
        created_at_label=_("claimed at"),
        revoked_at_label=_("removed at"),
        revoked_by_label=_("removed by"),
    )
):
    """The nickname book: a teacher says that the WeChat visitor with this exact nickname is the
    family of a student of their class. From then on that nickname's visits to the class's
    lessons, past and future, count for the student when they have no watch of their own.

    WeCom's visitor rows stay as they were sent; this table only says whose they are. A nickname
    has at most one active claim per class (another class may claim the same nickname)."""

    department = models.ForeignKey(
        Department,
        verbose_name=_("class"),
        on_delete=models.PROTECT,
        related_name="nickname_claims",
    )
    nickname = models.TextField(_("WeChat nickname"))
    student = models.ForeignKey(
        Student,
        verbose_name=_("student"),
        on_delete=models.PROTECT,
        related_name="nickname_claims",
    )
    reason = models.CharField(_("details"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("WeChat nickname claim")
        verbose_name_plural = _("WeChat nickname book")
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["department", "nickname"],
                condition=Q(revoked_at__isnull=True),
                name="unique_active_nickname_claim",
            )
        ]
        indexes = [models.Index(fields=["student", "revoked_at"])]

    def __str__(self):
        return f"{self.nickname} → {self.student}"

    def clean(self):
        # The admin's check; the teachers' form goes through corrections.nicknames.
        if (
            self.department_id
            and self.student_id
            and not self.department.enrollments.filter(student_id=self.student_id).exists()
        ):
            raise ValidationError({"student": _("Choose a student of this class.")})
