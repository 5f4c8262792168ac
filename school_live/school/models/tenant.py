"""The school: the tenant every school-owned row belongs to.

One deployment serves many schools (ARCHITECTURE.md, "Many schools, one deployment"). A WeCom id
is unique only inside its corp, so every key the product keeps is (school, WeCom id).

The school defined by the ``WECOM_*`` environment variables is the *default school*
(``from_environment``): its credentials are read from the settings when used, so the single-school
set-up keeps working unchanged; the other schools keep theirs here, the secrets encrypted at rest.

Who belongs where (``SchoolMembership``): a Django user belongs to at most one school, as a teacher
or as a school admin; an *operator* of the deployment (the vendor, the district) is a superuser and
belongs to no school: Django lets a superuser do everything, so only an operator may be one. A user
who is neither (no membership, not a superuser) sees no school at all.
"""

import base64
import binascii
import re

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from .encrypted import EncryptedTextField

# What WeCom's corp ids look like: ww + 16 hex for a corp, longer opaque text for the encrypted
# corp id a 代开发 app sees (case-sensitive, kept exactly). No spaces, no markup.
CORP_ID_PATTERN = re.compile(r"[A-Za-z0-9_=+.-]{1,64}")


def encoding_aes_key_valid(key: str) -> bool:
    """WeCom's rule for a 接收消息 EncodingAESKey: 43 characters of base64 that, with "=" added,
    are a 32-byte AES key (the same check as wecom/callback_crypto.py, which imports this app)."""
    try:
        return len(key) == 43 and len(base64.b64decode(key + "=", validate=True)) == 32
    except (binascii.Error, ValueError):
        return False


class SchoolQuerySet(models.QuerySet):
    def active(self) -> "SchoolQuerySet":
        return self.filter(status=School.Status.ACTIVE)

    def serving(self) -> "SchoolQuerySet":
        """The schools whose periodic work (syncs, reminders, reports) runs: ``is_serving``."""
        return self.filter(status__in=School.SERVING)


class School(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active", pgettext_lazy("school status", "active")
        SUSPENDED = "suspended", pgettext_lazy("school status", "suspended")
        UNINSTALLED = "uninstalled", pgettext_lazy("school status", "uninstalled")
        # An install link was made (install/): the school has not scanned it yet, so it has no
        # corp id, agent id or secret, and nothing runs for it.
        PENDING = "pending", pgettext_lazy("school status", "pending")

    # What periodic work (syncs, reminders, reports) runs for: an active school only. Suspended,
    # uninstalled (its data kept until purged) and pending schools are left alone.
    SERVING = (Status.ACTIVE,)

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

    @property
    def is_serving(self) -> bool:
        """Whether periodic work (syncs, reminders, reports) runs for this school: every task
        that loops over schools, or is queued for one, checks it (``School.objects.serving()``
        for a queryset)."""
        return self.status in self.SERVING

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


class SchoolMembership(models.Model):
    """The one school a user belongs to, and as what. Operators (superusers) have none."""

    class Role(models.TextChoices):
        TEACHER = "teacher", _("teacher")
        SCHOOL_ADMIN = "school_admin", _("school admin")

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="school_membership",
        verbose_name=_("user"),
    )
    school = models.ForeignKey(
        School, on_delete=models.CASCADE, related_name="memberships", verbose_name=_("school")
    )
    role = models.CharField(_("role"), max_length=12, choices=Role.choices, default=Role.TEACHER)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("school membership")
        verbose_name_plural = _("school memberships")

    def __str__(self):
        return f"{self.user} · {self.school} · {self.get_role_display()}"

    def clean(self):
        if self.user_id is not None and self.user.is_superuser:
            raise ValidationError(
                _(
                    "A superuser is an operator of the whole deployment and belongs to no school: "
                    "take away the superuser status first, or do not give this user a school."
                )
            )


def is_operator(user) -> bool:
    """An operator of the deployment: sees and changes every school. An active superuser."""
    return bool(user is not None and user.is_active and user.is_superuser)


def school_of(user) -> School | None:
    """The school ``user`` belongs to; None for operators, anonymous users and users of none."""
    if user is None or not user.is_authenticated or is_operator(user):
        return None
    try:
        return user.school_membership.school
    except SchoolMembership.DoesNotExist:
        return None


def is_school_admin(user, school: School | None = None) -> bool:
    """A school admin (of ``school``, when given): an active staff user with that role."""
    if user is None or not user.is_authenticated or not (user.is_active and user.is_staff):
        return False
    if is_operator(user):
        return False
    try:
        membership = user.school_membership
    except SchoolMembership.DoesNotExist:
        return False
    if membership.role != SchoolMembership.Role.SCHOOL_ADMIN:
        return False
    return school is None or membership.school_id == school.pk
