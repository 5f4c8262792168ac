"""The school: the tenant every school-owned row belongs to.

One deployment serves many schools (ARCHITECTURE.md, "Many schools, one deployment"). A WeCom id
is unique only inside its corp, so every key the product keeps is (school, WeCom id).

The school defined by the ``WECOM_*`` environment variables is the *default school*
(``from_environment``): its credentials are read from the settings when used, so the single-school
set-up keeps working unchanged; the other schools keep theirs here, the secrets encrypted at rest.
"""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from .encrypted import EncryptedTextField


class SchoolQuerySet(models.QuerySet):
    def active(self) -> "SchoolQuerySet":
        return self.filter(status=School.Status.ACTIVE)


class School(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active", _("active")
        SUSPENDED = "suspended", _("suspended")
        UNINSTALLED = "uninstalled", _("uninstalled")

    name = models.CharField(_("name"), max_length=200)
    # Exactly as WeCom gives it: encrypted corp ids (代开发) are case-sensitive.
    corp_id = models.CharField(_("WeCom corp id"), max_length=64, blank=True)
    agent_id = models.PositiveBigIntegerField(_("WeCom agent id"), null=True, blank=True)
    secret = EncryptedTextField(_("app secret"), blank=True)
    callback_token = EncryptedTextField(_("callback Token"), blank=True)
    callback_aes_key = EncryptedTextField(_("callback EncodingAESKey"), blank=True)
    status = models.CharField(
        _("status"), max_length=12, choices=Status.choices, default=Status.ACTIVE
    )
    from_environment = models.BooleanField(
        _("defined by the environment"),
        default=False,
        help_text=_("The default school: its WeCom settings come from the WECOM_* variables."),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    status_changed_at = models.DateTimeField(_("status changed at"), null=True, blank=True)

    objects = SchoolQuerySet.as_manager()

    class Meta:
        verbose_name = _("school")
        verbose_name_plural = _("schools")
        constraints = [
            models.UniqueConstraint(
                fields=["corp_id"],
                condition=~models.Q(corp_id=""),
                name="unique_school_corp_id",
            ),
            models.UniqueConstraint(
                fields=["from_environment"],
                condition=models.Q(from_environment=True),
                name="one_school_from_environment",
            ),
        ]

    def __str__(self):
        return self.name

    # --- WeCom credentials: the settings' for the default school, the stored ones otherwise ---

    @property
    def wecom_corp_id(self) -> str:
        return settings.WECOM_CORP_ID if self.from_environment else self.corp_id

    @property
    def wecom_agent_id(self) -> int | None:
        return settings.WECOM_AGENT_ID if self.from_environment else self.agent_id

    def wecom_secret(self) -> str:
        return settings.WECOM_SECRET if self.from_environment else self.secret.reveal()

    def wecom_callback_keys(self) -> tuple[str, str]:
        """(Token, EncodingAESKey) of the school's 接收消息 callback; empty when not set."""
        if self.from_environment:
            return settings.WECOM_CALLBACK_TOKEN, settings.WECOM_CALLBACK_AES_KEY
        return self.callback_token.reveal(), self.callback_aes_key.reveal()
