"""``python manage.py demo`` as a person runs it: it comes up with a synced school, the printed
head teacher signs in and sees their class, the demo lesson (scheduled through living/create) goes
live by the sandbox's clock (its roll call filling up) and ends, each told to the site by WeCom's
status callback, and Ctrl-C leaves no process behind."""

import contextlib
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
START_TIMEOUT = 75  # seconds until the demo prints its logins
LIVE_TIMEOUT = 120  # seconds until the demo lesson, due about 45 s after scheduling, is live
STOP_TIMEOUT = 30


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def descendants(pid: int) -> set[int]:
    """Every process below pid, from /proc (the demo's children live in their own sessions)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, IndexError, ValueError):
            stat = (entry / "stat").read_text()
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    found, frontier = set(), {pid}
    while frontier:
        children = {child for child, parent in parents.items() if parent in frontier}
        frontier = children - found
        found |= children
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


class Output:
    """The demo's stdout, read in a thread so the pipe never fills up."""

    def __init__(self, stream):
        self.lines: list[str] = []
        self.thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self.thread.start()

    def _read(self, stream):
        for line in stream:
            self.lines.append(line.rstrip("\n"))

    @property
    def text(self) -> str:
        return "\n".join(self.lines)

    def wait_for(self, pattern: str, *, process, timeout: float) -> re.Match:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            match = re.search(pattern, self.text)
            if match:
                return match
            if process.poll() is not None:
                break
            time.sleep(0.2)
        raise AssertionError(f"the demo never printed {pattern!r}:\n{self.text}")


@pytest.mark.skipif(
    os.environ.get("DATABASE_URL", "sqlite").split(":", 1)[0] not in ("sqlite", ""),
    reason="the demo runs on the embedded defaults; it is tested in the SQLite pass",
)
def test_demo_comes_up_synced_shows_a_class_follows_callbacks_and_stops_on_ctrl_c(tmp_path):
    port = free_port()
    env = {**os.environ, "SCHOOL_LIVE_VAR_DIR": str(tmp_path / "var"), "PYTHONUNBUFFERED": "1"}
    for production in ("DATABASE_URL", "CELERY_BROKER_URL", "CACHE_URL", "EMAIL_URL", "DEBUG"):
        env.pop(production, None)
    demo = subprocess.Popen(
        [sys.executable, "manage.py", "demo", "--port", str(port)],
        cwd=REPO,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    output = Output(demo.stdout)
    children: set[int] = set()
    try:
        started = time.monotonic()
        output.wait_for(r"first sync succeeded", process=demo, timeout=START_TIMEOUT)
        login = output.wait_for(r"head teacher: (\S+) / (\S+)", process=demo, timeout=START_TIMEOUT)
        output.wait_for(r"Ctrl-C", process=demo, timeout=START_TIMEOUT)
        assert time.monotonic() - started < 60, "the demo must show a school within a minute"
        sandbox = output.wait_for(
            r"WeCom sandbox: (http://127\.0\.0\.1:\d+)", process=demo, timeout=1
        ).group(1)
        livingid = output.wait_for(r"demo lesson: (\w+)", process=demo, timeout=1).group(1)
        children = descendants(demo.pid)
        assert len(children) >= 4, f"sandbox, worker, web and beat: {children}"

        site = f"http://127.0.0.1:{port}"
        browser = requests.Session()
        login_page = browser.get(f"{site}/accounts/login/", timeout=10)
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', login_page.text)
        home = browser.post(
            f"{site}/accounts/login/",
            data={
                "username": login.group(1),
                "password": login.group(2),
                "csrfmiddlewaretoken": token.group(1),
            },
            timeout=10,
        )
        assert home.url == f"{site}/", "the printed head teacher could not sign in"
        class_link = re.search(r'href="(/classes/\d+/)"', home.text)
        assert class_link, home.text[:3000]
        class_page = browser.get(f"{site}{class_link.group(1)}", timeout=30)
        assert class_page.status_code == 200
        assert 'id="students-table"' in class_page.text
        total = re.search(r'id="summary"[^>]*data-total="(\d+)"', class_page.text)
        assert total and int(total.group(1)) > 0, "the class page shows no synced lesson"
        assert len(re.findall(r'<tr [^>]*data-verdict="', class_page.text)) > 0

        # The demo lesson was created as an app creates one, so WeCom lets the app read it.
        calls = requests.get(f"{sandbox}/sandbox/calls", timeout=10).json()["calls"]
        assert calls.get("/cgi-bin/living/create", 0) >= 1, calls
        lesson = requests.get(f"{sandbox}/sandbox/livings/{livingid}", timeout=10).json()
        assert lesson["living"]["foreign"] is False
        # Live by the sandbox's clock, and the site hears it through the callback.
        output.wait_for(r"callback: live", process=demo, timeout=LIVE_TIMEOUT)
        # Its roll call fills up while one watches: students join between syncs.
        output.wait_for(r"roll call: 已进入 joined [1-9]\d*/", process=demo, timeout=LIVE_TIMEOUT)
        # The teacher ends it early in WeCom: the ended callback reaches the site.
        ended = requests.post(f"{sandbox}/sandbox/livings/{livingid}/end", timeout=10)
        assert ended.status_code == 200, ended.text  # (a lesson lasts at least a second)
        output.wait_for(r"callback: ended", process=demo, timeout=30)
        with sqlite3.connect(tmp_path / "var" / "school_live.sqlite3") as database:
            (status,) = database.execute(
                "SELECT status FROM school_living WHERE livingid = ?", (livingid,)
            ).fetchone()
        assert status == 2
        log = requests.get(f"{sandbox}/sandbox/callbacks", timeout=10).json()["log"]
        mine = [(e["status"], e["http_status"]) for e in log if e["livingid"] == livingid]
        assert mine == [(1, 200), (2, 200)], log

        demo.send_signal(signal.SIGINT)
        assert demo.wait(timeout=STOP_TIMEOUT) == 0, output.text
        output.thread.join(timeout=5)
        assert "stopped" in output.text
        deadline = time.monotonic() + 5
        while any(alive(pid) for pid in children) and time.monotonic() < deadline:
            time.sleep(0.2)
        left = [pid for pid in children if alive(pid)]
        assert not left, f"processes left behind after Ctrl-C: {left}"
    finally:
        # Only when something above failed: nothing of the demo may outlive the test.
        if demo.poll() is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(demo.pid, signal.SIGKILL)
        for pid in children:
            if alive(pid):
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            demo.wait(timeout=10)
