"""The school's attendance policy and the record of every sync."""

import datetime as dt

from django.db import models
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from .fields import requested_by_field, school_field
from .livings import Living


class AttendancePolicy(models.Model):
    """A school's defaults for attendance verdicts; one row per school. Classes may override
    the threshold."""

    school = models.OneToOneField(
        "school.School",
        verbose_name=_("school"),
        on_delete=models.CASCADE,
        related_name="attendance_policy",
    )
    present_threshold = models.PositiveSmallIntegerField(
        _("present threshold (%)"),
        default=80,
        help_text=_("A student who watched at least this share of the living counts as present."),
    )
    late_grace_minutes = models.PositiveSmallIntegerField(_("late after (minutes)"), default=5)
    early_leave_grace_minutes = models.PositiveSmallIntegerField(
        _("left early if before the end by (minutes)"), default=5
    )
    # Every change of a threshold: who, when, before and after, and why (the audit trail).
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("attendance policy")
        verbose_name_plural = _("attendance policy")

    def __str__(self):
        return str(_("School attendance policy"))

    @classmethod
    def current(cls, school) -> "AttendancePolicy":
        """The school's policy (``school``: a School or its id), made with the defaults the
        first time it is asked for."""
        school_id = getattr(school, "pk", school)
        policy, _created = cls.objects.get_or_create(school_id=school_id)
        return policy


class SyncRun(models.Model):
    class Kind(models.TextChoices):
        SCHOOL = "school", _("full school")
        ROSTER = "roster", _("roster")
        DISCOVERY = "discovery", _("living discovery")
        LIVING = "living", _("living stats")
        SWEEP = "sweep", _("recent livings sweep")

    class Status(models.TextChoices):
        QUEUED = "queued", _("queued")
        RUNNING = "running", _("running")
        SUCCEEDED = "succeeded", _("succeeded")
        FAILED = "failed", _("failed")

    school = school_field()
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    living = models.ForeignKey(
        Living,
        verbose_name=_("living"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="sync_runs",
    )
    livingid = models.CharField(_("living id"), max_length=128, blank=True)
    status = models.CharField(
        _("status"), max_length=16, choices=Status.choices, default=Status.QUEUED
    )
    task_id = models.CharField(_("task id"), max_length=64, blank=True)
    requested_by = requested_by_field()
    created_at = models.DateTimeField(_("queued at"), auto_now_add=True)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    # Refreshed while the run works (pages fetched, waits, the store): a running run whose
    # heartbeat is older than SYNC_DEAD_AFTER lost its worker (sync/liveness.py).
    heartbeat_at = models.DateTimeField(_("last sign of life"), null=True, blank=True)
    pages = models.PositiveIntegerField(_("pages"), default=0)
    rows = models.PositiveIntegerField(_("rows"), default=0)
    error = models.TextField(_("error"), blank=True)
    # Lets the sweep tell a living WeCom will never serve (another app's living) from a failure worth retrying.
    errcode = models.IntegerField(
        _("WeCom errcode"),
        null=True,
        blank=True,
        help_text=_("The WeCom error code the run failed with, if it failed on a WeCom error."),
    )

    class Meta:
        verbose_name = _("sync run")
        verbose_name_plural = _("sync runs")
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["status", "started_at"]),
            models.Index(fields=["kind", "-created_at"]),
        ]

    def __str__(self):
        target = self.livingid or self.get_kind_display()
        return f"{target} · {self.get_status_display()}"

    @property
    def duration(self) -> dt.timedelta | None:
        if self.started_at and self.finished_at:
            return self.finished_at - self.started_at
        return None
