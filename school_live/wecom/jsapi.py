"""JS-SDK registration (docs 90506, 96909; api.md §15): tickets and signatures for ``ww.register``.

The page asks for two signatures of its own URL: one with the corp's jsapi_ticket (``config``) and
one with the app's ticket (``agentConfig``, needed for ``startLiving``). WeCom allows at most 400
corp-ticket and 100 app-ticket fetches an hour (45009 beyond), so each ticket is kept in the shared
cache for its lifetime, one process fetches at a time, and an hourly counter refuses to fetch past
the limit even if the cache was emptied.
"""

import dataclasses
import hashlib
import secrets
import time
from urllib.parse import urldefrag

from django.views.decorators.debug import sensitive_variables

from school_live.wecom.errors import BUSY, FREQUENCY_LIMIT, WeComTransientError
from school_live.wecom.single_flight import single_flight

CORP = "corp"
AGENT = "agent"
# doc 90506: per corp ≤ 400 an hour; per app ≤ 100 an hour.
HOURLY_LIMITS = {CORP: 400, AGENT: 100}
EXPIRY_MARGIN = 300
LOCK_TIMEOUT = 30
LOCK_POLL = 0.05
MAX_URL_LENGTH = 2048


def jsapi_signature(*, ticket: str, noncestr: str, timestamp: int | str, url: str) -> str:
    """sha1 over ``jsapi_ticket=…&noncestr=…&timestamp=…&url=…`` in exactly this order, the URL
    as the page sees it without its fragment and without URL-encoding (doc 90506)."""
    url = urldefrag(url).url
    text = f"jsapi_ticket={ticket}&noncestr={noncestr}&timestamp={timestamp}&url={url}"
    return hashlib.sha1(text.encode()).hexdigest()  # noqa: S324 - WeCom's scheme


@dataclasses.dataclass(frozen=True)
class Signature:
    timestamp: int
    nonce_str: str
    signature: str

    def as_json(self) -> dict:
        # The field names ww.register expects from getConfigSignature / getAgentConfigSignature.
        return {
            "timestamp": self.timestamp,
            "nonceStr": self.nonce_str,
            "signature": self.signature,
        }


class TicketStore:
    """The corp and app tickets of one client, shared by every process through its cache."""

    def __init__(self, client, *, lock_wait: float = LOCK_TIMEOUT + 5):
        self.client = client
        self.cache = client.cache
        self.lock_wait = lock_wait
        digest = hashlib.sha256(
            f"{client.base_url}\n{client.corp_id}\n{client.agent_id}".encode()
        ).hexdigest()[:24]
        self._prefix = f"wecom:jsapi:{digest}"

    def _key(self, kind: str, what: str) -> str:
        return f"{self._prefix}:{kind}:{what}"

    @sensitive_variables("ticket")
    def ticket(self, kind: str) -> str:
        """The cached ticket; fetched by one process at a time when there is none."""

        def lock_outlived() -> str:
            raise WeComTransientError(
                BUSY, "another process is fetching the JS-SDK ticket", "get_jsapi_ticket"
            )

        return single_flight(
            self.cache,
            key=self._key(kind, "ticket"),
            lock=self._key(kind, "lock"),
            fetch=lambda: self._fetch(kind),
            lock_timeout=LOCK_TIMEOUT,
            wait=self.lock_wait,
            on_timeout=lock_outlived,
            poll=LOCK_POLL,
        )

    def fetches_this_hour(self, kind: str) -> int:
        return self.cache.get(self._hour_key(kind), 0)

    def _hour_key(self, kind: str) -> str:
        return self._key(kind, f"fetches:{int(time.time() // 3600)}")

    @sensitive_variables("ticket")
    def _fetch(self, kind: str) -> str:
        counter = self._hour_key(kind)
        self.cache.add(counter, 0, timeout=3700)
        try:
            fetched = self.cache.incr(counter)
        except ValueError:  # expired between add and incr
            self.cache.set(counter, 1, timeout=3700)
            fetched = 1
        endpoint = "ticket/get" if kind == AGENT else "get_jsapi_ticket"
        if fetched > HOURLY_LIMITS[kind]:
            raise WeComTransientError(
                FREQUENCY_LIMIT,
                f"more than {HOURLY_LIMITS[kind]} JS-SDK ticket fetches this hour; "
                "wait for the next hour",
                endpoint,
                retry_after=3600 - time.time() % 3600,
            )
        ticket, expires_in = self.client.get_jsapi_ticket(agent=(kind == AGENT))
        timeout = max(1, expires_in - min(EXPIRY_MARGIN, expires_in // 2))
        self.cache.set(self._key(kind, "ticket"), ticket, timeout=timeout)
        return ticket

    def sign(self, url: str, *, kind: str) -> Signature:
        """A signature of ``url`` for ``ww.register``; ``kind`` is CORP or AGENT."""
        timestamp = int(time.time())
        nonce = secrets.token_urlsafe(12)
        ticket = self.ticket(kind)
        return Signature(
            timestamp=timestamp,
            nonce_str=nonce,
            signature=jsapi_signature(ticket=ticket, noncestr=nonce, timestamp=timestamp, url=url),
        )
