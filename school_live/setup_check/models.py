"""The WeCom set-up check's records: each run's lines per school, what the school's WeCom last
showed to work (sign-in, callbacks) and what its admins were last told, and the domain
verification files the site serves at its root."""

import re

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _

from school_live.school.models import School
from school_live.wecom.setup_probes import ProbeLine

# What WeCom's console offers for 可信域名 (api.md §20.4): WW_verify_ and 16 letters or digits.
DOMAIN_FILE_NAME = re.compile(r"WW_verify_[A-Za-z0-9]{16}\.txt")
DOMAIN_FILE_MAX_CHARS = 512


class SetupCheck(models.Model):
    """One run of the check for one school: its lines as the probes left them."""

    class Trigger(models.TextChoices):
        SCHEDULE = "schedule", _("daily schedule")
        ADMIN = "admin", _("admin, on demand")
        COMMAND = "command", _("wecom_check command")

    school = models.ForeignKey(
        School, verbose_name=_("school"), on_delete=models.CASCADE, related_name="+"
    )
    started_at = models.DateTimeField(_("started at"))
    finished_at = models.DateTimeField(_("finished at"))
    trigger = models.CharField(_("run by"), max_length=12, choices=Trigger.choices)
    triggered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("started by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    ok = models.BooleanField(_("all passed"))
    # The failed lines (key:errcode or key:reason), sorted: what "a change of result" compares.
    outcome = models.CharField(_("failures"), max_length=500, blank=True)
    lines = models.JSONField(_("lines"), default=list)

    class Meta:
        verbose_name = _("WeCom connection check")
        verbose_name_plural = _("WeCom connection check")
        ordering = ["-finished_at", "-pk"]
        indexes = [models.Index(fields=["school", "-finished_at"])]

    def __str__(self):
        return f"{self.school} · {self.finished_at:%Y-%m-%d %H:%M}"

    def probe_lines(self) -> list[ProbeLine]:
        return [ProbeLine.from_json(line) for line in self.lines]


class SchoolWeComState(models.Model):
    """Per school: when WeCom last showed the unprobeable parts to work, the last check, and
    the outcome its admins were last told of (one message per change, not per run)."""

    school = models.OneToOneField(
        School,
        verbose_name=_("school"),
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="+",
    )
    last_sign_in_at = models.DateTimeField(_("last WeCom sign-in"), null=True, blank=True)
    last_callback_at = models.DateTimeField(_("last callback received"), null=True, blank=True)
    last_check = models.ForeignKey(
        SetupCheck,
        verbose_name=_("last check"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    notified_outcome = models.CharField(_("outcome last told"), max_length=500, blank=True)
    notified_at = models.DateTimeField(_("told at"), null=True, blank=True)

    class Meta:
        verbose_name = _("WeCom state of a school")
        verbose_name_plural = _("WeCom state of schools")

    def __str__(self):
        return str(self.school)


def domain_file_name_validate(value: str) -> None:
    if not DOMAIN_FILE_NAME.fullmatch(value or ""):
        raise ValidationError(
            _(
                "Enter the file name exactly as WeCom's console shows it: WW_verify_, 16 letters "
                "or digits, then .txt (e.g. WW_verify_DDzKZAh4svwfgX39.txt)."
            )
        )


def domain_file_content_validate(value: str) -> None:
    if not value or any(ord(char) < 32 and char not in "\r\n\t" for char in value):
        raise ValidationError(
            _("Enter the file's content as WeCom gives it: text, without control characters.")
        )


class DomainVerificationFile(models.Model):
    """A WW_verify_….txt file WeCom fetches from the site's root to verify a 可信域名."""

    school = models.ForeignKey(
        School, verbose_name=_("school"), on_delete=models.CASCADE, related_name="+"
    )
    name = models.CharField(
        _("file name"), max_length=64, unique=True, validators=[domain_file_name_validate]
    )
    content = models.TextField(
        _("content"),
        max_length=DOMAIN_FILE_MAX_CHARS,
        validators=[domain_file_content_validate],
        help_text=_("Served exactly as entered, as text/plain."),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("changed at"), auto_now=True)

    class Meta:
        verbose_name = _("WeCom domain verification file")
        verbose_name_plural = _("WeCom domain verification files")
        ordering = ["name"]

    def __str__(self):
        return self.name
