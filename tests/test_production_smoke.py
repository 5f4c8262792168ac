"""The production path, end to end: gunicorn, a Celery worker and Celery beat as separate
processes with DEBUG=0, on PostgreSQL and Redis, syncing from the WeCom sandbox; a teacher signs in
over plain HTTP on loopback and reads their class.

It runs in CI's PostgreSQL + Redis pass and skips elsewhere. It makes its own database on the
configured PostgreSQL server (school_live_smoke_<pid>, dropped afterwards) and uses its own Redis
database numbers on the configured Redis server, flushed before and after: other tests of the same
pass use the configured numbers and may leave messages behind that this worker must not take.
"""

import contextlib
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import environ
import pytest
import requests

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
DATABASE_URL = os.environ.get("DATABASE_URL", "")
BROKER_URL = os.environ.get("CELERY_BROKER_URL", "")
# Redis database numbers of this test (the CI pass uses 0 for the broker and 1 for the cache).
SMOKE_BROKER_DB, SMOKE_CACHE_DB = 15, 14
SANDBOX_CORP_ID = "ww_smoke_corp"
SANDBOX_SECRET = "smoke-secret-for-the-sandbox"
SYNC_TIMEOUT = 120

needs_postgres_and_redis = pytest.mark.skipif(
    not DATABASE_URL.startswith(("postgres://", "postgresql://", "pgsql://"))
    or not BROKER_URL.startswith(("redis://", "rediss://")),
    reason="the production smoke test runs on PostgreSQL and Redis (CI's second pass): set "
    "DATABASE_URL=postgres://… and CELERY_BROKER_URL=redis://…",
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def redis_url(db: int) -> str:
    parts = urlsplit(BROKER_URL)
    return urlunsplit((parts.scheme, parts.netloc, f"/{db}", "", ""))


@contextlib.contextmanager
def smoke_database():
    """A database of its own on the configured server, dropped even when the test fails."""
    import psycopg

    config = environ.Env.db_url_config(DATABASE_URL)
    name = f"school_live_smoke_{os.getpid()}"
    server = {
        "host": config.get("HOST") or "127.0.0.1",
        "port": config.get("PORT") or 5432,
        "user": config.get("USER") or None,
        "password": config.get("PASSWORD") or None,
        "dbname": "postgres",
        "autocommit": True,
    }
    with psycopg.connect(**server) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
    parts = urlsplit(DATABASE_URL)
    url = urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, ""))
    try:
        with psycopg.connect(**{**server, "dbname": name}) as connection:
            yield url, connection
    finally:
        with psycopg.connect(**server) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextlib.contextmanager
def empty_redis_databases(*numbers: int):
    import redis

    clients = [redis.Redis.from_url(redis_url(n)) for n in numbers]
    for client in clients:
        client.flushdb()
    try:
        yield
    finally:
        for client in clients:
            client.flushdb()
            client.close()


class Processes:
    """Children in their own process groups, logging to files, all stopped at the end."""

    def __init__(self, env: dict, log_dir: Path):
        self.env = env
        self.log_dir = log_dir
        self.children: dict[str, subprocess.Popen] = {}

    def run(self, *argv: str, timeout: float = 180) -> str:
        result = subprocess.run(
            [sys.executable, *argv],
            cwd=REPO,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        assert result.returncode == 0, f"{argv} failed:\n{result.stdout}\n{result.stderr}"
        return result.stdout

    def start(self, name: str, *argv: str, extra_env: dict | None = None) -> None:
        with (self.log_dir / f"{name}.log").open("wb") as log:
            self.children[name] = subprocess.Popen(
                [sys.executable, *argv],
                cwd=REPO,
                env={**self.env, **(extra_env or {})},
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def check(self) -> None:
        for name, process in self.children.items():
            assert process.poll() is None, f"{name} exited:\n{self.tail(name)}"

    def tail(self, name: str, lines: int = 40) -> str:
        path = self.log_dir / f"{name}.log"
        text = path.read_text(errors="replace") if path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def logs(self) -> str:
        return "\n".join(f"== {name}\n{self.tail(name)}" for name in self.children)

    def stop(self) -> None:
        for process in self.children.values():
            if process.poll() is None:
                process.terminate()
        deadline = time.monotonic() + 15
        for process in self.children.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
        for process in self.children.values():
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def wait_until(condition, *, timeout: float, processes: Processes, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        processes.check()
        value = condition()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"{what} did not happen within {timeout} s\n{processes.logs()}")


def answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=2).status_code < 500
    except requests.RequestException:
        return False


def cookie_value(response: requests.Response, name: str) -> str:
    """A cookie from Set-Cookie. The production cookies are Secure, so an HTTP client rightly
    keeps them to itself over plain HTTP; on loopback the test hands them back by header."""
    cookie = response.cookies.get(name)
    assert cookie, f"no {name} cookie in {response.headers.get('Set-Cookie')!r}"
    return cookie


TEACHER_SCRIPT = """
import json
from django.db.models import Count
from school_live.school.models import ClassAssignment
assignment = (
    ClassAssignment.objects.filter(role="head", department__livings__stats_synced_at__isnull=False)
    .annotate(livings=Count("department__livings"))
    .select_related("teacher__user", "department")
    .order_by("-livings", "department_id")
    .first()
)
user = assignment.teacher.user
user.set_password(PASSWORD)
user.save()
students = assignment.department.students.filter(is_active=True).order_by("name")
print(json.dumps({
    "username": user.username,
    "class_id": assignment.department.wecom_id,
    "class_name": assignment.department.name,
    "students": [s.name for s in students],
}))
"""


@needs_postgres_and_redis
def test_gunicorn_worker_and_beat_serve_a_synced_class_on_postgres_and_redis(tmp_path):
    with (
        smoke_database() as (database_url, connection),
        empty_redis_databases(SMOKE_BROKER_DB, SMOKE_CACHE_DB),
    ):
        web_port, sandbox_port = free_port(), free_port()
        sandbox_url = f"http://127.0.0.1:{sandbox_port}"
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "school_live.settings",
            "PYTHONUNBUFFERED": "1",
            "DEBUG": "0",
            "SECRET_KEY": secrets.token_urlsafe(50),
            "ALLOWED_HOSTS": "127.0.0.1",
            # Plain HTTP on loopback: no TLS proxy in front, so no redirect to https.
            "SECURE_SSL_REDIRECT": "0",
            "DATABASE_URL": database_url,
            "CELERY_BROKER_URL": redis_url(SMOKE_BROKER_DB),
            "CACHE_URL": redis_url(SMOKE_CACHE_DB),
            "SCHOOL_LIVE_VAR_DIR": str(tmp_path / "var"),
            "SITE_URL": f"http://127.0.0.1:{web_port}",
            "WECOM_API_BASE": sandbox_url,
            "WECOM_OAUTH_BASE": sandbox_url,
            "WECOM_CORP_ID": SANDBOX_CORP_ID,
            "WECOM_SECRET": SANDBOX_SECRET,
            "WECOM_AGENT_ID": "1000002",
        }
        for leftover in ("EMAIL_URL", "STATIC_ROOT", "BEHIND_TLS_PROXY"):
            env.pop(leftover, None)
        processes = Processes(env, tmp_path)
        try:
            processes.run("manage.py", "migrate", "--noinput")
            processes.run("manage.py", "collectstatic", "--noinput", "--verbosity", "0")
            processes.start(
                "sandbox",
                *("manage.py", "wecom_sandbox", "--port", str(sandbox_port), "--seed", "1"),
                "--demo-living-in=-1",
                # The fake WeCom is a developer tool: production settings load it only on request.
                extra_env={"SCHOOL_LIVE_DEVTOOLS": "1"},
            )
            processes.start(
                "web",
                *("-m", "gunicorn", "school_live.wsgi", "--bind", f"127.0.0.1:{web_port}"),
                *("--workers", "2", "--access-logfile", "-"),
            )
            processes.start(
                "worker",
                *("-m", "celery", "-A", "school_live", "worker", "-l", "info"),
                *("--concurrency", "2", "--without-gossip", "--without-mingle"),
            )
            processes.start(
                "beat",
                *("-m", "celery", "-A", "school_live", "beat", "-l", "info"),
                *("--schedule", str(tmp_path / "beat-schedule")),
            )
            wait_until(
                lambda: answers(f"{sandbox_url}/sandbox/summary"),
                timeout=60,
                processes=processes,
                what="the sandbox answering",
            )

            # A full school sync, queued the way the admin's button queues it, run by the worker.
            run_id = int(
                processes.run(
                    "manage.py",
                    "shell",
                    "-c",
                    "from school_live.school.tenancy import default_school; "
                    "from school_live.sync.triggers import school_sync_request; "
                    "print(school_sync_request(school=default_school())[0].pk)",
                ).split()[-1]
            )

            def school_run_finished():
                row = connection.execute(
                    "SELECT status, error, created_at FROM school_syncrun WHERE id = %s", [run_id]
                ).fetchone()
                return row if row and row[0] in ("succeeded", "failed") else None

            status, error, created_at = wait_until(
                school_run_finished, timeout=SYNC_TIMEOUT, processes=processes, what="the sync"
            )
            assert status == "succeeded", f"{error}\n{processes.logs()}"

            def livings_synced():
                pending, done = connection.execute(
                    "SELECT count(*) FILTER (WHERE status IN ('queued', 'running')), "
                    "count(*) FILTER (WHERE status = 'succeeded') "
                    "FROM school_syncrun WHERE kind = 'living' AND created_at >= %s",
                    [created_at],
                ).fetchone()
                return done if pending == 0 and done > 0 else None

            wait_until(
                livings_synced, timeout=SYNC_TIMEOUT, processes=processes, what="the living syncs"
            )

            password = secrets.token_urlsafe(12)
            teacher = json.loads(
                processes.run(
                    "manage.py", "shell", "-c", f"PASSWORD = {password!r}\n{TEACHER_SCRIPT}"
                )
                .strip()
                .splitlines()[-1]
            )
            assert teacher["students"], teacher

            site = f"http://127.0.0.1:{web_port}"
            wait_until(
                lambda: answers(f"{site}/accounts/login/"),
                timeout=60,
                processes=processes,
                what="gunicorn answering",
            )
            login_page = requests.get(f"{site}/accounts/login/", timeout=10)
            assert login_page.status_code == 200
            assert "Secure" in login_page.headers["Set-Cookie"], "DEBUG=0 cookies must be Secure"
            csrf_cookie = cookie_value(login_page, "csrftoken")
            csrf_field = re.search(
                r'name="csrfmiddlewaretoken" value="([^"]+)"', login_page.text
            ).group(1)
            signed_in = requests.post(
                f"{site}/accounts/login/",
                data={
                    "username": teacher["username"],
                    "password": password,
                    "csrfmiddlewaretoken": csrf_field,
                },
                headers={"Cookie": f"csrftoken={csrf_cookie}"},
                allow_redirects=False,
                timeout=10,
            )
            assert signed_in.status_code == 302, signed_in.text[:2000]
            session = cookie_value(signed_in, "sessionid")

            class_page = requests.get(
                f"{site}/classes/{teacher['class_id']}/",
                headers={"Cookie": f"sessionid={session}"},
                allow_redirects=False,
                timeout=30,
            )
            assert class_page.status_code == 200, class_page.text[:2000]
            assert teacher["class_name"] in class_page.text
            # The class page opens on its latest lesson: its verdicts, or, when that lesson is
            # live at the sandbox's hour, its roll call (which names every student too).
            assert 'id="students-table"' in class_page.text or 'id="rollcall"' in class_page.text
            missing = [name for name in teacher["students"][:50] if name not in class_page.text]
            assert not missing, f"students missing from the class page: {missing}"

            # whitenoise serves the hashed static files collectstatic wrote.
            stylesheet = re.search(r'href="(/static/[^"]+\.css)"', class_page.text).group(1)
            assert re.search(r"\.[0-9a-f]{12}\.css$", stylesheet), stylesheet
            assert requests.get(f"{site}{stylesheet}", timeout=10).status_code == 200

            # Without the session cookie the class page sends the visitor to the login page.
            anonymous = requests.get(
                f"{site}/classes/{teacher['class_id']}/", allow_redirects=False, timeout=10
            )
            assert anonymous.status_code == 302
            assert "/accounts/login/" in anonymous.headers["Location"]
            processes.check()
        finally:
            processes.stop()
