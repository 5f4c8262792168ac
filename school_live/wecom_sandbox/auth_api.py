"""Tokens and teacher sign-in: gettoken, auth/getuserinfo, and a stand-in for the OAuth screen
WeCom shows at open.weixin.qq.com/connect/oauth2/authorize (served here so that the whole
sign-in works on loopback)."""

import html
import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from .replies import ApiError, redirect
from .replies import html as html_reply

SCOPES = ("snsapi_base", "snsapi_privateinfo")
# doc 91023: state may hold a-zA-Z0-9 only, at most 128 bytes.
STATE_PATTERN = re.compile(r"[a-zA-Z0-9]{0,128}")


def gettoken(state, request) -> dict:
    # WeCom doc 91039: gettoken
    corpid = request.query.get("corpid", "")
    corpsecret = request.query.get("corpsecret", "")
    if not corpid:
        raise ApiError(41002, "corpid missing")
    if not corpsecret:
        raise ApiError(41004, "corpsecret missing")
    if corpid != state.corp_id:
        raise ApiError(40013, "invalid corpid")
    # A corp that installed the vendor's 代开发 app (suite_vendor.py) also takes its permanent
    # code, the app's secret; a cancelled or reset one is refused like a wrong secret.
    if corpsecret != state.secret and not (
        state.permanent_code and corpsecret == state.permanent_code
    ):
        raise ApiError(40001, "invalid credential")
    token, ttl = state.issue_token()
    return {"access_token": token, "expires_in": ttl}


def getuserinfo(state, request) -> dict:
    # WeCom doc 91023: auth/getuserinfo; a code works once, within five minutes.
    code = request.query.get("code", "")
    if not code:
        raise ApiError(41008, "missing code")
    found = state.consume_oauth_code(code)
    if found is None:
        raise ApiError(40029, "invalid code")
    userid, scope = found
    answer = {"userid": userid}
    if scope == "snsapi_privateinfo":
        answer["user_ticket"] = "ut" + code
    return answer


def _error_page(message: str):
    return html_reply(
        "<!doctype html><meta charset=utf-8><title>企业微信</title>"
        f"<h1>无法登录</h1><p>{html.escape(message)}</p>",
        status="400 Bad Request",
    )


def _with_code(redirect_uri: str, code: str, state_param: str) -> str:
    parts = urlsplit(redirect_uri)
    query = parse_qsl(parts.query, keep_blank_values=True)
    query += [("code", code), ("state", state_param)]
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), ""))


def oauth_screen(state, request):
    """GET /connect/oauth2/authorize lists the teachers; following a teacher's link (or posting
    the form) issues a code and redirects to redirect_uri?code=CODE&state=STATE."""
    params = dict(request.query)
    if request.method == "POST":
        params.update(request.form())
    if request.path not in ("/connect/oauth2/authorize", "/connect/oauth2/sandbox_choose"):
        return _error_page("页面不存在")
    appid = params.get("appid", "")
    redirect_uri = params.get("redirect_uri", "")
    scope = params.get("scope", "")
    state_param = params.get("state", "")
    if appid != state.corp_id:
        return _error_page("appid 参数错误")
    if urlsplit(redirect_uri).scheme not in ("http", "https") or not urlsplit(redirect_uri).netloc:
        return _error_page("redirect_uri 参数错误")
    if params.get("response_type") != "code" or scope not in SCOPES:
        return _error_page("response_type 或 scope 参数错误")
    if not STATE_PATTERN.fullmatch(state_param):
        return _error_page("state 参数错误")
    agentid = params.get("agentid", "")
    if (agentid or scope == "snsapi_privateinfo") and agentid != str(state.agent_id):
        return _error_page("agentid 参数错误")

    if request.path == "/connect/oauth2/sandbox_choose":
        userid = params.get("userid", "")
        if userid not in state.school.teachers:
            return _error_page("请选择一位老师")
        code = state.issue_oauth_code(userid, scope)
        return redirect(_with_code(redirect_uri, code, state_param))

    keep = {k: params[k] for k in ("appid", "redirect_uri", "response_type", "scope", "state")}
    if agentid:
        keep["agentid"] = agentid
    items = []
    for teacher in state.school.teachers.values():
        href = "/connect/oauth2/sandbox_choose?" + urlencode({**keep, "userid": teacher.userid})
        classes = "、".join(d.name for d, _ in state.school.teacher_classes(teacher.userid)[:4])
        items.append(
            f'<li><a href="{html.escape(href)}" data-userid="{html.escape(teacher.userid)}">'
            f"{html.escape(teacher.name)}</a> <small>{html.escape(teacher.userid)}"
            f" · {html.escape(classes)}</small></li>"
        )
    return html_reply(
        "<!doctype html><html lang=zh-CN><meta charset=utf-8>"
        '<meta name=viewport content="width=device-width, initial-scale=1">'
        "<title>企业微信登录（沙箱）</title>"
        f"<h1>{html.escape(state.school.name)}</h1>"
        "<p>WeCom sandbox: choose the teacher to sign in as. 选择要登录的老师：</p>"
        f"<ul>{''.join(items)}</ul></html>"
    )
