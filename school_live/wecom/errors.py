"""Typed errors for every way a WeCom call can fail.

``str(error)`` is written for the school's admin: it names the endpoint and the errcode and, for the
codes we know, says what to change. It never contains a URL, an access token or the app secret.

Failures that do not come from WeCom's ``errcode`` use negative sentinels (WeCom's own -1 means
"system busy"):

- ``NETWORK_ERROR`` (-2): connection refused/reset, DNS, timeout (retried by the client's one loop).
- ``HTTP_ERROR`` (-3): an HTTP status other than 200 (502/503/504: ``WeComGatewayError``).
- ``DATA_ERROR`` (-4): the body is not JSON or a field has the wrong type.
- ``CONFIG_ERROR`` (-5): a required setting (WECOM_CORP_ID, WECOM_SECRET, ...) is missing.
- ``RATE_BUDGET`` (-6): school_live's own budget of calls to that API (budget.py) is spent for
  now; nothing was sent to WeCom.
"""

import re
from typing import Any

from school_live.wecom.redact import redact

NETWORK_ERROR = -2
HTTP_ERROR = -3
DATA_ERROR = -4
CONFIG_ERROR = -5
RATE_BUDGET = -6

BUSY = -1
TOKEN_ERRCODES = frozenset({40001, 40014, 42001})
# gettoken answers these when the corp id or the secret is wrong: retrying cannot help.
GETTOKEN_CONFIG_ERRCODES = frozenset({40001, 40013, 40091})
# Codes that mean the app or the corp is set up wrongly; the admin has to change something.
CONFIG_ERRCODES = frozenset({40013, 40056, 40091, 48002, 50001, 60020, 65022, 301002})
FREQUENCY_LIMIT = 45009  # 接口调用超过限制
CONCURRENCY_LIMIT = 45033  # 接口并发调用超过限制
TRANSIENT_ERRCODES = frozenset({BUSY, FREQUENCY_LIMIT, CONCURRENCY_LIMIT})
# Named for the code outside this package that acts on them.
API_FORBIDDEN = 48002  # API 禁止调用: for 学校通知, the app is not among the parents' apps
ALL_RECIPIENTS_INVALID = 81013  # 全部接收人无权限或不存在
WRONG_AGENT = 301002  # the token's app is not the one agentid names
UNKNOWN_USERIDS = frozenset({40003, 60111})  # 无效的UserID, UserID不存在
ALREADY_STARTED = 92006  # living/modify, living/cancel: the living started or was cancelled
# WeCom blocks for the rest of the limit window: a minute limit blocks 60 s (doc 90454).
RETRY_AFTER = {BUSY: 1.0, FREQUENCY_LIMIT: 60.0, CONCURRENCY_LIMIT: 1.0}

GETTOKEN = "gettoken"

_APP_LISTS = (
    "add the app to 「上课直播 - 可调用接口的应用」 and to 「家长可以使用的应用」 "
    "(管理后台 → 应用管理 → 教育/家校沟通 → 上课直播)"
)

_HINTS = {
    BUSY: "WeCom is busy (系统繁忙) and stayed busy after several retries; try again later.",
    40001: (
        "WeCom rejected the access token again right after a refresh: check that WECOM_SECRET is "
        "the secret of this app and that the app is enabled."
    ),
    40003: "invalid UserID (无效的UserID): the user does not exist in this corp.",
    40013: "wrong corp id (企业ID错误): check WECOM_CORP_ID (管理后台 → 我的企业 → 企业ID).",
    40014: "the access token was rejected again right after a refresh; check WECOM_SECRET.",
    40029: "the sign-in code is invalid or already used (code 无效): sign in again.",
    40056: "invalid agentid: check WECOM_AGENT_ID (the AgentId of the app that owns WECOM_SECRET).",
    40058: "invalid parameter (参数错误), e.g. a blank or malformed livingid.",
    40063: "a required parameter is empty or the HTTP method is wrong (参数为空).",
    40091: (
        "the secret does not belong to this corp (secret 无效): check WECOM_SECRET and "
        "WECOM_CORP_ID."
    ),
    42001: "the access token expired again right after a refresh; check WECOM_SECRET.",
    42003: "the sign-in code expired (code 过期): sign in again.",
    42022: "the sign-in code was already used (code 已使用): sign in again.",
    45009: "frequency limit reached (接口调用超过限制): wait {retry_after:.0f} s, then retry.",
    45033: "too many concurrent calls (接口并发调用超过限制): lower the parallelism and retry.",
    48002: f"this app may not call this API (API 禁止调用): {_APP_LISTS}.",
    50001: "the redirect URL is not a trusted domain of the app (可信域名): fix it in the app.",
    60011: "the user or department is outside the app's visible range (可见范围).",
    60020: (
        "this server's IP is not among the app's trusted IPs (企业可信IP): add it in 管理后台 → "
        "应用管理 → the app → 企业可信IP; it takes about a minute to apply."
    ),
    60111: "userid not found (UserID不存在).",
    60123: "invalid department id (无效的部门id).",
    65022: (
        "the app may not read the 家校通讯录: add it to 「家校沟通 - 读取家校通讯录的应用」 "
        f"or 「家长可以使用的应用」; for livings also {_APP_LISTS}."
    ),
    65023: "the app has no permission on this student or parent (无权限操作该学生或家长).",
    81013: "every recipient is invalid (全部接收人无权限或不存在).",
    82001: "no recipient was given (指定的成员/部门/标签全部为空).",
    92006: "this living has already started or was cancelled.",
    92007: "this living's replay cannot be deleted.",
    92008: (
        "WeCom lets an app read only the livings it created (只能获取本应用创建的直播): this "
        "living was created by another app or directly in the 上课直播 client."
    ),
    301002: (
        "the token's app is not the app given by agentid: WECOM_AGENT_ID must be the AgentId of "
        "the app whose secret is WECOM_SECRET."
    ),
}

# 学校通知 (api.md §17): the app must be among the apps parents may use, and the token's app must
# be the one named by agentid.
_NOTICE_ENDPOINTS = ("externalcontact/message/send", "school/agent/get_allow_scope")
_NOTICE_HINTS = {
    48002: (
        "this app may not send 学校通知 to parents (API 禁止调用): in the WeCom admin console add "
        "the app to 「家长可使用的应用」 (管理后台 → 应用管理 → 家校沟通 → 家长可使用的应用), "
        "then try again."
    ),
    301002: (
        "the access token belongs to another app than agentid (无权限操作指定的应用): "
        "WECOM_SECRET must be the secret of this self-built app, the one whose AgentId is "
        "WECOM_AGENT_ID (管理后台 → 应用管理 → the app → AgentId and Secret)."
    ),
    81013: (
        "no family could receive it (全部接收人无权限或不存在): none of the parents follows "
        "学校通知 or is within the app's allowed range (家长可使用的应用 → 可见范围)."
    ),
}

_GETTOKEN_HINTS = {
    40001: (
        "wrong app secret (Secret 错误): check WECOM_SECRET — the secret of the self-built app "
        "(it changes when reset) — and that the app is enabled."
    ),
    40013: _HINTS[40013],
    40091: _HINTS[40091],
}

_URL = re.compile(r"(?:,\s*)?(?:more info at\s*)?https?://\S+", re.IGNORECASE)


def clean_errmsg(errmsg: object) -> str:
    """WeCom's errmsg without its help URL, secrets or anything overlong."""
    text = redact(_URL.sub("", str(errmsg or ""))).strip()
    return text[:200]


class WeComError(Exception):
    """A WeCom call failed. ``errcode`` is WeCom's code or one of the negative sentinels above."""

    def __init__(
        self,
        errcode: int,
        errmsg: str,
        endpoint: str,
        *,
        retry_after: float | None = None,
    ) -> None:
        self.errcode = errcode
        self.errmsg = clean_errmsg(errmsg)
        self.endpoint = endpoint
        self._retry_after = retry_after
        super().__init__(self._message())

    def __reduce__(self):
        # The default pickling re-calls __init__ with the message only.
        return (
            self.__class__,
            (self.errcode, self.errmsg, self.endpoint),
            {"_retry_after": self._retry_after},
        )

    @property
    def transient(self) -> bool:
        """Retrying the same call later can succeed."""
        return self.errcode in TRANSIENT_ERRCODES

    @property
    def token_problem(self) -> bool:
        """The access token was rejected (after the one refresh the client already tried)."""
        return self.errcode in TOKEN_ERRCODES and self.endpoint != GETTOKEN

    @property
    def retry_after(self) -> float | None:
        """Seconds to wait before retrying, when WeCom's rules give a number."""
        if self._retry_after is not None:
            return self._retry_after
        return RETRY_AFTER.get(self.errcode)

    def hint(self) -> str:
        table = _GETTOKEN_HINTS if self.endpoint == GETTOKEN else _HINTS
        if self.endpoint in _NOTICE_ENDPOINTS and self.errcode in _NOTICE_HINTS:
            table = _NOTICE_HINTS
        hint = table.get(self.errcode, "")
        return hint.format(retry_after=self.retry_after or 60.0)

    def _message(self) -> str:
        text = f"WeCom {self.endpoint} failed with errcode {self.errcode}"
        hint = self.hint()
        if hint:
            text = f"{text}: {hint}"
        if self.errmsg and self.errcode < BUSY:  # our own sentinel: not WeCom's words
            text = f"{text} ({self.errmsg})"
        elif self.errmsg:
            text = f"{text} (WeCom said: {self.errmsg})"
        return text


class WeComConfigError(WeComError):
    """The corp, the app or our settings are set up wrongly; an admin has to change something."""

    def _message(self) -> str:
        if self.errcode == CONFIG_ERROR:
            return f"WeCom is not configured ({self.endpoint}): {self.errmsg}"
        return super()._message()


class WeComTransientError(WeComError):
    """Busy, rate-limited, network or HTTP 5xx failures: retry later (see ``retry_after``)."""

    @property
    def transient(self) -> bool:
        return True

    def hint(self) -> str:
        if self.errcode == NETWORK_ERROR:
            return "WeCom could not be reached (network error or timeout) after retries."
        if self.errcode == HTTP_ERROR:
            return "WeCom answered with an HTTP error after retries; try again later."
        if self.errcode == RATE_BUDGET:
            return (
                "school_live's budget of calls per minute to this API (WECOM_CALLS_PER_MINUTE) "
                "is spent for now; try again in a minute."
            )
        return super().hint()


class WeComDataError(WeComError):
    """WeCom's answer was not JSON or did not have the documented shape. Not transient."""

    def __init__(self, errmsg: str, endpoint: str) -> None:
        super().__init__(DATA_ERROR, errmsg, endpoint)

    def __reduce__(self):
        return (self.__class__, (self.errmsg, self.endpoint))

    @property
    def transient(self) -> bool:
        return False

    def _message(self) -> str:
        return f"{self.endpoint}: {self.errmsg} (errcode {DATA_ERROR}: unexpected WeCom response)"


def errcode_transient(errcode: int | None) -> bool:
    """A failure with this errcode may pass when tried again later: WeCom busy or its limits,
    the network, an HTTP error. For a failure known by its errcode only (one stored with a
    reminder, say); a live error says it with ``.transient``."""
    return errcode in TRANSIENT_ERRCODES or errcode in (NETWORK_ERROR, HTTP_ERROR)


class StoredWeComError(WeComError):
    """A failure read back from where it was stored: its errcode (or None) and its message."""

    def __init__(self, errcode: int | None, message: str) -> None:
        self.errcode = errcode
        self.errmsg = ""
        self.endpoint = ""
        self._retry_after = None
        Exception.__init__(self, message)

    def __reduce__(self):
        return (self.__class__, (self.errcode, str(self)))

    @property
    def transient(self) -> bool:
        return errcode_transient(self.errcode)

    @property
    def token_problem(self) -> bool:
        return False


def error_for(errcode: int, errmsg: Any, endpoint: str) -> WeComError:
    """The typed error for a non-zero errcode: a config problem, transient, or permanent."""
    if endpoint == GETTOKEN and errcode in GETTOKEN_CONFIG_ERRCODES:
        return WeComConfigError(errcode, str(errmsg), endpoint)
    if errcode in TRANSIENT_ERRCODES:
        return WeComTransientError(errcode, str(errmsg), endpoint)
    if errcode in CONFIG_ERRCODES:
        return WeComConfigError(errcode, str(errmsg), endpoint)
    return WeComError(errcode, str(errmsg), endpoint)
