"""The vendor's WeCom APIs (/cgi-bin/service/*, api.md §18.3-18.9) and the control API of the
vendor (/sandbox/suite/*). The vendor's state is suite_vendor.py; agent/get, whose
customized_publish_status an install sets, is setup_api.py's.

Errcodes where WeCom leaves a choice:
- get_provider_token: corpid missing 41002, wrong corpid 40013, wrong provider_secret 40001
  (WeCom's general "invalid credential"; no code is documented for it). Success has **no**
  errcode, as 96237 shows.
- get_suite_token: wrong suite_id 40083, wrong suite_secret 40080, a ticket that is not one of
  the last two pushed 40085. Success has **no** errcode (97162).
- A provider or suite token that is not the current one: 40082 (its errmsg keeps WeCom's typo
  "suite_acccess_token"); a suite token past its 7200 s: 42009.
- get_customized_auth_url: templateid_list missing or empty 84019, not our template 84020, a
  state that is not 1-32 of a-zA-Z0-9 40058.
- get_permanent_code: an AuthCode unknown, used or older than 600 s 40078.
- get_auth_info (v1 and v2): a corp that has not installed, cancelled, or a permanent code that
  is not its current one 40084.

Control (no authentication: the server binds loopback only):

    GET  /sandbox/suite                  the vendor: URL, switches, installs, the log of events
    POST /sandbox/suite/config {"url": ..., "get_receive_id": "provider"|"suite",
         "post_receive_id": "suite"|"provider", "auth_user": "full"|"no_open_userid"|"absent",
         "publish_status": 0-3, "ticket_interval": 600}
    POST /sandbox/suite/verify           the GET echostr check of the command URL
    POST /sandbox/suite/ticket           push a suite_ticket now
    POST /sandbox/suite/scan {"qrcode_url": ... or "state": ..., "corp": ..., "admin": ...}
    POST /sandbox/suite/change {"corp"}   /cancel {"corp"}   /reset {"corp"}
    POST /sandbox/suite/resend {"index": -1}   an earlier event once more (WeCom's retry)
    POST /sandbox/suite/expire           the suite token is past its expiry now (42009)
"""

import json
import re

from .replies import ApiError, RawReply

STATE = re.compile(r"[A-Za-z0-9]{1,32}")
SERVICE_PREFIX = "/cgi-bin/service/"
CONTROL_PREFIX = "/sandbox/suite"


def _reply(status: str, payload: dict) -> RawReply:
    body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
    return RawReply(status, "application/json; charset=utf-8", body)


def _no_errcode(payload: dict) -> RawReply:
    """A success WeCom answers without errcode (the two token calls)."""
    return _reply("200 OK", payload)


def _vendor(district):
    vendor = getattr(district, "vendor", None)
    if vendor is None:
        raise ApiError(40058, "no vendor (suite) in this sandbox", _http404=True)
    return vendor


def _token(vendor, request, kind: str) -> None:
    param = "suite_access_token" if kind == "suite" else "provider_access_token"
    status = vendor.token_status(request.query.get(param, ""), kind=kind)
    if status == "expired":
        raise ApiError(42009, "suite_access_token expired")
    if status != "ok":
        raise ApiError(40082, "invalid suite_acccess_token or provider_access_token")


def _string(body: dict, key: str) -> str:
    value = body.get(key, "")
    if not isinstance(value, str):
        raise ApiError(40058, f"Warning: wrong json format. {key} must be a string")
    return value


def service(district, request) -> dict | RawReply:
    """/cgi-bin/service/*: the vendor's calls, all POST with a JSON body."""
    vendor = _vendor(district)
    if request.method != "POST":
        raise ApiError(40063, "params is empty, invalid request method GET")
    path = request.path.removeprefix(SERVICE_PREFIX)
    body = request.json()
    creds = vendor.credentials
    if path == "get_provider_token":
        # WeCom doc 96237: get_provider_token
        corpid = _string(body, "corpid")
        if not corpid:
            raise ApiError(41002, "corpid missing")
        if corpid != creds.provider_corp_id:
            raise ApiError(40013, "invalid corpid")
        if _string(body, "provider_secret") != creds.provider_secret:
            raise ApiError(40001, "invalid credential")
        token, ttl = vendor.provider_token()
        return _no_errcode({"provider_access_token": token, "expires_in": ttl})
    if path == "get_suite_token":
        # WeCom doc 97162: get_suite_token
        if _string(body, "suite_id") != creds.suite_id:
            raise ApiError(40083, "invalid SuiteId")
        if _string(body, "suite_secret") != creds.suite_secret:
            raise ApiError(40080, "invalid suite_secret")
        if _string(body, "suite_ticket") not in vendor.tickets:
            raise ApiError(40085, "invalid suite ticket")
        token, ttl = vendor.suite_token()
        return _no_errcode({"suite_access_token": token, "expires_in": ttl})
    if path == "get_customized_auth_url":
        # WeCom doc 98744: get_customized_auth_url, with the provider token
        _token(vendor, request, "provider")
        templates = body.get("templateid_list")
        if not isinstance(templates, list) or not templates:
            raise ApiError(84019, "missing templateid")
        if creds.suite_id not in templates:
            raise ApiError(84020, "templateid not exist")
        state = _string(body, "state")
        if not STATE.fullmatch(state):
            raise ApiError(40058, "invalid state: a-zA-Z0-9, at most 32 bytes")
        url, ttl = vendor.qrcode_url(state)
        return {"qrcode_url": url, "expires_in": ttl}
    if path == "get_permanent_code":
        # WeCom doc 97163: get_permanent_code
        _token(vendor, request, "suite")
        done = vendor.install(_string(body, "auth_code"))
        if done is None:
            raise ApiError(40078, "invalid auth_code")
        install, state = done
        return _permanent_code(vendor, install, state)
    if path in ("get_auth_info", "v2/get_auth_info"):
        # WeCom docs 90604 / 100795: get_auth_info
        _token(vendor, request, "suite")
        corp_id = _string(body, "auth_corpid")
        install = vendor.installs.get(corp_id)
        code = _string(body, "permanent_code")
        if install is None or install.cancelled or code != install.permanent_code:
            raise ApiError(40084, "invalid permanent_code")
        return {**_authorisation(vendor, install), "dealer_corp_info": {}}
    raise ApiError(40058, f"invalid request url {request.path}", _http404=True)


def _agent(vendor, corp_state) -> dict:
    teachers = sorted(corp_state.school.teachers)
    return {
        "agentid": corp_state.agent_id,
        "name": "school_live",
        "round_logo_url": "",
        "square_logo_url": "",
        "auth_mode": 0,
        "is_customized_app": True,
        "auth_from_thirdapp": False,
        "privilege": {
            "level": 1,
            "allow_party": [1],
            "allow_user": teachers[:2],
            "allow_tag": [],
            "extra_party": [],
            "extra_user": [],
            "extra_tag": [],
        },
    }


def _authorisation(vendor, install) -> dict:
    corp_state = vendor.corp(install.corp_id)
    name = corp_state.school.name
    return {
        "auth_corp_info": {
            "corpid": install.corp_id,
            "corp_name": name,
            "corp_full_name": name,
            "corp_type": "verified",
            "corp_square_logo_url": "",
            "corp_user_max": 1000,
            "subject_type": 1,
            "verified_end_time": 0,
            "corp_scale": "101-200人",
            "corp_industry": "教育",
            "corp_sub_industry": "初中等教育",
        },
        "auth_info": {"agent": [_agent(vendor, corp_state)]},
    }


def _permanent_code(vendor, install, state: str) -> dict:
    answer = {
        "permanent_code": install.permanent_code,
        "dealer_corp_info": {"corpid": "", "corp_name": ""},
        **_authorisation(vendor, install),
        "state": state,
    }
    how = vendor.switches.auth_user
    if how != "absent":
        teacher = vendor.corp(install.corp_id).school.teachers[install.admin]
        answer["auth_user_info"] = {
            "userid": install.admin,
            "open_userid": "" if how == "no_open_userid" else "wo" + install.admin,
            "name": teacher.name,
            "avatar": "",
        }
    return answer


# --- control -----------------------------------------------------------------------------------


def _bad(message: str, status: str = "400 Bad Request") -> RawReply:
    return _reply(status, {"errcode": 400, "errmsg": message})


def _body(request) -> dict:
    if not request.body:
        return {}
    try:
        data = json.loads(request.body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise _bad("body must be JSON") from None
    if not isinstance(data, dict):
        raise _bad("body must be a JSON object")
    return data


def control(district, request) -> dict:
    vendor = getattr(district, "vendor", None)
    if vendor is None:
        raise _bad("this sandbox has no vendor (suite)", "404 Not Found")
    action = request.path.removeprefix(CONTROL_PREFIX).strip("/")
    if action == "":
        if request.method != "GET":
            raise _bad("use GET", "405 Method Not Allowed")
        return vendor.snapshot()
    if request.method != "POST":
        raise _bad("use POST", "405 Method Not Allowed")
    body = _body(request)
    try:
        if action == "config":
            return vendor.configure(**body)
        if action == "verify":
            return vendor.verify_url()
        if action == "ticket":
            return vendor.push_ticket()
        if action == "scan":
            return vendor.scan(
                str(body.get("qrcode_url", "")),
                corp=str(body["corp"]),
                admin=body.get("admin") or None,
                state=body.get("state"),
            )
        if action in ("change", "cancel", "reset"):
            return getattr(vendor, action)(str(body["corp"]))
        if action == "resend":
            return vendor.resend(int(body.get("index", -1)))
        if action == "expire":
            vendor.expire_suite_token()
            return {}
    except (KeyError, IndexError, TypeError, ValueError) as error:
        raise _bad(f"{type(error).__name__}: {error}") from None
    raise _bad(f"unknown sandbox path {request.path}", "404 Not Found")
