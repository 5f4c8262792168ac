"""What the 代开发 flow keeps: the newest suite_ticket, each command event WeCom sent, the install
links operators made, each school's authorisation as WeCom last described it, and the audit
lines that outlive a purged school.

Secrets (the ticket, an AuthCode) are encrypted at rest like a school's secret; the school's
secret itself, the ``permanent_code``, is ``School.secret``.
"""

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from school_live.school.models import School
from school_live.school.models.encrypted import EncryptedTextField


class SuiteTicket(models.Model):
    """The newest suite_ticket WeCom pushed (every 10 minutes, valid 30): the suite token is
    fetched with it."""

    suite_id = models.CharField(_("suite id"), max_length=64, unique=True)
    ticket = EncryptedTextField(_("suite ticket"))
    pushed_at = models.DateTimeField(_("pushed at (WeCom's time)"))
    received_at = models.DateTimeField(_("received at"), auto_now=True)

    class Meta:
        verbose_name = _("suite ticket")
        verbose_name_plural = _("suite tickets")

    def __str__(self):
        return self.suite_id


class SuiteEvent(models.Model):
    """One command event (create_auth, change_auth, cancel_auth, reset_permanent_code): stored
    when it arrives, worked on by a task. ``dedupe_key`` makes a repeated one (the same AuthCode
    twice, WeCom's retries) the same row."""

    class Kind(models.TextChoices):
        CREATE_AUTH = "create_auth", _("installed (create_auth)")
        CHANGE_AUTH = "change_auth", _("authorisation changed (change_auth)")
        CANCEL_AUTH = "cancel_auth", _("uninstalled (cancel_auth)")
        RESET_PERMANENT_CODE = "reset_permanent_code", _("secret reset (reset_permanent_code)")

    class Status(models.TextChoices):
        RECEIVED = "received", _("received")
        WORKING = "working", _("being worked on")
        DONE = "done", _("done")
        FAILED = "failed", _("failed")
        IGNORED = "ignored", _("ignored")

    kind = models.CharField(_("kind"), max_length=24, choices=Kind.choices)
    suite_id = models.CharField(_("suite id"), max_length=64)
    dedupe_key = models.CharField(_("dedupe key"), max_length=100, unique=True)
    auth_code = EncryptedTextField(_("AuthCode"), blank=True)  # emptied once used
    auth_corp_id = models.CharField(_("corp id"), max_length=64, blank=True)
    state = models.CharField(_("state"), max_length=32, blank=True)
    wecom_timestamp = models.PositiveBigIntegerField(_("WeCom's timestamp"))
    received_at = models.DateTimeField(_("received at"), auto_now_add=True)
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.RECEIVED
    )
    claimed_at = models.DateTimeField(_("worked on since"), null=True, blank=True)
    processed_at = models.DateTimeField(_("processed at"), null=True, blank=True)
    error = models.TextField(_("error"), blank=True)
    school = models.ForeignKey(
        School,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="suite_events",
        verbose_name=_("school"),
    )

    class Meta:
        verbose_name = _("WeCom install event")
        verbose_name_plural = _("WeCom install events")
        ordering = ["-received_at", "-pk"]

    def __str__(self):
        return f"{self.get_kind_display()} · {self.received_at:%Y-%m-%d %H:%M}"


class InstallLink(models.Model):
    """An install QR an operator made for a pending school: WeCom echoes ``state`` when the
    school's admin scans it."""

    school = models.ForeignKey(
        School, on_delete=models.CASCADE, related_name="install_links", verbose_name=_("school")
    )
    state = models.CharField(_("state"), max_length=32, unique=True)
    qrcode_url = models.CharField(_("install link"), max_length=2000)
    expires_at = models.DateTimeField(_("expires at"))
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("made by"),
    )
    created_at = models.DateTimeField(_("made at"), auto_now_add=True)
    used_at = models.DateTimeField(_("scanned at"), null=True, blank=True)

    class Meta:
        verbose_name = _("install link")
        verbose_name_plural = _("install links")
        ordering = ["-created_at", "-pk"]

    def __str__(self):
        return str(self.school)

    @property
    def expired(self) -> bool:
        return self.expires_at <= timezone.now()


class SchoolAuthorization(models.Model):
    """The school's authorisation of the 代开发 app, as WeCom last described it."""

    class PublishStatus(models.IntegerChoices):
        # agent/get's customized_publish_status (api.md §18.9)
        UNDEVELOPED = 0, _("waiting for development (待开发)")
        DEVELOPING = 1, _("in development (开发中)")
        LIVE = 2, _("live (已上线)")
        PENDING_VERSION = 3, _("a version not yet live (存在未上线版本)")

    school = models.OneToOneField(
        School,
        on_delete=models.CASCADE,
        related_name="suite_authorization",
        verbose_name=_("school"),
    )
    suite_id = models.CharField(_("suite id"), max_length=64)
    corp_name = models.CharField(_("name in WeCom"), max_length=200, blank=True)
    corp_full_name = models.CharField(_("full name in WeCom"), max_length=200, blank=True)
    agent_name = models.CharField(_("app name"), max_length=200, blank=True)
    # level, allow_party, allow_user, allow_tag: the app's 可见范围 (api.md §18.7)
    privilege = models.JSONField(_("visible range"), default=dict, blank=True)
    admin_userid = models.CharField(_("admin who installed"), max_length=64, blank=True)
    admin_name = models.CharField(_("admin's name"), max_length=100, blank=True)
    publish_status = models.SmallIntegerField(
        _("publication"), choices=PublishStatus.choices, null=True, blank=True
    )
    installed_at = models.DateTimeField(_("installed at"))  # WeCom's time of create_auth
    refreshed_at = models.DateTimeField(_("read from WeCom at"))
    cancelled_at = models.DateTimeField(_("uninstalled at"), null=True, blank=True)
    welcome_sent_at = models.DateTimeField(_("welcome message sent at"), null=True, blank=True)
    welcome_error = models.TextField(_("welcome message error"), blank=True)

    class Meta:
        verbose_name = _("WeCom authorisation")
        verbose_name_plural = _("WeCom authorisations")

    def __str__(self):
        return str(self.school)


class SchoolAudit(models.Model):
    """One line of a school's story, kept after the school and its data are purged (no foreign
    key: only the school's id, corp id and name are copied)."""

    class Event(models.TextChoices):
        LINK_MADE = "link_made", _("install link made")
        INSTALLED = "installed", _("installed")
        REINSTALLED = "reinstalled", _("installed again")
        REAUTHORISED = "reauthorised", _("authorisation changed")
        UNINSTALLED = "uninstalled", _("uninstalled")
        SECRET_RESET = "secret_reset", _("secret reset")
        EXPORTED = "exported", _("data exported")
        PURGED = "purged", _("data purged")

    school_pk = models.PositiveBigIntegerField(_("school id"))
    corp_id = models.CharField(_("WeCom corp id"), max_length=64, blank=True)
    school_name = models.CharField(_("school"), max_length=200)
    event = models.CharField(_("event"), max_length=16, choices=Event.choices)
    detail = models.TextField(_("detail"), blank=True)
    by = models.CharField(_("by"), max_length=150, blank=True)
    at = models.DateTimeField(_("at"), default=timezone.now)

    class Meta:
        verbose_name = _("school audit line")
        verbose_name_plural = _("school audit lines")
        ordering = ["-at", "-pk"]

    def __str__(self):
        return f"{self.school_name} · {self.get_event_display()}"


def audit(school: School, event: str, *, detail: str = "", by: str = "") -> SchoolAudit:
    return SchoolAudit.objects.create(
        school_pk=school.pk,
        corp_id=school.corp_id,
        school_name=school.name,
        event=event,
        detail=detail[:2000],
        by=by[:150],
    )
