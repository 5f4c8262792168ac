"""The sync commands as the first thing anyone runs after a clone: a brand-new database."""

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

from tests.fixtures.sandbox import ended_livingid

ROOT = Path(__file__).resolve().parent.parent


def _run(args, *, tmp_path, sandbox, database):
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{database}",
        "CACHE_URL": "dbcache://school_live_cache",
        "SCHOOL_LIVE_VAR_DIR": str(tmp_path / "var"),
        "WECOM_API_BASE": sandbox.url,
        "WECOM_CORP_ID": sandbox.state.corp_id,
        "WECOM_SECRET": sandbox.state.secret,
    }
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_sync_living_on_a_new_database_creates_its_tables_first(tmp_path, wecom_sandbox):
    livingid = ended_livingid(wecom_sandbox.state)
    database = tmp_path / "new.sqlite3"
    result = _run(
        ["sync_living", livingid], tmp_path=tmp_path, sandbox=wecom_sandbox, database=database
    )
    assert result.returncode == 0, result.stderr
    assert "creating its tables first" in result.stderr
    assert result.stdout.startswith(f"{livingid}: ")
    export = _run(
        ["export_watch_stat", livingid], tmp_path=tmp_path, sandbox=wecom_sandbox, database=database
    )
    assert export.returncode == 0 and export.stderr == ""
    rows = export.stdout.splitlines()
    assert (
        rows[0]
        == "student_userid,parent_userid,partyids,watch_time,enter_time,leave_time,is_comment"
    )
    assert (
        len(rows) - 1
        == sqlite3.connect(database)
        .execute("select count(*) from school_studentwatch")
        .fetchone()[0]
    )


def test_half_migrated_database_is_left_to_the_operator(tmp_path, wecom_sandbox):
    database = tmp_path / "half.sqlite3"
    migrate = _run(
        ["migrate", "school", "0001"], tmp_path=tmp_path, sandbox=wecom_sandbox, database=database
    )
    assert migrate.returncode == 0, migrate.stderr
    result = _run(
        ["sync_living", ended_livingid(wecom_sandbox.state)],
        tmp_path=tmp_path,
        sandbox=wecom_sandbox,
        database=database,
    )
    assert result.returncode != 0
    assert "python manage.py migrate" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_database_that_does_not_exist_is_one_line_not_a_traceback(tmp_path, wecom_sandbox):
    """A PostgreSQL URL naming a database nobody created: say so, and what to do."""
    env_url = "postgres://postgres@127.0.0.1:5432/school_live_never_created_x"
    result = subprocess.run(
        [sys.executable, "manage.py", "sync_school"],
        cwd=ROOT,
        env={
            **os.environ,
            "DATABASE_URL": env_url,
            "SCHOOL_LIVE_VAR_DIR": str(tmp_path / "var"),
            "WECOM_API_BASE": wecom_sandbox.url,
        },
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "Cannot open the database" in result.stderr and "DATABASE_URL" in result.stderr
    assert "school_live_never_created_x" in result.stderr
