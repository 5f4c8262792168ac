"""The sandbox as a WSGI app: WeCom's paths under /cgi-bin/, the stand-in OAuth screen under
/connect/oauth2/, and the sandbox-only control API under /sandbox/.

Every WeCom answer is HTTP 200 JSON with errcode and errmsg. The order of checks follows what a
real call meets: the gateway (502, slowness), frequency limits and busy, then the access token,
then the request method and body, then the endpoint's own rules.

Several corps share one app (district.py): each request is first given to its corp (``corp_of``),
and everything after that, faults and the call log included, is that corp's alone.
"""

import gzip
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs

from . import (
    auth_api,
    control_api,
    lesson_api,
    living_api,
    message_api,
    notice_api,
    school_api,
    setup_api,
)
from .district import SandboxDistrict, as_district
from .replies import ApiError, RawReply, bad_gateway, errmsg
from .state import SandboxState
from .suite_api import CONTROL_PREFIX, SERVICE_PREFIX, control, service

MAX_BODY = 2 * 1024 * 1024
JSON_TYPE = "application/json; charset=utf-8"
# The stand-in ww runs in the site's pages, another origin: it and the paths it calls answer CORS.
STANDIN_WW = Path(__file__).with_name("ww_standin.js")
CORS_PATHS = {"/sandbox/ww.js", "/sandbox/jssdk/verify", "/sandbox/jssdk/startLiving"}
CORS_HEADERS = [
    ("Access-Control-Allow-Origin", "*"),
    ("Access-Control-Allow-Methods", "GET, POST, OPTIONS"),
    ("Access-Control-Allow-Headers", "Content-Type"),
    ("Access-Control-Max-Age", "600"),
]


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: dict[str, str]
    body: bytes
    remote_addr: str

    def json(self) -> dict:
        """The body as a JSON object: 40063 when there is none (doc 90313 on 40063: a POST API
        called with GET, or its parameters sent in the URL, finds its parameters empty), 40058
        with WeCom's "wrong json format" warning when it is not a JSON object."""
        if not self.body.strip():
            raise ApiError(40063, "params is empty, the request body must be a json object")
        try:
            data = json.loads(self.body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            data = None
        if not isinstance(data, dict):
            raise ApiError(40058, "Warning: wrong json format. invalid json body")
        return data

    def form(self) -> dict[str, str]:
        parsed = parse_qs(self.body.decode("utf-8", "replace"), keep_blank_values=True)
        return {key: values[0] for key, values in parsed.items()}


@dataclass(frozen=True)
class Route:
    method: str
    handler: Callable[[SandboxState, Request], dict]
    needs_token: bool = True
    paged: bool = False  # a follow-up page is where a mid-pagination token revocation bites


ROUTES = {
    "/cgi-bin/gettoken": Route("GET", auth_api.gettoken, needs_token=False),
    "/cgi-bin/auth/getuserinfo": Route("GET", auth_api.getuserinfo),
    "/cgi-bin/message/send": Route("POST", message_api.send),
    "/cgi-bin/school/living/get_watch_stat": Route("POST", living_api.get_watch_stat, paged=True),
    "/cgi-bin/school/living/get_unwatch_stat": Route(
        "POST", living_api.get_unwatch_stat, paged=True
    ),
    "/cgi-bin/school/living/get_living_info": Route("GET", living_api.get_living_info),
    "/cgi-bin/living/get_user_all_livingid": Route("POST", living_api.get_user_all_livingid),
    "/cgi-bin/living/create": Route("POST", lesson_api.create),
    "/cgi-bin/living/modify": Route("POST", lesson_api.modify),
    "/cgi-bin/living/cancel": Route("POST", lesson_api.cancel),
    "/cgi-bin/get_jsapi_ticket": Route("GET", lesson_api.get_jsapi_ticket),
    "/cgi-bin/ticket/get": Route("GET", lesson_api.ticket_get),
    "/cgi-bin/school/department/list": Route("GET", school_api.department_list),
    "/cgi-bin/school/user/list": Route("GET", school_api.user_list),
    "/cgi-bin/school/user/get": Route("GET", school_api.user_get),
    "/cgi-bin/school/user/list_parent": Route("GET", school_api.list_parent),
    "/cgi-bin/externalcontact/message/send": Route("POST", notice_api.send),
    "/cgi-bin/school/agent/get_allow_scope": Route("GET", notice_api.get_allow_scope),
    "/cgi-bin/agent/get": Route("GET", setup_api.agent_get),
}


class SandboxApp:
    """SandboxApp(state) for one corp; SandboxApp([state, ...]) or SandboxApp(district) for
    several, the first being the default."""

    def __init__(self, corps: SandboxState | SandboxDistrict | list[SandboxState]):
        self.district = as_district(corps)
        self.state = self.district.default

    def corp_of(self, request: Request) -> SandboxState | None:
        """The corp a request is for, found as WeCom would find it: gettoken's corpid, the OAuth
        screen's appid, the corp that issued the access token; the control API's ?corp= (None
        when no corp has that id). Naming no corp, or one nobody knows, means the default corp,
        whose own checks then refuse what is not its (40013, 40014, "appid 参数错误")."""
        district, query = self.district, request.query
        if request.path.startswith("/sandbox/"):
            corp = query.get("corp")
            return district.default if corp is None else district.get(corp)
        if request.path == "/cgi-bin/gettoken":
            found = district.get(query.get("corpid", ""))
        elif request.path.startswith("/connect/oauth2/"):
            appid = query.get("appid", "")
            if not appid and request.method == "POST":
                appid = request.form().get("appid", "")
            found = district.get(appid)
        else:
            found = district.by_token(query.get("access_token", ""))
        return found or district.default

    def __call__(self, environ, start_response):
        request = _request(environ)
        state = self.corp_of(request)
        status, headers, body, errcode = self.respond(request, state)
        if request.path in CORS_PATHS:
            headers = [*headers, *CORS_HEADERS]
        if request.path.startswith("/cgi-bin/") and state is not None:
            state.record_call(request.method, request.path, errcode)
            accepted = environ.get("HTTP_ACCEPT_ENCODING", "").lower()
            if state.gzip and "gzip" in accepted and errcode is not None:
                body = gzip.compress(body)
                headers = [*headers, ("Content-Encoding", "gzip"), ("Vary", "Accept-Encoding")]
        start_response(status, [*headers, ("Content-Length", str(len(body)))])
        return [body]

    def respond(self, request: Request, state: SandboxState | None = None):
        """(status, headers, body bytes, errcode or None) for one request to ``state``'s corp
        (by default the one corp_of finds)."""
        if state is None:
            state = self.corp_of(request)
        try:
            if request.path in CORS_PATHS and request.method == "OPTIONS":
                raise RawReply("204 No Content", "text/plain", b"")  # the CORS preflight
            if request.path == "/sandbox/ww.js" and request.method == "GET":
                raise RawReply("200 OK", "text/javascript; charset=utf-8", STANDIN_WW.read_bytes())
            if request.path.startswith(SERVICE_PREFIX):  # the vendor's calls (suite_api.py)
                result = service(self.district, request)
            elif request.path.startswith(CONTROL_PREFIX):
                result = control(self.district, request)
            elif request.path.startswith("/sandbox/"):
                result = control_api.handle_corp(self.district, state, request)
            elif request.path.startswith("/connect/oauth2/"):
                result = auth_api.oauth_screen(state, request)
            else:
                result = self.wecom(state, request)
            if isinstance(result, RawReply):
                raise result
            result = {"errcode": 0, "errmsg": "ok", **result}
            if result["errcode"] and result["errmsg"] == "ok":
                result["errmsg"] = errmsg(result["errcode"], "error", request.remote_addr)
            return "200 OK", [("Content-Type", JSON_TYPE)], _dump(result), result["errcode"]
        except ApiError as error:
            extra = dict(error.extra)
            status = "404 Not Found" if extra.pop("_http404", False) else "200 OK"
            result = {
                "errcode": error.errcode,
                "errmsg": errmsg(error.errcode, error.reason, error.from_ip or request.remote_addr),
                **extra,
            }
            return status, [("Content-Type", JSON_TYPE)], _dump(result), error.errcode
        except RawReply as reply:
            headers = [("Content-Type", reply.content_type), *reply.headers]
            return reply.status, headers, reply.body, None

    def wecom(self, state: SandboxState, request: Request) -> dict:
        route = ROUTES.get(request.path)
        if route is None:
            # WeCom has no documented answer for an unknown path; a 404 with errcode 40058
            # makes a typo in a client's URL fail loudly instead of looking like data.
            raise ApiError(40058, f"invalid request url {request.path}", _http404=True)
        fault, sleep = state.draw_fault(
            request.path, follow_up_page=route.paged and _is_follow_up(request)
        )
        if sleep:
            time.sleep(sleep)  # outside the lock: a slow answer must not stall the others
        if fault == "http502":
            raise bad_gateway()
        if fault == "busy":
            raise ApiError(-1, "system busy")
        if fault == "limit":
            raise ApiError(45009, "api freq out of limit")
        if fault == "revoke":
            state.revoke_tokens()
        if route.needs_token:
            _check_token(state, request)
            state.setup_refusal(request.path, request.remote_addr)  # setup_api.py
        injected = state.take_path_fault(request.path)
        if injected is not None:
            raise ApiError(injected, "injected fault")
        if request.method != route.method:
            # Doc 90313 on 40063 (参数为空): "接口要求以Post方法，就不能使用Get方式". The sandbox
            # answers the reverse (POST on a GET API) the same way rather than serving it.
            raise ApiError(40063, f"params is empty, invalid request method {request.method}")
        with state.lock:
            return route.handler(state, request)


def _check_token(state: SandboxState, request: Request) -> None:
    token = request.query.get("access_token", "")
    if not token:
        raise ApiError(41001, "access_token missing")
    status = state.token_status(token)
    if status == 40014:
        raise ApiError(40014, "invalid access_token")
    if status == 42001:
        raise ApiError(42001, "access_token expired")


def _is_follow_up(request: Request) -> bool:
    try:
        body = json.loads(request.body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return False
    return isinstance(body, dict) and body.get("next_key") not in (None, "", "0")


def _request(environ) -> Request:
    query = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    body = environ["wsgi.input"].read(min(length, MAX_BODY)) if length > 0 else b""
    return Request(
        method=environ.get("REQUEST_METHOD", "GET").upper(),
        path=environ.get("PATH_INFO", "/"),
        query={key: values[0] for key, values in query.items()},
        body=body,
        remote_addr=environ.get("REMOTE_ADDR", "127.0.0.1"),
    )


def _dump(result: dict) -> bytes:
    return json.dumps(result, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
