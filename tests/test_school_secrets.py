"""A school's secrets are encrypted at rest, masked when printed, and survive a key rotation."""

import pytest
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured
from django.db import connection

from school_live.school.models import School
from school_live.school.models.encrypted import MASK, Secret, SecretUnreadable

pytestmark = pytest.mark.django_db


def _stored(school: School, column: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM school_school WHERE id = %s", [school.pk])  # noqa: S608
        return cursor.fetchone()[0]


def test_secret_is_ciphertext_in_the_database_and_a_mask_when_printed(settings):
    settings.ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    school = School.objects.create(name="一中", corp_id="wwA", agent_id=7, secret="s3cret-value")

    assert "s3cret-value" not in _stored(school, "secret")
    loaded = School.objects.get(pk=school.pk)
    assert loaded.secret.reveal() == "s3cret-value"
    assert str(loaded.secret) == MASK
    assert "s3cret" not in repr(loaded.secret)
    assert "s3cret" not in f"{loaded.__dict__}"
    assert not loaded.callback_token
    assert loaded.callback_token.reveal() == ""


def test_rotation_keeps_every_secret_readable(settings):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.ENCRYPTION_KEYS = [old]
    school = School.objects.create(name="二中", corp_id="wwB", secret="before-rotation")

    settings.ENCRYPTION_KEYS = [new, old]
    loaded = School.objects.get(pk=school.pk)
    loaded.secret = loaded.secret.rotated()
    loaded.save(update_fields=["secret"])

    settings.ENCRYPTION_KEYS = [new]
    assert School.objects.get(pk=school.pk).secret.reveal() == "before-rotation"


def test_a_secret_no_key_opens_says_what_to_do(settings):
    settings.ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    school = School.objects.create(name="三中", corp_id="wwC", secret="x")
    settings.ENCRYPTION_KEYS = [Fernet.generate_key().decode()]

    with pytest.raises(SecretUnreadable, match="SCHOOL_LIVE_ENCRYPTION_KEYS"):
        School.objects.get(pk=school.pk).secret.reveal()


def test_without_a_key_nothing_is_stored_in_clear(settings):
    settings.ENCRYPTION_KEYS = []
    with pytest.raises(ImproperlyConfigured, match="SCHOOL_LIVE_ENCRYPTION_KEYS"):
        School(name="四中", corp_id="wwD", secret="plain")
    assert not School.objects.filter(corp_id="wwD").exists()
    assert Secret("").reveal() == ""


def test_a_malformed_key_is_named(settings):
    settings.ENCRYPTION_KEYS = ["not-a-fernet-key"]
    with pytest.raises(ImproperlyConfigured, match="not a Fernet key"):
        Secret.seal("x")


def test_the_default_school_reads_the_environment(settings):
    settings.WECOM_CORP_ID = "ww_env_corp"
    settings.WECOM_SECRET = "env-secret"
    settings.WECOM_AGENT_ID = 1000002
    settings.WECOM_CALLBACK_TOKEN = "tok"
    settings.WECOM_CALLBACK_AES_KEY = "k" * 43
    school = School(name="默认学校", from_environment=True, corp_id="stale", secret="")

    assert school.wecom_corp_id == "ww_env_corp"
    assert school.wecom_secret() == "env-secret"
    assert school.wecom_agent_id == 1000002
    assert school.wecom_callback_keys() == ("tok", "k" * 43)
