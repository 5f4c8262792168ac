"""Secrets stored encrypted at rest: a school's app secret and callback keys.

Values are encrypted with Fernet (``cryptography``) under the keys in the ``ENCRYPTION_KEYS``
setting (the ``SCHOOL_LIVE_ENCRYPTION_KEYS`` environment variable, comma-separated): the first key
encrypts, every key decrypts, so a key is rotated by putting the new one first, running
``python manage.py rotate_encryption_keys`` and then dropping the old one. Without keys, a
development machine (DEBUG) uses one kept under ``var/``; production refuses to store or read a
secret and says which variable to set.

A field's value in Python is a ``Secret``: its ``str`` and ``repr`` are a mask, so a secret cannot
reach a log, a page or an error by being printed; ``reveal()`` decrypts it where WeCom needs it.

In a form (the admin) the field is write-only: a password input that never shows the value, only
whether one is set (已设置 / 未设置); a blank input keeps the stored secret.
"""

from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django import forms
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.db import models
from django.db.models.query_utils import DeferredAttribute
from django.utils.translation import gettext_lazy as _

MASK = "••••••"


class SecretUnreadable(ImproperlyConfigured):
    """A stored secret that none of the configured keys decrypts."""


@lru_cache(maxsize=4)
def _fernet_for(keys: tuple[str, ...]) -> MultiFernet:
    try:
        return MultiFernet([Fernet(key) for key in keys])
    except ValueError as error:
        raise ImproperlyConfigured(
            "SCHOOL_LIVE_ENCRYPTION_KEYS holds a key that is not a Fernet key (32 url-safe "
            'base64-encoded bytes). Make one with: python -c "from cryptography.fernet import '
            'Fernet; print(Fernet.generate_key().decode())"'
        ) from error


def fernet() -> MultiFernet:
    keys = tuple(key for key in getattr(settings, "ENCRYPTION_KEYS", ()) if key)
    if not keys:
        raise ImproperlyConfigured(
            "No encryption key: set SCHOOL_LIVE_ENCRYPTION_KEYS to a Fernet key before storing "
            "a school's secret (see the README, 'Production')."
        )
    return _fernet_for(keys)


def encrypt(plain: str) -> str:
    return fernet().encrypt(plain.encode()).decode()


class Secret:
    """A stored secret, decrypted only on ``reveal()``; printed, it is a mask."""

    __slots__ = ("_sealed",)

    def __init__(self, sealed: str) -> None:
        self._sealed = sealed

    @classmethod
    def seal(cls, plain: str) -> "Secret":
        return cls(encrypt(plain) if plain else "")

    @property
    def sealed(self) -> str:
        return self._sealed

    def reveal(self) -> str:
        if not self._sealed:
            return ""
        try:
            return fernet().decrypt(self._sealed.encode()).decode()
        except InvalidToken:
            raise SecretUnreadable(
                "A stored secret cannot be decrypted with the keys in SCHOOL_LIVE_ENCRYPTION_KEYS: "
                "put back the key it was stored with, or enter the secret again in the admin."
            ) from None

    def rotated(self) -> "Secret":
        """The same secret encrypted with the first key."""
        if not self._sealed:
            return self
        try:
            return Secret(fernet().rotate(self._sealed.encode()).decode())
        except InvalidToken:
            raise SecretUnreadable(
                "A stored secret cannot be decrypted with the keys in SCHOOL_LIVE_ENCRYPTION_KEYS: "
                "keep the old key in the list until every secret is rotated."
            ) from None

    def __bool__(self) -> bool:
        return bool(self._sealed)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._sealed == self._sealed

    def __hash__(self) -> int:
        return hash(self._sealed)

    def __str__(self) -> str:
        return MASK if self._sealed else ""

    def __repr__(self) -> str:
        return f"<Secret {MASK if self._sealed else 'empty'}>"


class _SecretAttribute(DeferredAttribute):
    """The model attribute: whatever is assigned (a ``str``, ``None``, a ``Secret``) reads
    back as a ``Secret``, a ``str`` encrypted at once."""

    def __set__(self, instance, value) -> None:
        instance.__dict__[self.field.attname] = self.field.to_python(value)


class SecretInput(forms.PasswordInput):
    """Never renders the secret; says whether one is stored, as its placeholder."""

    def __init__(self, attrs=None):
        super().__init__(attrs={"autocomplete": "new-password", **(attrs or {})})

    def get_context(self, name, value, attrs):
        context = super().get_context(name, None, attrs)
        stored = isinstance(value, Secret) and bool(value)
        context["widget"]["attrs"]["placeholder"] = _("set") if stored else _("not set")
        return context


class SecretFormField(forms.CharField):
    """A new secret, or blank to keep the stored one (``EncryptedTextField.save_form_data``)."""

    widget = SecretInput

    def __init__(self, **kwargs):
        kwargs["required"] = False
        if not kwargs.get("help_text"):
            kwargs["help_text"] = _(
                "Write-only: type a new value to replace it; leave blank to keep it."
            )
        for unused in ("max_length", "empty_value"):
            kwargs.pop(unused, None)
        super().__init__(**kwargs)

    def prepare_value(self, value):
        return value  # the widget sees the Secret (set or not), never a text

    def bound_data(self, data, initial):
        return initial  # a form shown again after an error says 已设置/未设置, never echoes typing

    def clean(self, value):
        value = super().clean(value)
        if value:
            try:
                fernet()
            except ImproperlyConfigured as error:
                raise ValidationError(str(error), code="no_encryption_key") from None
        return value

    def has_changed(self, initial, data):
        return bool(data)


class EncryptedTextField(models.TextField):
    """A text column holding Fernet ciphertext; in Python a ``Secret``. Assign a plain ``str``
    to set a new value: it is encrypted at once. Not searchable (each encryption differs)."""

    descriptor_class = _SecretAttribute

    def from_db_value(self, value, expression, connection):
        return Secret(value or "")

    def to_python(self, value):
        if isinstance(value, Secret):
            return value
        return Secret.seal(value) if value else Secret("")

    def get_prep_value(self, value):
        if value is None:
            return ""
        if isinstance(value, Secret):
            return value.sealed
        return encrypt(str(value)) if value else ""

    def formfield(self, **kwargs):
        # Whatever widget a caller suggests (the admin's is a textarea): a secret is never shown.
        return super().formfield(**{**kwargs, "form_class": SecretFormField, "widget": SecretInput})

    def save_form_data(self, instance, data):
        # A form's blank input keeps the stored secret: the form never had its value to send back.
        if data:
            super().save_form_data(instance, data)

    def value_to_string(self, obj):
        # Dumps (dumpdata, serializers) carry the ciphertext, never the secret.
        return self.get_prep_value(self.value_from_object(obj))
