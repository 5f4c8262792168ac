"""Lessons scheduled through school_live: what a teacher asked for, and each weekly occurrence.

WeCom lets an app read only the livings it created, so school_live creates them (living/create).
A repeat is stored as one ``LessonSeries`` and one ``LessonOccurrence`` per week, each with a key
that is written *before* WeCom is called: a retry after a failure half-way finds the occurrences
already there, reconciles those whose create may have reached WeCom, and creates only the rest.
"""

from django.db import models
from django.utils.translation import gettext_lazy as _

from school_live.school.models import Department, Living, Teacher
from school_live.school.models.fields import requested_by_field, school_field


class LessonSeries(models.Model):
    class Type(models.IntegerChoices):
        # living/create's numbering (doc 93637)
        BIG_CLASS = 2, _("大班课")
        SMALL_CLASS = 1, _("小班课")

    class Source(models.TextChoices):
        WEB = "web", _("web page")
        COMMAND = "command", _("schedule_living command")
        TIMETABLE = "timetable", _("timetable import")
        ADMIN = "admin", _("admin")

    school = school_field()
    teacher = models.ForeignKey(
        Teacher, verbose_name=_("teacher"), on_delete=models.PROTECT, related_name="lesson_series"
    )
    theme = models.CharField(_("theme"), max_length=20)
    classes = models.ManyToManyField(Department, verbose_name=_("classes"), related_name="+")
    first_start = models.DateTimeField(_("first start"))
    minutes = models.PositiveSmallIntegerField(_("minutes"))
    weeks = models.PositiveSmallIntegerField(_("weeks"), default=1)
    living_type = models.PositiveSmallIntegerField(
        _("type"), choices=Type.choices, default=Type.BIG_CLASS
    )
    remind_minutes = models.PositiveSmallIntegerField(_("remind (minutes before)"), default=0)
    source = models.CharField(_("source"), max_length=16, choices=Source.choices)
    requested_by = requested_by_field()
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("lesson series")
        verbose_name_plural = _("lesson series")
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.theme} ({self.teacher})"


class LessonOccurrence(models.Model):
    class State(models.TextChoices):
        PENDING = "pending", _("waiting for WeCom")
        CREATED = "created", _("created in WeCom")
        FAILED = "failed", _("failed")

    school = school_field()
    series = models.ForeignKey(
        LessonSeries, verbose_name=_("series"), on_delete=models.CASCADE, related_name="occurrences"
    )
    index = models.PositiveSmallIntegerField(_("week"))
    # Made of the teacher's userid (services.occurrence_key): unique within the school.
    key = models.CharField(_("key"), max_length=64)
    start = models.DateTimeField(_("start"))
    state = models.CharField(
        _("state"), max_length=16, choices=State.choices, default=State.PENDING
    )
    living = models.OneToOneField(
        Living,
        verbose_name=_("living"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="occurrence",
    )
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    attempted_at = models.DateTimeField(_("last attempt"), null=True, blank=True)
    error = models.TextField(_("error"), blank=True)

    class Meta:
        verbose_name = _("lesson occurrence")
        verbose_name_plural = _("lesson occurrences")
        ordering = ["start"]
        constraints = [
            models.UniqueConstraint(fields=["series", "index"], name="unique_occurrence_week"),
            models.UniqueConstraint(fields=["school", "key"], name="unique_occurrence_key"),
        ]

    def __str__(self):
        return f"{self.series.theme} · {self.start:%Y-%m-%d %H:%M}"


class LessonStartReport(models.Model):
    """A teacher's phone said it started a class lesson (``ww.startLiving``). Nothing the browser
    sends is a WeCom fact: the report becomes a lesson only once WeCom's get_living_info confirms
    that the living exists, this app may read it, this teacher hosts it and it has not ended.
    While WeCom cannot be asked the report waits, and is no lesson; a refused one is kept, with
    the reason, for the admin."""

    class State(models.TextChoices):
        WAITING = "waiting", _("waiting for WeCom")
        CONFIRMED = "confirmed", _("confirmed by WeCom")
        REFUSED = "refused", _("refused")

    school = school_field()
    livingid = models.CharField(_("living id"), max_length=128)
    teacher = models.ForeignKey(
        Teacher, verbose_name=_("teacher"), on_delete=models.CASCADE, related_name="+"
    )
    department = models.ForeignKey(
        Department, verbose_name=_("class"), on_delete=models.CASCADE, related_name="+"
    )
    theme = models.CharField(_("theme (as the phone sent it)"), max_length=255, blank=True)
    reported_at = models.DateTimeField(_("reported at"), auto_now_add=True)
    state = models.CharField(
        _("state"), max_length=16, choices=State.choices, default=State.WAITING
    )
    reason = models.TextField(_("reason"), blank=True)
    attempts = models.PositiveSmallIntegerField(_("times WeCom was asked"), default=0)
    checked_at = models.DateTimeField(_("last asked"), null=True, blank=True)

    class Meta:
        verbose_name = _("lesson start report")
        verbose_name_plural = _("lesson start reports")
        ordering = ["-reported_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["school", "livingid", "teacher"], name="unique_start_report_per_teacher"
            )
        ]

    def __str__(self):
        return f"{self.livingid} ({self.get_state_display()})"
