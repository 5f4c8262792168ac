"""The sandbox calls the app's 接收消息 URL as WeCom does (api.md §16, doc 94145).

When one of the app's livings changes WeCom status, the sandbox POSTs a real encrypted
``living_status_change`` event: ``?msg_signature=…&timestamp=…&nonce=…`` with the outer
``<xml><ToUserName/><AgentID/><Encrypt/></xml>`` body, sealed by the same ``CallbackCrypto`` the
site opens it with. Statuses come from the clock (``Living.status(now)``), so a lesson that
starts or ends by itself, one started or ended by a test, ``living/cancel``, ``ww.startLiving``
and a jump of the sandbox clock are all noticed the same way: ``collect`` compares each living's
status with the one last called back.

- Only the app's own livings are called back (WeCom: "only livings created through the API by the
  app whose callback URL is set"); another app's (``foreign``) never are.
- Status 0 is where a created living starts, not a change: it is not called back. A status that
  skipped a step (a clock jump past both start and end) is called back step by step, 1 then 2, as
  WeCom would have done while it happened. 3 (expired) never happens in the sandbox.
- ``drop`` (probability that an event is never sent), ``repeat`` (extra identical copies, WeCom's
  retries) and ``delay`` (seconds before sending) make the site face lost, repeated and late
  events; with a ``seed`` the choices are the same on every run.
- An event is sealed when it is sent, not when it is noticed: its signed ``timestamp`` is the
  real time of sending (what the site checks against its own clock), never the sandbox clock,
  which ``advance`` may have moved days ahead; ``CreateTime`` inside stays the sandbox's time of
  the change. The copies of one event are the same request (same signature and nonce): the site
  answers them as replays.

The HTTP calls happen on the server's pump thread (``CallbackPump``), outside the state's lock;
a refused connection or a non-200 answer is written to the log and never stops the sandbox. The
log and the config never hold the token or the key.
"""

import logging
import random
import threading
import time
from collections import deque
from dataclasses import dataclass, field

import requests

from school_live.wecom.callback_crypto import CallbackCrypto, CallbackError

logger = logging.getLogger(__name__)

SEND_TIMEOUT = 5  # seconds: WeCom waits this long for the answer (api.md §16)
TICK_SECONDS = 1.0  # how often the pump looks at the clock
LOG_LIMIT = 1000
MAX_REPEAT = 10
MAX_DELAY = 600.0
CALLED_BACK = (1, 2, 4)


@dataclass(frozen=True)
class CallbackConfig:
    url: str
    token: str = field(repr=False)
    aes_key: str = field(repr=False)
    drop: float = 0.0
    repeat: int = 0
    delay: float = 0.0
    seed: int | None = None

    def public(self) -> dict:
        """What the control API shows: never the token or the key."""
        return {
            "url": self.url,
            "drop": self.drop,
            "repeat": self.repeat,
            "delay": self.delay,
            "seed": self.seed,
        }


@dataclass
class Sealed:
    """One event, sealed once on its first sending; every copy sends what that sealed."""

    inner: str
    nonce: str
    params: dict | None = None
    body: bytes = b""


@dataclass(frozen=True)
class Delivery:
    due: float  # time.monotonic()
    livingid: str
    status: int
    copy: int
    event: Sealed


def steps(before: int, now: int) -> list[int]:
    """The statuses WeCom calls back on the way from ``before`` to ``now``."""
    if before == now or now == 0:
        return []
    if now == 4:
        return [4]
    if before == 0:
        return [s for s in (1, 2) if s <= now]
    return [now]  # 1 → 2, or a test that moved a living back (2 → 1)


def event_xml(
    *, corp_id: str, anchor: str, create_time: int, livingid: str, status: int, agent_id: int | str
) -> str:
    """The decrypted event of doc 94145."""
    return (
        f"<xml><ToUserName><![CDATA[{corp_id}]]></ToUserName>"
        f"<FromUserName><![CDATA[{anchor}]]></FromUserName>"
        f"<CreateTime>{create_time}</CreateTime><MsgType><![CDATA[event]]></MsgType>"
        "<Event><![CDATA[living_status_change]]></Event>"
        f"<LivingId><![CDATA[{livingid}]]></LivingId><Status>{status}</Status>"
        f"<AgentID>{agent_id}</AgentID></xml>"
    )


class CallbackSender:
    """One per SandboxState (``state.callbacks``): its config, what it last called back for each
    living, what waits to be sent, and the log of what was sent."""

    def __init__(self):
        self._lock = threading.Lock()
        self.wake = threading.Event()  # set when something may have changed: look now
        self._session = requests.Session()
        self._session.trust_env = False  # loopback: never through a proxy from the environment
        self.clear()

    def clear(self) -> None:
        """Off, with an empty log (state.reset())."""
        with self._lock:
            self.config: CallbackConfig | None = None
            self._crypto: CallbackCrypto | None = None
            self._rng = random.Random()
            self._notified: dict[str, int] = {}
            self._outbox: list[Delivery] = []
            self.log: deque[dict] = deque(maxlen=LOG_LIMIT)

    def poke(self) -> None:
        self.wake.set()

    def configure(
        self,
        state,
        *,
        url: str,
        token: str = "",
        aes_key: str = "",
        drop: float = 0.0,
        repeat: int = 0,
        delay: float = 0.0,
        seed: int | None = None,
    ) -> CallbackConfig | None:
        """Send to ``url`` from now on (an empty url switches callbacks off). Livings as they are
        now are not called back: only changes after this. ValueError for a bad value."""
        if not url:
            self.clear()
            return None
        config = _checked(url, token, aes_key, drop, repeat, delay, seed)
        try:
            crypto = CallbackCrypto(token=token, encoding_aes_key=aes_key, receive_id=state.corp_id)
        except CallbackError as error:
            raise ValueError(str(error)) from None
        with state.lock:
            now = state.clock()
            current = {
                lid: lv.status(now) for lid, lv in state.school.livings.items() if not lv.foreign
            }
            with self._lock:
                self.config = config
                self._crypto = crypto
                self._rng = random.Random(seed)
                self._notified = current
                self._outbox = []
                self.log.clear()
        self.poke()
        return config

    def snapshot(self) -> dict:
        with self._lock:
            return {
                "callbacks": self.config.public() if self.config else None,
                "pending": len(self._outbox),
                "log": list(self.log),
            }

    # -- on the pump's thread -------------------------------------------------------------------

    def collect(self, state) -> None:
        """Queue an event for each status change of the app's livings since the last look."""
        with state.lock, self._lock:
            if self.config is None or self._crypto is None:
                return
            now = state.clock()
            for livingid, living in state.school.livings.items():
                if living.foreign:
                    continue
                status = living.status(now)
                # A living first seen here was created since: it started out reserved.
                before = self._notified.get(livingid, 0)
                if before == status:
                    continue
                self._notified[livingid] = status
                for step in steps(before, status):
                    self._queue(state, living, step, now)

    def _queue(self, state, living, status: int, now: int) -> None:
        config, rng = self.config, self._rng
        if rng.random() < config.drop:
            self.log.append(_entry(now, living.livingid, status, 0, dropped=True))
            return
        inner = event_xml(
            corp_id=state.corp_id,
            anchor=living.anchor_userid,
            create_time=now,
            livingid=living.livingid,
            status=status,
            agent_id=state.agent_id,
        )
        event = Sealed(inner=inner, nonce=str(rng.randrange(10**9, 10**10)))
        due = time.monotonic() + config.delay
        for copy in range(config.repeat + 1):
            self._outbox.append(Delivery(due, living.livingid, status, copy, event))

    def send_due(self, state) -> float:
        """POST what is due, outside every lock; the seconds until the next delivery is due."""
        with self._lock:
            url = self.config.url if self.config else ""
            crypto = self._crypto
            now = time.monotonic()
            due = [d for d in self._outbox if d.due <= now]
            self._outbox = [d for d in self._outbox if d.due > now]
            wait = min((d.due - now for d in self._outbox), default=TICK_SECONDS)
        for delivery in due:
            event = delivery.event
            if event.params is None and crypto is not None:
                event.params, event.body = crypto.seal_post(
                    event.inner,
                    timestamp=str(int(time.time())),
                    nonce=event.nonce,
                    agent_id=str(state.agent_id),
                )
            http_status, error = self._post(url, delivery)
            entry = _entry(
                state.clock(), delivery.livingid, delivery.status, delivery.copy, http=http_status
            )
            entry["error"] = error
            with self._lock:
                if self.config is not None and self.config.url == url:
                    self.log.append(entry)
        return wait

    def _post(self, url: str, delivery: Delivery) -> tuple[int | None, str]:
        try:
            answer = self._session.post(
                url,
                params=delivery.event.params,
                data=delivery.event.body,
                headers={"Content-Type": "text/xml; charset=utf-8"},
                timeout=SEND_TIMEOUT,
                allow_redirects=False,
            )
        except requests.RequestException as error:
            reason = type(error).__name__
            logger.info("sandbox callback for %s not delivered: %s", delivery.livingid, reason)
            return None, reason
        if answer.status_code != 200:
            return answer.status_code, answer.text[:200]
        return 200, ""


def _entry(at: int, livingid: str, status: int, copy: int, *, http=None, dropped=False) -> dict:
    return {
        "at": at,
        "livingid": livingid,
        "status": status,
        "copy": copy,
        "http_status": http,
        "dropped": dropped,
        "error": "",
    }


def _checked(url, token, aes_key, drop, repeat, delay, seed) -> CallbackConfig:
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise ValueError("url must be an http:// or https:// URL")
    if not isinstance(token, str) or not token or not isinstance(aes_key, str):
        raise ValueError("give the app's callback token and its 43-character aes_key")
    try:
        drop, delay = float(drop), float(delay)
    except (TypeError, ValueError):
        raise ValueError("drop and delay must be numbers") from None
    if not 0.0 <= drop <= 1.0:
        raise ValueError("drop is a probability between 0 and 1")
    if isinstance(repeat, bool) or not isinstance(repeat, int) or not 0 <= repeat <= MAX_REPEAT:
        raise ValueError(f"repeat is a whole number of extra copies, 0 to {MAX_REPEAT}")
    if not 0.0 <= delay <= MAX_DELAY:
        raise ValueError(f"delay is 0 to {MAX_DELAY:.0f} seconds")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise ValueError("seed must be an integer")
    return CallbackConfig(url, token, aes_key, drop, repeat, delay, seed)


class CallbackPump:
    """The server's thread that notices status changes (every TICK_SECONDS, or at once when a
    sender is poked) and sends what is due, for every corp the server serves (CallbackPump(state)
    or CallbackPump([state, ...])), one corp after another. Nothing it meets may stop it."""

    def __init__(self, states):
        self.states = [states] if hasattr(states, "callbacks") else list(states)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        # One event wakes the pump whichever corp's sender is poked.
        self._wake = threading.Event()
        for state in self.states:
            state.callbacks.wake = self._wake

    def start(self, name: str = "wecom-sandbox-callbacks") -> "CallbackPump":
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.clear()
            wait = TICK_SECONDS
            for state in self.states:
                try:
                    state.callbacks.collect(state)
                    wait = min(wait, state.callbacks.send_due(state))
                except Exception:  # a bug here must not take the sandbox down
                    logger.exception("sandbox callbacks: one round failed for %s", state.corp_id)
            self._wake.wait(max(0.01, min(TICK_SECONDS, wait)))

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(SEND_TIMEOUT + 1)
        self._thread = None
