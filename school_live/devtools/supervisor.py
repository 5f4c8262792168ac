"""Child processes for the demo: each in its own session and process group, logging to a file,
all stopped together. Ctrl-C in the terminal reaches only the parent, which stops every child:
SIGTERM to its leader, SIGKILL to whatever of its group is left after a timeout."""

import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import requests
from django.core.management.base import CommandError

STOP_TIMEOUT = 10  # seconds between SIGTERM and SIGKILL


@dataclass
class Child:
    name: str
    process: subprocess.Popen
    log_path: Path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_is_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


# Loaded here, not in the forked child: a child between fork and exec must not take the loader's
# lock, which another thread of this process (the mail sink) might have held at the fork.
_LIBC = ctypes.CDLL(None, use_errno=True) if sys.platform.startswith("linux") else None
PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """Runs in the child before exec: should the demo die without cleaning up (SIGKILL), Linux
    sends the child SIGTERM, so no worker is left behind polling the broker."""
    if _LIBC is not None:
        _LIBC.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


class Supervisor:
    """Starts children with their output in ``log_dir/<name>.log`` and stops them all."""

    def __init__(self, *, log_dir: Path, cwd: Path):
        self.log_dir = log_dir
        self.cwd = cwd
        self.children: list[Child] = []

    def start(self, name: str, argv: list[str], env: dict[str, str]) -> Child:
        log_path = self.log_dir / f"{name}.log"
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                argv,
                cwd=self.cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                # Its own session and process group: stopping a child stops whatever it forked
                # (the worker's pool processes) as well.
                start_new_session=True,
                preexec_fn=_die_with_parent,
            )
        child = Child(name=name, process=process, log_path=log_path)
        self.children.append(child)
        return child

    def check(self) -> None:
        """CommandError with the tail of its log if a child has exited."""
        for child in self.children:
            code = child.process.poll()
            if code is not None:
                tail = child.log_path.read_text(errors="replace").splitlines()[-20:]
                raise CommandError(
                    f"{child.name} 意外退出 / {child.name} exited unexpectedly (code {code}). "
                    f"{child.log_path}:\n" + "\n".join(tail)
                )

    def stop_all(self) -> None:
        running = [c for c in self.children if c.process.poll() is None]
        for child in running:
            # The leader only: a worker stops its own pool after finishing the task in hand.
            with contextlib.suppress(ProcessLookupError):
                child.process.terminate()
        deadline = time.monotonic() + STOP_TIMEOUT
        for child in running:
            with contextlib.suppress(subprocess.TimeoutExpired):
                child.process.wait(timeout=max(0.1, deadline - time.monotonic()))
        for child in self.children:
            # A group can outlive its leader (a pool process): whatever is left is killed.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(child.process.pid, signal.SIGKILL)
            child.process.wait()
        self.children = []

    def wait_http(self, url: str, name: str, timeout: float = 60) -> None:
        """Until ``url`` answers below 500; CommandError if a child dies or time runs out."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.check()
            with contextlib.suppress(requests.RequestException):
                if requests.get(url, timeout=2).status_code < 500:
                    return
            time.sleep(0.2)
        raise CommandError(f"{name} 没有响应 / {name} did not answer at {url} within {timeout} s")
