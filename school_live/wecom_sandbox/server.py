"""Serve the sandbox on loopback from a background thread, one thread per request."""

import ipaddress
import logging
import socket
import threading
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer

from .app import SandboxApp
from .callback_sender import CallbackPump
from .district import SandboxDistrict, as_district
from .state import SandboxState

logger = logging.getLogger(__name__)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class _ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True  # a hung client must not keep the process alive
    allow_reuse_address = True


class _ThreadingWSGIServer6(_ThreadingWSGIServer):
    address_family = socket.AF_INET6


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - the signature is the stdlib's
        # Access tokens travel in the query string: never print request lines.
        logger.debug("sandbox %s", self.command)


class SandboxServer:
    """SandboxServer(state, port=0).start() → .url; or use it as a context manager.
    SandboxServer([state_a, state_b]) or SandboxServer(district) serves several corps at once;
    .state is then the first (default) one, .district all of them.

    The control API has no authentication, so the server refuses any non-loopback address."""

    def __init__(
        self,
        state: SandboxState | SandboxDistrict | list[SandboxState],
        host: str = "127.0.0.1",
        port: int = 0,
    ):
        if not is_loopback(host):
            raise ValueError(f"the WeCom sandbox binds loopback addresses only, not {host!r}")
        self.district = as_district(state)
        self.state = self.district.default
        self.host = "127.0.0.1" if host == "localhost" else host
        self.port = port
        self._server: WSGIServer | None = None
        self._thread: threading.Thread | None = None
        self._callbacks: CallbackPump | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def start(self) -> "SandboxServer":
        server_class = _ThreadingWSGIServer6 if ":" in self.host else _ThreadingWSGIServer
        self._server = server_class((self.host, self.port), _QuietHandler)
        self._server.set_app(SandboxApp(self.district))
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.1},
            name=f"wecom-sandbox-{self.port}",
            daemon=True,
        )
        self._thread.start()
        # Livings change status by the clock, not only by requests: a thread watches every
        # corp's and calls that corp's callback URL when one does.
        self._callbacks = CallbackPump(self.district.states).start(
            f"wecom-sandbox-callbacks-{self.port}"
        )
        if self.district.vendor is not None:
            self.district.vendor.start()  # its suite_ticket pushes (suite_vendor.py)
        return self

    def serve_forever(self) -> None:
        """Block until stop() is called from another thread (or the thread is interrupted)."""
        if self._thread is None:
            self.start()
        while self._thread is not None and self._thread.is_alive():
            self._thread.join(0.5)

    def stop(self) -> None:
        if self.district.vendor is not None:
            self.district.vendor.stop()
        if self._callbacks is not None:
            self._callbacks.stop()
            self._callbacks = None
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(5)
        self._server = None
        self._thread = None

    def __enter__(self) -> "SandboxServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
