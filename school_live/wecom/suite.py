"""The vendor's side of the 代开发 app (api.md §18): one deployment serving many schools.

- ``SuiteSettings``: the six ``WECOM_PROVIDER_*`` / ``WECOM_SUITE_*`` settings; ``None`` when any
  is unset, and the product is then the single-school app it always was.
- ``SuiteClient``: the provider token (get_provider_token, 96237), the suite token
  (get_suite_token, 97162, from the newest ``suite_ticket`` WeCom pushed), the install QR's URL
  (get_customized_auth_url, 98744), a school's secret (get_permanent_code, 97163) and the
  authorisation's details (get_auth_info, 100795). Where the school's app stands (agent/get's
  customized_publish_status) is read with the school's own client (``get_agent``).

Both tokens are cached in the shared cache for every process, keyed per provider / suite (and
base URL), fetched by one process at a time (``single_flight``); a token WeCom rejects (40082,
42009) is dropped and fetched once more. The token answers carry no ``errcode`` on success
(97162: "该接口在调用失败时才返回errcode"), so here a missing errcode means success.

No rate budget and no retry loop: these calls are a handful per install. What fails transiently
(busy, network) is raised typed, and the install task tries again later.
"""

import hashlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.views.decorators.debug import sensitive_variables

from school_live.wecom.errors import (
    CONFIG_ERRCODES,
    CONFIG_ERROR,
    TRANSIENT_ERRCODES,
    WeComConfigError,
    WeComError,
    WeComTransientError,
)
from school_live.wecom.reader import Reader
from school_live.wecom.redact import install_filter, register_secret
from school_live.wecom.single_flight import single_flight
from school_live.wecom.suite_records import AuthInfo, AuthUrl, PermanentCode
from school_live.wecom.transport import request_send, response_decode, session_make

logger = logging.getLogger(__name__)

DEFAULT_TIMEOUT = (3.05, 20)
TOKEN_EXPIRY_MARGIN = 300
TOKEN_LOCK_TIMEOUT = 30

GET_PROVIDER_TOKEN = "service/get_provider_token"  # noqa: S105 - a path, not a secret
GET_SUITE_TOKEN = "service/get_suite_token"  # noqa: S105 - a path, not a secret
AUTH_URL = "service/get_customized_auth_url"
PERMANENT_CODE = "service/get_permanent_code"
AUTH_INFO = "service/v2/get_auth_info"

# The errcodes of the vendor's calls (api.md §18.4, §18.7, §20.2).
SUITE_TOKEN_ERRCODES = frozenset({40082, 42009})  # bad or expired suite / provider token
INVALID_SUITE_TICKET = 40085
AUTH_CODE_USED = 40078  # the AuthCode was used already, or is older than 10 minutes
INVALID_PERMANENT_CODE = 40084  # the school cancelled, or the secret was reset
SUITE_CONFIG_ERRCODES = frozenset(
    {40013, 40080, 40083, INVALID_SUITE_TICKET, 48001, 60020, 84019, 84020}
)

_SUITE_HINTS = {
    40013: "wrong corp id: check WECOM_PROVIDER_CORP_ID (服务商后台 → 服务商信息 → 基本信息 → CorpID).",
    40080: "invalid suite_secret: check WECOM_SUITE_SECRET (服务商后台 → 应用代开发 → the template → Secret).",
    40083: "invalid SuiteId: check WECOM_SUITE_ID (the 代开发 template's id, starting with dk).",
    INVALID_SUITE_TICKET: (
        "no valid suite_ticket (invalid suite ticket): WeCom pushes one every 10 minutes to "
        "/wecom/suite/callback/ once that URL is verified; wait for the next push, or press "
        "刷新ticket in 服务商后台 → 应用代开发 → the template → 回调配置."
    ),
    40082: (
        "WeCom rejected the suite or provider token again right after a refresh: check "
        "WECOM_SUITE_SECRET and WECOM_PROVIDER_SECRET."
    ),
    42009: "the suite token expired again right after a refresh; try again.",
    AUTH_CODE_USED: (
        "the AuthCode was already used or is older than 10 minutes (不合法的auth_code): the "
        "school's admin must scan the install QR again."
    ),
    INVALID_PERMANENT_CODE: (
        "the school's secret (permanent_code) is no longer valid: the school cancelled the "
        "authorisation, or its secret was reset."
    ),
    48001: "this call is not authorised for the vendor (API功能未授权): is the school still authorised?",
    60020: (
        "this server's IP is not in the vendor's IP whitelist: add it in 服务商后台 → 服务商信息 → "
        "基本信息 → IP白名单."
    ),
    84019: "the template id is missing: check WECOM_SUITE_ID.",
    84020: "the template does not exist: check WECOM_SUITE_ID (is the template 上线?).",
}


class SuiteError(WeComError):
    """A vendor call failed; ``str()`` says what to change, never a secret."""

    def hint(self) -> str:
        return _SUITE_HINTS.get(self.errcode) or super().hint()


class SuiteConfigError(SuiteError, WeComConfigError):
    """The vendor's settings or 服务商后台 are set up wrongly."""


class SuiteTransientError(SuiteError, WeComTransientError):
    """Busy, rate-limited, network: try again later."""


def suite_error_for(errcode: int, errmsg: Any, endpoint: str) -> SuiteError:
    if errcode in TRANSIENT_ERRCODES:
        return SuiteTransientError(errcode, str(errmsg), endpoint)
    if errcode in SUITE_CONFIG_ERRCODES or errcode in CONFIG_ERRCODES:
        return SuiteConfigError(errcode, str(errmsg), endpoint)
    return SuiteError(errcode, str(errmsg), endpoint)


SETTING_NAMES = (
    "WECOM_PROVIDER_CORP_ID",
    "WECOM_PROVIDER_SECRET",
    "WECOM_SUITE_ID",
    "WECOM_SUITE_SECRET",
    "WECOM_SUITE_TOKEN",
    "WECOM_SUITE_AES_KEY",
)


@dataclass(frozen=True)
class SuiteSettings:
    """The vendor's credentials (服务商后台): never in a repr."""

    provider_corp_id: str
    provider_secret: str = field(repr=False)
    suite_id: str
    suite_secret: str = field(repr=False)
    token: str = field(repr=False)
    aes_key: str = field(repr=False)

    @classmethod
    def from_settings(cls) -> "SuiteSettings | None":
        """The configured suite, or None when any of the six settings is unset."""
        values = [getattr(settings, name, "") or "" for name in SETTING_NAMES]
        if not all(values):
            return None
        for secret in values[1:]:
            register_secret(secret)
        return cls(*values)


def suite_missing_settings() -> list[str]:
    """The names of the vendor settings that are unset, for a message that says what to set."""
    return [name for name in SETTING_NAMES if not getattr(settings, name, "")]


def _digest(*parts: str) -> str:
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:24]


class SuiteClient:
    """The vendor's calls on one base URL. ``ticket`` returns the newest stored suite_ticket
    ("" when none arrived yet). Cheap to create; not shared across threads."""

    def __init__(
        self,
        suite: SuiteSettings,
        *,
        ticket: Callable[[], str],
        base_url: str | None = None,
        cache=None,
        timeout: tuple[float, float] = DEFAULT_TIMEOUT,
        token_lock_wait: float = TOKEN_LOCK_TIMEOUT + 5,
    ) -> None:
        install_filter()
        self.suite = suite
        self._ticket = ticket
        self.base_url = (base_url or settings.WECOM_API_BASE).rstrip("/")
        if cache is None:
            from django.core.cache import cache as default_cache

            cache = default_cache
        self.cache = cache
        self.timeout = timeout
        self.token_lock_wait = token_lock_wait
        provider = _digest(self.base_url, suite.provider_corp_id, suite.provider_secret)
        self._provider_key = f"wecom:provider_token:{provider}"
        suite_digest = _digest(self.base_url, suite.suite_id, suite.suite_secret)
        self._suite_key = f"wecom:suite_token:{suite_digest}"
        self.session = session_make()

    def __repr__(self) -> str:
        return f"<SuiteClient suite_id={self.suite.suite_id!r} base_url={self.base_url!r}>"

    def close(self) -> None:
        self.session.close()

    def __enter__(self) -> "SuiteClient":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # --- HTTP ---------------------------------------------------------------------------------

    @sensitive_variables("params", "body", "data")
    def _exchange(self, path: str, *, params: dict, body: dict) -> dict:
        """One POST, once: the decoded body (a missing errcode is success), or a typed error.
        Token errors are returned: the caller refreshes."""
        started = time.monotonic()
        response = request_send(
            self.session,
            "POST",
            f"{self.base_url}/cgi-bin/{path}",
            path,
            params=params,
            body=body,
            timeout=self.timeout,
        )
        elapsed_ms = (time.monotonic() - started) * 1000
        data = response_decode(response, path, elapsed_ms)
        errcode = Reader.root(path, data).integer("errcode")
        logger.log(
            logging.DEBUG if errcode == 0 else logging.INFO,
            "WeCom %s errcode=%s %.0f ms",
            path,
            errcode,
            elapsed_ms,
        )
        if errcode == 0 or (errcode in SUITE_TOKEN_ERRCODES and path not in TOKEN_PATHS):
            return data
        raise suite_error_for(errcode, data.get("errmsg", ""), path)

    @sensitive_variables("token", "data")
    def _call(self, path: str, *, body: dict, issuer: str) -> dict:
        """A call with the provider or suite token: dropped and fetched once more when WeCom
        rejects it."""
        fetch, key, param = self._token_parts(issuer)
        token = self._cached(key, fetch)
        for attempt in range(2):
            data = self._exchange(path, params={param: token}, body=body)
            errcode = data.get("errcode", 0)
            if errcode == 0:
                return data
            if attempt:
                raise suite_error_for(errcode, data.get("errmsg", ""), path)
            logger.info(
                "WeCom %s rejected the %s token (errcode=%s); refreshing", path, issuer, errcode
            )
            if self.cache.get(key) == token:
                self.cache.delete(key)
            token = self._cached(key, fetch, stale=token)
        raise AssertionError("unreachable")

    def _token_parts(self, kind: str):
        if kind == "provider":
            return self._fetch_provider_token, self._provider_key, "provider_access_token"
        return self._fetch_suite_token, self._suite_key, "suite_access_token"

    def _cached(self, key: str, fetch: Callable[[], str], *, stale: str | None = None) -> str:
        return single_flight(
            self.cache,
            key=key,
            lock=f"{key}:lock",
            fetch=fetch,
            lock_timeout=TOKEN_LOCK_TIMEOUT,
            wait=self.token_lock_wait,
            on_timeout=fetch,
            stale=stale,
        )

    def _store_token(self, key: str, reader: Reader, field_name: str) -> str:
        token = reader.string(field_name, required=True)
        expires_in = reader.integer("expires_in", default=7200)
        if expires_in <= 0:
            raise reader.fail("expires_in", "must be a positive number of seconds", expires_in)
        register_secret(token)
        timeout = max(1, expires_in - min(TOKEN_EXPIRY_MARGIN, expires_in // 2))
        self.cache.set(key, token, timeout=timeout)
        return token

    # --- the two tokens -----------------------------------------------------------------------

    # WeCom doc 96237: service/get_provider_token
    @sensitive_variables("body", "data")
    def _fetch_provider_token(self) -> str:
        body = {
            "corpid": self.suite.provider_corp_id,
            "provider_secret": self.suite.provider_secret,
        }
        data = self._exchange(GET_PROVIDER_TOKEN, params={}, body=body)
        return self._store_token(
            self._provider_key, Reader.root(GET_PROVIDER_TOKEN, data), "provider_access_token"
        )

    # WeCom doc 97162: service/get_suite_token
    @sensitive_variables("body", "data", "ticket")
    def _fetch_suite_token(self) -> str:
        ticket = self._ticket()
        if not ticket:
            raise SuiteConfigError(
                CONFIG_ERROR,
                "no suite_ticket has arrived yet: WeCom pushes one every 10 minutes to "
                "/wecom/suite/callback/ once that URL is verified in 服务商后台 (刷新ticket pushes "
                "one at once).",
                GET_SUITE_TOKEN,
            )
        body = {
            "suite_id": self.suite.suite_id,
            "suite_secret": self.suite.suite_secret,
            "suite_ticket": ticket,
        }
        data = self._exchange(GET_SUITE_TOKEN, params={}, body=body)
        return self._store_token(
            self._suite_key, Reader.root(GET_SUITE_TOKEN, data), "suite_access_token"
        )

    def provider_token(self) -> str:
        return self._cached(self._provider_key, self._fetch_provider_token)

    def suite_token(self) -> str:
        return self._cached(self._suite_key, self._fetch_suite_token)

    # --- the calls ----------------------------------------------------------------------------

    # WeCom doc 98744: service/get_customized_auth_url (provider token, not suite token)
    def customized_auth_url(self, *, state: str) -> AuthUrl:
        body = {"state": state, "templateid_list": [self.suite.suite_id]}
        data = self._call(AUTH_URL, body=body, issuer="provider")
        return AuthUrl.from_wecom(Reader.root(AUTH_URL, data))

    # WeCom doc 97163: service/get_permanent_code
    @sensitive_variables("auth_code", "data")
    def permanent_code(self, auth_code: str) -> PermanentCode:
        data = self._call(PERMANENT_CODE, body={"auth_code": auth_code}, issuer="suite")
        permanent = PermanentCode.from_wecom(Reader.root(PERMANENT_CODE, data))
        register_secret(permanent.permanent_code)
        return permanent

    # WeCom doc 100795: service/v2/get_auth_info
    @sensitive_variables("permanent_code", "body")
    def auth_info(self, *, corp_id: str, permanent_code: str) -> AuthInfo:
        body = {"auth_corpid": corp_id, "permanent_code": permanent_code}
        data = self._call(AUTH_INFO, body=body, issuer="suite")
        return AuthInfo.from_wecom(Reader.root(AUTH_INFO, data))


TOKEN_PATHS = (GET_PROVIDER_TOKEN, GET_SUITE_TOKEN)


def school_tokens_forget(client) -> None:
    """Forget what the shared cache holds for a school's app: its access token and its JS-SDK
    tickets (the school uninstalled the app, or its secret was reset: WeCom refuses them now).
    ``client``: the school's ``WeComClient`` with the secret those were fetched with."""
    from school_live.wecom.jsapi import AGENT, CORP, TicketStore

    tickets = TicketStore(client)
    client.cache.delete_many(
        [client._token_key, tickets._key(CORP, "ticket"), tickets._key(AGENT, "ticket")]
    )
