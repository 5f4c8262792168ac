"""add_school and rotate_encryption_keys: what they store, what they print, and every refusal
saying what to do with nothing stored."""

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from school_live.school.management.commands.rotate_encryption_keys import encrypted_fields
from school_live.school.models import School

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parent.parent
SECRET = "Xq3-app-secret-from-the-console_0123456789abc"
AES_KEY = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"  # the doc's example EncodingAESKey


@pytest.fixture
def key(settings):
    settings.ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    return settings.ENCRYPTION_KEYS[0]


@pytest.fixture
def no_wecom_environment(monkeypatch):
    monkeypatch.delenv("WECOM_SECRET", raising=False)
    monkeypatch.delenv("WECOM_CORP_ID", raising=False)


def add_school(*args, stdin: str = SECRET) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("add_school", *args, stdin=io.StringIO(stdin), stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def stored(school_id: int, column: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM school_school WHERE id = %s", [school_id])  # noqa: S608
        return cursor.fetchone()[0]


def schools_added() -> int:
    return School.objects.filter(from_environment=False).count()


# --- add_school ----------------------------------------------------------------------------------


def test_add_school_stores_the_secret_from_stdin_and_prints_only_the_id(key, no_wecom_environment):
    out, err = add_school(
        "第一中学",
        "--corp-id",
        "wwAbC0123456789dEf",
        "--agent-id",
        "1000005",
        "--callback-token",
        "tok3n",
        "--callback-aes-key",
        AES_KEY,
        stdin=SECRET + "\n",
    )
    school = School.objects.get(pk=int(out.strip()))
    assert out == f"{school.pk}\n"
    assert (school.name, school.corp_id, school.agent_id) == (
        "第一中学",
        "wwAbC0123456789dEf",
        1000005,
    )
    assert school.status == School.Status.ACTIVE and not school.from_environment
    assert school.wecom_secret() == SECRET
    assert school.wecom_callback_keys() == ("tok3n", AES_KEY)
    assert SECRET not in stored(school.pk, "secret")
    assert f"#{school.pk} 第一中学" in err
    assert SECRET not in out + err


def test_add_school_takes_wecom_secret_when_nothing_is_piped(key, monkeypatch):
    monkeypatch.delenv("WECOM_CORP_ID", raising=False)
    monkeypatch.setenv("WECOM_SECRET", SECRET)
    out, _err = add_school("二中", "--corp-id", "ww2", "--agent-id", "7", stdin="")
    assert School.objects.get(pk=int(out)).secret.reveal() == SECRET


def test_the_default_schools_secret_is_not_taken_for_another_school(key, monkeypatch):
    monkeypatch.setenv("WECOM_CORP_ID", "ww_default")
    monkeypatch.setenv("WECOM_SECRET", "the-default-schools-secret")
    with pytest.raises(CommandError, match="default school's secret.*standard input"):
        add_school("三中", "--corp-id", "ww3", "--agent-id", "7", stdin="")
    assert schools_added() == 0


def test_a_duplicate_corp_id_is_refused_naming_the_school(key, no_wecom_environment):
    out, _ = add_school("四中", "--corp-id", "ww4", "--agent-id", "7")
    with pytest.raises(CommandError, match=rf"#{int(out)} 四中 already has corp id ww4"):
        add_school("四中（重复）", "--corp-id", "ww4", "--agent-id", "8")
    assert schools_added() == 1


def test_the_default_schools_corp_id_is_refused_too(key, no_wecom_environment):
    School.objects.filter(from_environment=True).update(corp_id="ww_env")
    with pytest.raises(CommandError, match=r"the default school \(WECOM_CORP_ID\)"):
        add_school("五中", "--corp-id", "ww_env", "--agent-id", "7")
    assert schools_added() == 0


@pytest.mark.parametrize("secret", ["", "   \n", "two words", "line one\nline two\n"])
def test_an_empty_or_malformed_secret_is_refused(key, no_wecom_environment, secret):
    with pytest.raises(CommandError, match="app secret"):
        add_school("六中", "--corp-id", "ww6", "--agent-id", "7", stdin=secret)
    assert schools_added() == 0


def test_without_an_encryption_key_nothing_is_stored(settings, no_wecom_environment):
    settings.ENCRYPTION_KEYS = []
    with pytest.raises(CommandError, match="SCHOOL_LIVE_ENCRYPTION_KEYS"):
        add_school("七中", "--corp-id", "ww7", "--agent-id", "7")
    assert schools_added() == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["  ", "--corp-id", "ww8", "--agent-id", "7"], "name is empty"),
        (["八中", "--corp-id", "<b>ww</b>", "--agent-id", "7"], "not a WeCom corp id"),
        (["八中", "--corp-id", "ww8", "--agent-id", "0"], "positive number"),
        (["八中", "--corp-id", "ww8", "--agent-id", "7", "--callback-token", "t"], "or neither"),
        (
            ["八中", "--corp-id", "ww8", "--agent-id", "7"]
            + ["--callback-token", "t", "--callback-aes-key", "short"],
            "not an EncodingAESKey",
        ),
    ],
)
def test_bad_arguments_say_what_to_fix(key, no_wecom_environment, args, message):
    with pytest.raises(CommandError, match=message):
        add_school(*args)
    assert schools_added() == 0


def test_there_is_no_secret_option():
    with pytest.raises(CommandError, match="unrecognized arguments: --secret"):
        call_command("add_school", "九中", "--corp-id", "ww9", "--agent-id", "7", "--secret", "x")


@pytest.mark.slow
def test_add_school_reads_a_piped_secret_in_a_real_process(tmp_path):
    """The command as an operator runs it: a fresh database, the secret piped in."""
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'schools.sqlite3'}",
        "CACHE_URL": "dbcache://school_live_cache",
        "SCHOOL_LIVE_VAR_DIR": str(tmp_path / "var"),
        "SCHOOL_LIVE_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
    }
    for name in ("WECOM_SECRET", "WECOM_CORP_ID", "WECOM_AGENT_ID"):
        env.pop(name, None)

    def manage(*args, stdin=""):
        return subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=env,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=180,
        )

    early = manage("add_school", "十中", "--corp-id", "ww10", "--agent-id", "7", stdin=SECRET)
    assert early.returncode != 0 and "python manage.py migrate" in early.stderr
    assert "Traceback" not in early.stderr
    assert manage("migrate", "--verbosity", "0").returncode == 0
    added = manage("add_school", "十中", "--corp-id", "ww10", "--agent-id", "7", stdin=SECRET)
    assert added.returncode == 0, added.stderr
    assert added.stdout.strip().isdigit()
    assert SECRET not in added.stdout + added.stderr


# --- rotate_encryption_keys ------------------------------------------------------------------------


def test_every_encrypted_field_of_every_model_is_found():
    found = {model._meta.label: names for model, names in encrypted_fields()}
    assert found["school.School"] == ["secret", "callback_token", "callback_aes_key"]


def rotate() -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("rotate_encryption_keys", stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_rotation_re_encrypts_every_secret_with_the_first_key(settings):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.ENCRYPTION_KEYS = [old]
    one = School.objects.create(name="甲", corp_id="wwA", secret="secret-a", callback_token="tok")
    two = School.objects.create(name="乙", corp_id="wwB", secret="secret-b")
    before = stored(one.pk, "secret")

    settings.ENCRYPTION_KEYS = [new, old]
    out, err = rotate()
    assert "school.School.secret: 2 rotated, 1 empty, 0 unreadable" in out  # + the default school
    assert "school.School.callback_token: 1 rotated, 2 empty, 0 unreadable" in out
    assert err == ""
    assert stored(one.pk, "secret") != before

    settings.ENCRYPTION_KEYS = [new]  # the old key dropped
    assert School.objects.get(pk=one.pk).secret.reveal() == "secret-a"
    assert School.objects.get(pk=one.pk).callback_token.reveal() == "tok"
    assert School.objects.get(pk=two.pk).secret.reveal() == "secret-b"


def test_a_value_no_key_opens_is_named_and_left_as_it_was(settings):
    lost, old, new = (Fernet.generate_key().decode() for _ in range(3))
    settings.ENCRYPTION_KEYS = [lost]
    orphan = School.objects.create(name="丙", corp_id="wwC", secret="under-a-lost-key")
    settings.ENCRYPTION_KEYS = [old]
    kept = School.objects.create(name="丁", corp_id="wwD", secret="still-readable")
    orphan_before = stored(orphan.pk, "secret")

    settings.ENCRYPTION_KEYS = [new, old]
    out, err = io.StringIO(), io.StringIO()
    with pytest.raises(CommandError, match="1 stored value.*could not be opened with any key"):
        call_command("rotate_encryption_keys", stdout=out, stderr=err)
    assert f"school.School #{orphan.pk} secret: no key" in err.getvalue()
    assert "school.School.secret: 1 rotated, 1 empty, 1 unreadable" in out.getvalue()
    assert stored(orphan.pk, "secret") == orphan_before
    settings.ENCRYPTION_KEYS = [new]
    assert School.objects.get(pk=kept.pk).secret.reveal() == "still-readable"


def test_rotation_without_a_key_says_which_variable(settings):
    settings.ENCRYPTION_KEYS = []
    with pytest.raises(CommandError, match="SCHOOL_LIVE_ENCRYPTION_KEYS"):
        rotate()


@pytest.mark.parametrize(
    "aes_key", [AES_KEY, AES_KEY[:-1], AES_KEY + "A", "!" * 43, AES_KEY[:-1] + "=", "", "é" * 43]
)
def test_the_school_apps_key_check_is_the_callbacks_own(aes_key):
    """school/ cannot import wecom/ (wecom imports it): its check must agree with the crypto's."""
    from school_live.school.models.tenant import encoding_aes_key_valid
    from school_live.wecom.callback_crypto import CallbackCrypto, CallbackError

    try:
        CallbackCrypto(token="t", encoding_aes_key=aes_key, receive_id="ww")
        accepted = True
    except (CallbackError, ValueError):  # a non-ASCII key is a ValueError there
        accepted = False
    assert encoding_aes_key_valid(aes_key) is accepted
