"""The one chokepoint for WeCom traffic: URLs, the access token, errcodes and pagination live here.

Callers get frozen records (``records.py``) or typed errors (``errors.py``), never a raw dict.

- One ``requests.Session`` (``transport.py``), which retries nothing itself.
- The access token lives in Django's cache, shared by every process, keyed by a hash of the base
  URL, corp id and secret. One process refreshes at a time (``single_flight``); the others poll
  the cache. On 40001/40014/42001 the token is dropped, refetched once and the call retried once.
- One retry loop per HTTP exchange (``_get_json``), the only one below the Celery task's: each
  transient failure goes to the ``waiter`` when there is one (a sync: sync/patience.py sleeps or
  re-raises), else to a short policy for web requests, which must not sit out a WeCom block: -1,
  HTTP 502/503/504 and network errors are asked again ``busy_retries`` / ``http_retries`` (3)
  times after ``retry_base_delay`` × 1, 2, 4; the rest is raised at once. ``message/send`` and
  ``externalcontact/message/send`` never go to the waiter and are repeated only when WeCom surely
  did nothing (-1, a connection never made): a lost reply may mean it was sent.
- Every request first takes its place in the corp's shared per-API budget (budget.py), so all
  processes together stay under WeCom's frequency limit instead of meeting 45009. When the
  budget is spent the call waits: through ``waiter`` (a sync; the error is ``RATE_BUDGET``), or
  here for at most ``budget_wait`` seconds (a web request), and then fails as transient.

``school_client()`` is the one way to use a school's client for a block of work;
``WeComClient.for_school(school)`` makes one for a ``School`` (the settings' for the default school).
"""

import hashlib
import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from django.conf import settings
from django.views.decorators.debug import sensitive_variables

from school_live.wecom.app_settings import AppSettings
from school_live.wecom.budget import RateBudget
from school_live.wecom.errors import (
    BUSY,
    CONFIG_ERROR,
    GETTOKEN,
    NETWORK_ERROR,
    RATE_BUDGET,
    TOKEN_ERRCODES,
    WeComConfigError,
    WeComDataError,
    WeComTransientError,
    error_for,
)
from school_live.wecom.living_writes import LivingWrites
from school_live.wecom.reader import Reader
from school_live.wecom.records import (
    LivingInfo,
    MessageResult,
    UnwatchStatPage,
    UserIdentity,
    WatchStatPage,
)
from school_live.wecom.redact import install_filter, register_secret
from school_live.wecom.school_contacts import SchoolContacts
from school_live.wecom.school_notices import SchoolNotices
from school_live.wecom.single_flight import single_flight
from school_live.wecom.transport import (
    WeComConnectError,
    WeComGatewayError,
    request_send,
    response_decode,
    session_make,
)

logger = logging.getLogger(__name__)

DEFAULT_TIMEOUT = (3.05, 20)
# Refresh a little before WeCom's expiry so a token never dies between cache read and use.
TOKEN_EXPIRY_MARGIN = 300
# Longer than a normal gettoken; if a slow one outlives it, the cost is one extra gettoken.
TOKEN_LOCK_TIMEOUT = 30
TOKEN_LOCK_POLL = 0.05
MAX_LIVINGID_LIMIT = 100


class WeComClient(LivingWrites, SchoolContacts, SchoolNotices, AppSettings):
    """A WeCom app (corp id + secret) on one base URL. Cheap to create; not shared across threads."""

    def __init__(
        self,
        *,
        base_url: str | None = None,
        corp_id: str | None = None,
        secret: str | None = None,
        agent_id: int | None = None,
        timeout: tuple[float, float] = DEFAULT_TIMEOUT,
        cache=None,
        retry_base_delay: float = 0.2,
        busy_retries: int = 3,
        http_retries: int = 3,
        max_pages: int = 100_000,
        token_lock_wait: float = TOKEN_LOCK_TIMEOUT + 5,
        sleep: Callable[[float], None] = time.sleep,
        waiter: Callable[[WeComTransientError, int], None] | None = None,
        calls_per_minute: int | None = None,
        budget_wait: float = 15.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        install_filter()
        self.base_url = (base_url or settings.WECOM_API_BASE).rstrip("/")
        self.corp_id = corp_id if corp_id is not None else settings.WECOM_CORP_ID
        self.__secret = secret if secret is not None else settings.WECOM_SECRET
        self.agent_id = agent_id if agent_id is not None else settings.WECOM_AGENT_ID
        if not self.corp_id:
            raise WeComConfigError(
                CONFIG_ERROR,
                "the corp id is missing: set the WECOM_CORP_ID environment variable "
                "(管理后台 → 我的企业 → 企业ID).",
                "WECOM_CORP_ID",
            )
        if not self.__secret:
            raise WeComConfigError(
                CONFIG_ERROR,
                "the app secret is missing: set the WECOM_SECRET environment variable "
                "(管理后台 → 应用管理 → the self-built app → Secret).",
                "WECOM_SECRET",
            )
        register_secret(self.__secret)
        self.timeout = timeout
        self.retry_base_delay = retry_base_delay
        self.busy_retries = busy_retries
        self.max_pages = max_pages
        self.token_lock_wait = token_lock_wait
        self._sleep = sleep
        self.waiter = waiter
        if cache is None:
            from django.core.cache import cache as default_cache

            cache = default_cache
        self.cache = cache
        digest = hashlib.sha256(
            f"{self.base_url}\n{self.corp_id}\n{self.__secret}".encode()
        ).hexdigest()[:24]
        self._token_key = f"wecom:access_token:{digest}"
        self._lock_key = f"wecom:access_token_lock:{digest}"
        # WeCom's limit is the corp's, whatever app (secret) calls.
        scope = hashlib.sha256(f"{self.base_url}\n{self.corp_id}".encode()).hexdigest()[:16]
        self.budget = RateBudget(cache=cache, scope=scope, per_minute=calls_per_minute, clock=clock)
        self.budget_wait = budget_wait
        self.http_retries = http_retries
        self.session = session_make()

    @classmethod
    def from_settings(cls, **overrides: Any) -> "WeComClient":
        return cls(**overrides)

    @classmethod
    def for_school(cls, school, **overrides: Any) -> "WeComClient":
        """The client of a ``School``: its corp id, secret and agent id (the settings' for the
        default school); one it lacks is named with where to enter it, not as a variable."""
        corp_id, secret = school.wecom_corp_id, school.wecom_secret()
        if not school.from_environment and not (corp_id and secret):
            missing = "corp id" if not corp_id else "app secret"
            raise WeComConfigError(
                CONFIG_ERROR,
                f"the {missing} is missing: enter it in the admin (学校 → {school.name}).",
                f"school #{school.pk}",
            )
        options = {"corp_id": corp_id, "secret": secret, "agent_id": school.wecom_agent_id}
        return cls(**{**options, **overrides})

    def __repr__(self) -> str:
        return f"<WeComClient corp_id={self.corp_id!r} base_url={self.base_url!r}>"

    def close(self) -> None:
        self.session.close()

    def __enter__(self) -> "WeComClient":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # --- access token --------------------------------------------------------------------------

    # WeCom doc 91039: gettoken
    def get_access_token(self) -> str:
        """The shared cached token, fetched from WeCom only when no process has a valid one."""
        token = self.cache.get(self._token_key)
        if token:
            return token
        return self._refresh_token(stale=None)

    def _refresh_token(self, *, stale: str | None) -> str:
        def lock_outlived() -> str:
            # The holder died or hangs; its lock will expire, but do not wait for it.
            logger.warning("WeCom token lock still held after %.0f s", self.token_lock_wait)
            return self._fetch_and_store_token()

        return single_flight(
            self.cache,
            key=self._token_key,
            lock=self._lock_key,
            fetch=self._fetch_and_store_token,
            lock_timeout=TOKEN_LOCK_TIMEOUT,
            wait=self.token_lock_wait,
            on_timeout=lock_outlived,
            stale=stale,
            poll=TOKEN_LOCK_POLL,
        )

    @sensitive_variables("token", "params", "data", "query")
    def _fetch_and_store_token(self) -> str:
        params = {"corpid": self.corp_id, "corpsecret": self.__secret}
        data = self._get_json("GET", "gettoken", GETTOKEN, params=params)
        reader = Reader.root(GETTOKEN, data)
        token = reader.string("access_token", required=True)
        expires_in = reader.integer("expires_in", default=7200)
        if expires_in <= 0:
            raise reader.fail("expires_in", "must be a positive number of seconds", expires_in)
        register_secret(token)
        # Keep the token until shortly before WeCom's expiry, never past it, however short
        # the lifetime WeCom grants.
        timeout = max(1, expires_in - min(TOKEN_EXPIRY_MARGIN, expires_in // 2))
        self.cache.set(self._token_key, token, timeout=timeout)
        return token

    def _drop_token(self, used: str) -> None:
        """Forget the cached token, unless another process already replaced it."""
        if self.cache.get(self._token_key) == used:
            self.cache.delete(self._token_key)

    # --- transport -----------------------------------------------------------------------------

    def _get_json(
        self, method: str, path: str, endpoint: str, *, params: dict, body: Any = None
    ) -> dict:
        """One HTTP exchange, asked again while ``_retry_wait`` allows: the decoded body, or the
        typed error of a non-zero errcode (token errors are returned: the caller handles them)."""
        attempt = 0
        while True:
            try:
                return self._exchange(method, path, endpoint, params=params, body=body)
            except WeComTransientError as error:
                if error.errcode == RATE_BUDGET:
                    raise  # nothing was sent, and _budget_take has waited already
                attempt += 1
                self._retry_wait(path, error, attempt)  # sleeps, or re-raises

    def _retry_wait(self, path: str, error: WeComTransientError, attempt: int) -> None:
        """After the ``attempt``-th transient failure of one exchange: sleep, or raise ``error``."""
        if "message/" in path:
            # A lost reply may mean the message went out: only what WeCom surely did not do.
            if error.errcode != BUSY and not isinstance(error, WeComConnectError):
                raise error
        elif self.waiter is not None:
            self.waiter(error, attempt)  # sleeps, or re-raises
            return
        # 45009, 45033 and other HTTP errors: a web request does not wait them out.
        network = error.errcode == NETWORK_ERROR or isinstance(error, WeComGatewayError)
        retries = self.busy_retries if error.errcode == BUSY else self.http_retries * network
        if attempt > retries:
            raise error
        self._sleep(self.retry_base_delay * 2 ** (attempt - 1))

    def _exchange(
        self, method: str, path: str, endpoint: str, *, params: dict, body: Any = None
    ) -> dict:
        """One request, once: the decoded body, or the typed error of its errcode."""
        self._budget_take(endpoint)
        started = time.monotonic()
        response = request_send(
            self.session,
            method,
            f"{self.base_url}/cgi-bin/{path}",
            endpoint,
            params=params,
            body=body,
            timeout=self.timeout,
        )
        elapsed_ms = (time.monotonic() - started) * 1000
        data = response_decode(response, endpoint, elapsed_ms)
        # Every WeCom answer carries errcode (doc 90313); without it, success is a guess.
        errcode = Reader.root(endpoint, data).integer("errcode", required=True)
        log = logger.debug if errcode == 0 else logger.info
        log("WeCom %s errcode=%s %.0f ms", endpoint, errcode, elapsed_ms)
        if errcode == 0:
            return data
        if errcode in TOKEN_ERRCODES and endpoint != GETTOKEN:
            return data
        raise error_for(errcode, data.get("errmsg", ""), endpoint)

    def _budget_take(self, endpoint: str) -> None:
        """Wait until the shared budget lets one more call to ``endpoint`` go."""
        waited, attempt = 0.0, 0
        while (seconds := self.budget.take(endpoint)) > 0:
            attempt += 1
            error = WeComTransientError(
                RATE_BUDGET, "rate budget spent", endpoint, retry_after=seconds
            )
            if self.waiter is not None:
                self.waiter(error, attempt)  # sleeps, or re-raises
                continue
            if waited + seconds > self.budget_wait:
                raise error
            logger.info("WeCom %s: rate budget spent, waiting %.1f s", endpoint, seconds)
            self._sleep(seconds)
            waited += seconds

    @sensitive_variables("token", "params", "data", "query")
    def _call(
        self, method: str, path: str, *, params: dict | None = None, body: Any = None
    ) -> dict:
        """An API call with the access token: refresh once on a token error, then give up.
        Transient failures are retried per exchange (``_get_json``), the token's included."""
        endpoint = path
        refreshed = False
        token = self.get_access_token()
        while True:
            data = self._get_json(
                method, path, endpoint, params={**(params or {}), "access_token": token}, body=body
            )
            errcode = data.get("errcode", 0)
            if errcode == 0:
                return data
            if refreshed:
                raise error_for(errcode, data.get("errmsg", ""), endpoint)
            logger.info("WeCom %s rejected the token (errcode=%s); refreshing", endpoint, errcode)
            self._drop_token(token)
            token = self._refresh_token(stale=token)
            refreshed = True

    def _paginate(
        self,
        path: str,
        livingid: str,
        parse: Callable[[Reader], WatchStatPage | UnwatchStatPage],
    ) -> Iterator:
        """V1 stat pagination: ``next_key`` "0" first; stop only when ``ending`` is 1."""
        next_key = "0"
        for _ in range(self.max_pages):
            data = self._call("POST", path, body={"livingid": livingid, "next_key": next_key})
            page = parse(Reader.root(path, data))
            empty = not page.students and not getattr(page, "visitors", ())
            if page.ending == 0 and empty and page.next_key == next_key:
                raise WeComDataError(
                    f"an empty page with ending 0 and an unchanged next_key {next_key!r} "
                    "(pagination would never end)",
                    path,
                )
            yield page
            if page.ending == 1:
                return
            next_key = page.next_key
        raise WeComDataError(f"more than {self.max_pages} pages without ending 1", path)

    # --- 上课直播 ------------------------------------------------------------------------------

    # WeCom doc 93741: get_watch_stat
    def iter_watch_stat(self, livingid: str) -> Iterator[WatchStatPage]:
        return self._paginate("school/living/get_watch_stat", livingid, WatchStatPage.from_wecom)

    # WeCom doc 93742: get_unwatch_stat
    def iter_unwatch_stat(self, livingid: str) -> Iterator[UnwatchStatPage]:
        return self._paginate(
            "school/living/get_unwatch_stat", livingid, UnwatchStatPage.from_wecom
        )

    # WeCom doc 93740: school/living/get_living_info
    def get_living_info(self, livingid: str) -> LivingInfo:
        path = "school/living/get_living_info"
        data = self._call("GET", path, params={"livingid": livingid})
        return LivingInfo.from_wecom(Reader.root(path, data), livingid)

    # WeCom doc 93739: living/get_user_all_livingid
    def iter_user_livingids(self, userid: str, limit: int = MAX_LIVINGID_LIMIT) -> Iterator[str]:
        """Every livingid this app created for the teacher; stops when next_cursor is ""."""
        if not 1 <= limit <= MAX_LIVINGID_LIMIT:
            raise ValueError(f"limit must be between 1 and {MAX_LIVINGID_LIMIT}")
        path = "living/get_user_all_livingid"
        cursor: str | None = None
        for _ in range(self.max_pages):
            body: dict[str, Any] = {"userid": userid, "limit": limit}
            if cursor is not None:
                body["cursor"] = cursor
            reader = Reader.root(path, self._call("POST", path, body=body))
            yield from reader.strings("livingid_list")
            next_cursor = reader.string("next_cursor")
            if next_cursor == "":
                return
            if next_cursor == cursor:
                raise WeComDataError(
                    f"next_cursor {next_cursor!r} did not change (pagination would never end)",
                    path,
                )
            cursor = next_cursor
        raise WeComDataError(f"more than {self.max_pages} pages", path)

    # --- sign-in and messages ------------------------------------------------------------------

    # WeCom doc 91023: auth/getuserinfo
    def get_user_identity(self, code: str) -> UserIdentity:
        path = "auth/getuserinfo"
        reader = Reader.root(path, self._call("GET", path, params={"code": code}))
        return UserIdentity.from_wecom(reader)

    def _agentid(self, agentid: int | None) -> int:
        """The AgentId a call names: the one given, or the app's own from the settings."""
        agentid = agentid if agentid is not None else self.agent_id
        if agentid is None:
            raise WeComConfigError(
                CONFIG_ERROR,
                "the app's AgentId is missing: set the WECOM_AGENT_ID environment variable.",
                "WECOM_AGENT_ID",
            )
        return int(agentid)

    # WeCom doc 90236: message/send
    def send_message(
        self,
        *,
        touser: list[str],
        msgtype: str,
        body: dict,
        agentid: int | None = None,
    ) -> MessageResult:
        """``body`` holds the payload keyed by msgtype, e.g. ``{"textcard": {...}}``."""
        if not touser:
            raise ValueError("touser must name at least one userid")
        if msgtype not in body:
            raise ValueError(f"body must contain the {msgtype!r} payload")
        agentid = self._agentid(agentid)
        path = "message/send"
        payload = {**body, "touser": "|".join(touser), "msgtype": msgtype, "agentid": agentid}
        reader = Reader.root(path, self._call("POST", path, body=payload))
        return MessageResult.from_wecom(reader)


@contextmanager
def school_client(
    client: WeComClient | None = None, *, school=None, **overrides: Any
) -> Iterator[WeComClient]:
    """A school's client for a block: ``client`` when the caller has one (it stays the caller's
    to close), else one made for ``school`` (or from the settings without one; ``overrides``
    passed on) and closed after the block, so a worker keeps no idle connection to WeCom per
    task it ran. A missing setting raises ``WeComConfigError`` before the block runs."""
    if client is not None:
        yield client
        return
    if school is None:
        own = WeComClient.from_settings(**overrides)
    else:
        own = WeComClient.for_school(school, **overrides)
    with own:
        yield own
