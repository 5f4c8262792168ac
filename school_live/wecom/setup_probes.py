"""The WeCom set-up check (api.md §20.5): harmless read-only calls, each proving one thing a
school's admin sets up in WeCom's console, before a teacher or a sync meets it.

``setup_probe(make_client, inputs)`` runs them in order and returns one ``ProbeLine`` each:

1. ``token``: gettoken, fetched now (corp id and secret);
2. ``agent``: agent/get with the configured AgentId (this server's address is trusted, the
   token's app is that agent, the app is enabled and, for a 代开发 app, live at the school);
3. ``contacts``: school/department/list (the 家校通讯录 may be read);
4. ``living_api``: get_user_all_livingid for one teacher the 家校通讯录 names (上课直播's
   「可调用接口的应用」);
5. ``allow_scope``: school/agent/get_allow_scope (the families 学校通知 may reach);
6. ``notice``: a 学校通知 to a parent who cannot exist: WeCom checks the app's right to send
   before the recipients, so 81013 (every recipient invalid) proves the right and reaches nobody;
7. ``living_info``: get_living_info on the newest lesson school_live created (if any);
8. ``jssdk``: the corp's and the app's JS-SDK tickets (shared with the pages, cached).

A probe that cannot tell anything because an earlier one failed is ``SKIPPED`` with reason
``blocked``; after WeCom was busy or out of reach every later probe is, so that a check from a web
request does not wait once per probe for the same timeout. What no server call can prove (the OAuth 可信域名, the callback URL, the domain
file) is ``UNPROBED``: the line says when it last worked and how to try it (``unprobed_lines``).

Lines are plain data (``as_json``/``from_json``) so that a run can be stored and described later
in the reader's language (setup_texts.py says what each means and what to change).
"""

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from school_live.wecom.errors import (
    ALL_RECIPIENTS_INVALID,
    GETTOKEN,
    HTTP_ERROR,
    NETWORK_ERROR,
    RATE_BUDGET,
    TRANSIENT_ERRCODES,
    WeComError,
)
from school_live.wecom.jsapi import AGENT, CORP, TicketStore

OK, FAILED, SKIPPED, UNPROBED = "ok", "failed", "skipped", "unprobed"
STATUSES = (OK, FAILED, SKIPPED, UNPROBED)

TOKEN, AGENT_GET, CONTACTS, LIVING_API = "token", "agent", "contacts", "living_api"
ALLOW_SCOPE, NOTICE, LIVING_INFO, JSSDK = "allow_scope", "notice", "living_info", "jssdk"
OAUTH, CALLBACK, DOMAIN_FILE = "oauth", "callback", "domain_file"
PROBES = (TOKEN, AGENT_GET, CONTACTS, LIVING_API, ALLOW_SCOPE, NOTICE, LIVING_INFO, JSSDK)
LINES = (*PROBES, OAUTH, CALLBACK, DOMAIN_FILE)

# Reasons of a line that no errcode explains.
BLOCKED, NO_TEACHER, NO_LESSON = "blocked", "no_teacher", "no_lesson"
CLOSED, NOT_LIVE, DOMAIN_MISMATCH = "closed", "not_live", "domain_mismatch"
NOT_CONFIGURED, MISSING_AGENT_ID = "not_configured", "missing_agent_id"
# Failures of the agent line that leave the rest worth probing: the call itself answered.
_NON_BLOCKING = (CLOSED, NOT_LIVE)

# customized_publish_status (doc 96448): 0 待开发 and 1 开发中 are not live yet; 2 已上线 and
# 3 存在未上线版本 (a newer version waits, the live one serves) are.
_NOT_LIVE = (0, 1)
TEACHER_ADMIN_TYPES = (3, 4)  # department_admins: 3 班主任, 4 任课老师
# A parent userid no corp has: the 学校通知 probe's only recipient.
PROBE_PARENT = "__school_live_setup_probe__"
_FROM_IP = re.compile(r"from ip:\s*([0-9A-Fa-f.:]{3,45})")
# WeCom busy, limited or out of reach: every later probe would wait for the same answer.
_UNREACHABLE = TRANSIENT_ERRCODES | {NETWORK_ERROR, HTTP_ERROR, RATE_BUDGET}


@dataclass(frozen=True)
class ProbeLine:
    key: str
    status: str
    errcode: int | None = None
    reason: str = ""
    params: dict = field(default_factory=dict)  # what the line's sentence names

    @property
    def failed(self) -> bool:
        return self.status == FAILED

    @property
    def blocks(self) -> bool:
        """Later probes would only repeat this failure."""
        return self.failed and self.reason not in _NON_BLOCKING

    def as_json(self) -> dict:
        return {
            "key": self.key,
            "status": self.status,
            "errcode": self.errcode,
            "reason": self.reason,
            "params": dict(self.params),
        }

    @classmethod
    def from_json(cls, data: dict) -> "ProbeLine":
        return cls(
            key=str(data.get("key", "")),
            status=str(data.get("status", "")),
            errcode=data.get("errcode"),
            reason=str(data.get("reason", "")),
            params=dict(data.get("params") or {}),
        )


@dataclass(frozen=True)
class CheckInputs:
    """What the product knows that the probes use: the school's newest lesson, the site's
    address, and when sign-in and callbacks last worked."""

    livingid: str = ""  # the newest lesson school_live created for this school, "" for none
    site_url: str = ""
    last_sign_in: str = ""  # ISO 8601, "" never
    last_callback: str = ""
    callback_configured: bool = False
    callback_url: str = ""
    domain_files: tuple[str, ...] = ()  # the WW_verify_….txt names the site serves


def seen_ip(error: WeComError) -> str:
    """The address WeCom saw the call come from, as its errmsg names it (api.md §20.1)."""
    found = _FROM_IP.search(error.errmsg or "")
    return found.group(1) if found else ""


def failure(key: str, error: WeComError) -> ProbeLine:
    params = {"errmsg": error.errmsg, "endpoint": error.endpoint}
    ip = seen_ip(error)
    if ip:
        params["ip"] = ip
    # A token refused on the way (a secret reset since the token was cached) is the token's
    # problem, whichever probe met it.
    reason = TOKEN if error.endpoint == GETTOKEN and key != TOKEN else ""
    return ProbeLine(key, FAILED, errcode=error.errcode, reason=reason, params=params)


class _Run:
    def __init__(self, client, inputs: CheckInputs):
        self.client = client
        self.inputs = inputs
        self.lines: dict[str, ProbeLine] = {}
        self.teacher = ""
        self.livingids: tuple[str, ...] = ()
        self.agent = None

    def probe(self, key: str, call: Callable[[], ProbeLine], *, after: tuple[str, ...]) -> None:
        unreachable = any(line.errcode in _UNREACHABLE for line in self.lines.values())
        if unreachable or any(self.lines[earlier].blocks for earlier in after):
            self.lines[key] = ProbeLine(key, SKIPPED, reason=BLOCKED)
            return
        try:
            self.lines[key] = call()
        except WeComError as error:
            self.lines[key] = failure(key, error)

    def token(self) -> ProbeLine:
        self.client.fetch_access_token()
        return ProbeLine(TOKEN, OK)

    def agent_get(self) -> ProbeLine:
        if self.client.agent_id in (None, ""):
            return ProbeLine(AGENT_GET, FAILED, reason=MISSING_AGENT_ID)
        self.agent = info = self.client.get_agent()
        params = {"agentid": info.agentid, "name": info.name}
        if info.close:
            return ProbeLine(AGENT_GET, FAILED, reason=CLOSED, params=params)
        status = info.customized_publish_status
        if status is not None:
            params["publish_status"] = status
            if status in _NOT_LIVE:
                return ProbeLine(AGENT_GET, FAILED, reason=NOT_LIVE, params=params)
        return ProbeLine(AGENT_GET, OK, params=params)

    def contacts(self) -> ProbeLine:
        departments = self.client.list_departments()
        for department in departments:
            for admin in department.admins:
                if admin.type in TEACHER_ADMIN_TYPES:
                    self.teacher = admin.userid
                    break
            if self.teacher:
                break
        return ProbeLine(CONTACTS, OK, params={"departments": len(departments)})

    def living_api(self) -> ProbeLine:
        if not self.teacher:
            return ProbeLine(LIVING_API, SKIPPED, reason=NO_TEACHER)
        ids = self.client.iter_user_livingids(self.teacher, limit=1)
        first = next(iter(ids), "")
        self.livingids = (first,) if first else ()
        return ProbeLine(LIVING_API, OK, params={"userid": self.teacher})

    def allow_scope(self) -> ProbeLine:
        scope = self.client.get_allow_scope()
        params = {"students": len(scope.student_userids), "departments": len(scope.partyids)}
        return ProbeLine(ALLOW_SCOPE, OK, params=params)

    def notice(self) -> ProbeLine:
        try:
            self.client.send_school_notice(
                parent_userids=[PROBE_PARENT],
                text="school_live 企业微信连接检查（收件人不存在，不会送达任何人）",
            )
        except WeComError as error:
            if error.errcode != ALL_RECIPIENTS_INVALID:
                raise
        return ProbeLine(NOTICE, OK)

    def living_info(self) -> ProbeLine:
        livingid = self.inputs.livingid or next(iter(self.livingids), "")
        if not livingid:
            return ProbeLine(LIVING_INFO, SKIPPED, reason=NO_LESSON)
        try:
            info = self.client.get_living_info(livingid)
        except WeComError as error:
            line = failure(LIVING_INFO, error)
            return ProbeLine(
                LIVING_INFO,
                FAILED,
                line.errcode,
                line.reason,
                {**line.params, "livingid": livingid},
            )
        return ProbeLine(LIVING_INFO, OK, params={"livingid": livingid, "theme": info.theme})

    def jssdk(self) -> ProbeLine:
        tickets = TicketStore(self.client)
        tickets.ticket(CORP)
        tickets.ticket(AGENT)
        return ProbeLine(JSSDK, OK)


def setup_probe(make_client: Callable[[], object], inputs: CheckInputs) -> list[ProbeLine]:
    """Every line of the check, in ``LINES`` order. ``make_client`` builds the school's client
    (a ``WeComError`` from it, such as a missing secret, is the token line's failure)."""
    try:
        client = make_client()
    except WeComError as error:
        lines = [failure(TOKEN, error)]
        lines += [ProbeLine(key, SKIPPED, reason=BLOCKED) for key in PROBES[1:]]
        return lines + unprobed_lines(inputs, agent=None)
    try:
        run = _Run(client, inputs)
        run.probe(TOKEN, run.token, after=())
        run.probe(AGENT_GET, run.agent_get, after=(TOKEN,))
        run.probe(CONTACTS, run.contacts, after=(TOKEN, AGENT_GET))
        run.probe(LIVING_API, run.living_api, after=(TOKEN, AGENT_GET, CONTACTS))
        run.probe(ALLOW_SCOPE, run.allow_scope, after=(TOKEN, AGENT_GET))
        run.probe(NOTICE, run.notice, after=(TOKEN, AGENT_GET))
        run.probe(LIVING_INFO, run.living_info, after=(TOKEN, AGENT_GET, LIVING_API))
        run.probe(JSSDK, run.jssdk, after=(TOKEN, AGENT_GET))
    finally:
        client.close()
    return [run.lines[key] for key in PROBES] + unprobed_lines(inputs, agent=run.agent)


def _host_matches(domain: str, site_url: str) -> bool:
    """Whether the app's 可信域名 covers the site: the same host, with the port if it names one."""
    parts = urlsplit(site_url)
    domain = domain.strip().lower().rstrip("/")
    return domain in {(parts.hostname or "").lower(), parts.netloc.lower()}


def unprobed_lines(inputs: CheckInputs, *, agent) -> list[ProbeLine]:
    """The OAuth domain, the callback URL and the domain file: no call proves them."""
    host = urlsplit(inputs.site_url).netloc
    oauth = {"last": inputs.last_sign_in, "host": host}
    domain = agent.redirect_domain if agent is not None else ""
    if domain and inputs.site_url and not _host_matches(domain, inputs.site_url):
        oauth["domain"] = domain
        lines = [ProbeLine(OAUTH, FAILED, reason=DOMAIN_MISMATCH, params=oauth)]
    else:
        lines = [ProbeLine(OAUTH, UNPROBED, params=oauth)]
    callback = {"last": inputs.last_callback, "url": inputs.callback_url}
    reason = "" if inputs.callback_configured else NOT_CONFIGURED
    lines.append(ProbeLine(CALLBACK, UNPROBED, reason=reason, params=callback))
    files = {"names": list(inputs.domain_files), "site": inputs.site_url}
    lines.append(ProbeLine(DOMAIN_FILE, UNPROBED, params=files))
    return lines
