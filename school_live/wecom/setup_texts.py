"""What each line of the set-up check (setup_probes.py) means, and what to change in WeCom's
console when it failed: one sentence per line, in the reader's language (zh-hans first).

``line_title(key)`` names the line; ``line_text(line)`` is its sentence: the fix for a failure
(with the address WeCom saw, for 60020), why it was not checked, or what was proven.
"""

from django.utils.dateparse import parse_datetime
from django.utils.formats import date_format
from django.utils.timezone import localtime
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from school_live.wecom.errors import (
    BUSY,
    CONCURRENCY_LIMIT,
    CONFIG_ERROR,
    DATA_ERROR,
    FREQUENCY_LIMIT,
    HTTP_ERROR,
    NETWORK_ERROR,
    RATE_BUDGET,
)
from school_live.wecom.setup_probes import (
    AGENT_GET,
    ALLOW_SCOPE,
    CALLBACK,
    CLOSED,
    CONTACTS,
    DOMAIN_FILE,
    DOMAIN_MISMATCH,
    FAILED,
    JSSDK,
    LIVING_API,
    LIVING_INFO,
    MISSING_AGENT_ID,
    NO_LESSON,
    NO_TEACHER,
    NOT_CONFIGURED,
    NOT_LIVE,
    NOTICE,
    OAUTH,
    OK,
    SKIPPED,
    TOKEN,
    ProbeLine,
)

TITLES = {
    TOKEN: gettext_lazy("Corp id and app secret (gettoken)"),
    AGENT_GET: gettext_lazy("Trusted IP and AgentId (agent/get)"),
    CONTACTS: gettext_lazy("Reading the 家校通讯录 (school/department/list)"),
    LIVING_API: gettext_lazy("上课直播 APIs (get_user_all_livingid)"),
    ALLOW_SCOPE: gettext_lazy("Families 学校通知 may reach (get_allow_scope)"),
    NOTICE: gettext_lazy("Sending 学校通知 (externalcontact/message/send)"),
    LIVING_INFO: gettext_lazy("Reading the newest lesson (get_living_info)"),
    JSSDK: gettext_lazy("JS-SDK tickets (get_jsapi_ticket, ticket/get)"),
    OAUTH: gettext_lazy("Signing in with WeCom (可信域名)"),
    CALLBACK: gettext_lazy("Callback URL (接收消息)"),
    DOMAIN_FILE: gettext_lazy("Domain verification file (WW_verify_….txt)"),
}
PUBLISH_STATUS = {
    0: gettext_lazy("待开发: authorised, not yet built"),
    1: gettext_lazy("开发中: built, not yet live"),
    2: gettext_lazy("已上线"),
    3: gettext_lazy("存在未上线版本: live, a newer version waits"),
}
_TRANSIENT = (BUSY, FREQUENCY_LIMIT, CONCURRENCY_LIMIT, NETWORK_ERROR, HTTP_ERROR, RATE_BUDGET)
_LIVING_PROBES = (LIVING_API, LIVING_INFO)
_NOTICE_PROBES = (ALLOW_SCOPE, NOTICE)


def line_title(key: str) -> str:
    return str(TITLES.get(key, key))


def when_text(value: str) -> str:
    """An ISO 8601 moment as the school reads it, or "never"."""
    moment = parse_datetime(value) if value else None
    if moment is None:
        return _("never")
    return date_format(localtime(moment), "Y-m-d H:i")


def _where(school: str) -> str:
    """Where the school's credentials are entered: the admin's school page, or (the default
    school, ``school`` "") the server's environment."""
    if school:
        return _("the school's page in this admin (学校 → %(school)s)") % {"school": school}
    return _("the server's WECOM_CORP_ID, WECOM_SECRET and WECOM_AGENT_ID environment variables")


def line_text(line: ProbeLine, *, stored_in: str = "") -> str:
    """The line's one sentence: what to change (failed), why not checked, or what it proved.
    ``stored_in``: the name of the school whose credentials are stored in the admin; "" for the
    default school, whose credentials come from the environment."""
    if line.status == SKIPPED:
        return _skipped(line)
    if line.key in (OAUTH, CALLBACK, DOMAIN_FILE):
        return _unprobed(line)
    if line.status == OK:
        return _proven(line)
    if line.status == FAILED:
        return _fix(line, _where(stored_in))
    return ""


def _skipped(line: ProbeLine) -> str:
    if line.reason == NO_TEACHER:
        return _("Not checked: the 家校通讯录 names no teacher of a class yet.")
    if line.reason == NO_LESSON:
        return _("Not checked: school_live has created no lesson yet; checked after the first.")
    return _("Not checked: fix the line above first (未检查：先修好上一项).")


def _proven(line: ProbeLine) -> str:
    p = line.params
    if line.key == AGENT_GET:
        text = _("AgentId %(agentid)s「%(name)s」answers from this server.") % {
            "agentid": p.get("agentid", ""),
            "name": p.get("name", ""),
        }
        if "publish_status" in p:
            status = PUBLISH_STATUS.get(p["publish_status"], p["publish_status"])
            text += " " + _("代开发 app: %(status)s.") % {"status": status}
        return text
    if line.key == CONTACTS:
        return _("%(departments)s departments read.") % {"departments": p.get("departments", 0)}
    if line.key == LIVING_API:
        return _("The lessons of teacher %(userid)s can be listed.") % {
            "userid": p.get("userid", "")
        }
    if line.key == ALLOW_SCOPE:
        return _("%(students)s students and %(departments)s departments within range.") % {
            "students": p.get("students", 0),
            "departments": p.get("departments", 0),
        }
    if line.key == NOTICE:
        return _("Allowed: WeCom refused only the made-up recipient, so nobody received it.")
    if line.key == LIVING_INFO:
        return _("Lesson「%(theme)s」(%(livingid)s) can be read.") % {
            "theme": p.get("theme", ""),
            "livingid": p.get("livingid", ""),
        }
    return _("Works.")


def _unprobed(line: ProbeLine) -> str:
    p = line.params
    if line.key == OAUTH:
        if line.reason == DOMAIN_MISMATCH:
            return _(
                "The app's 可信域名 is %(domain)s, but this site is %(host)s: set 管理后台 → "
                "应用管理 → 本应用 → 网页授权及JS-SDK → 可信域名 to %(host)s."
            ) % {"domain": p.get("domain", ""), "host": p.get("host", "")}
        return _(
            "Cannot be checked from the server. Last WeCom sign-in: %(when)s. To try it, open "
            "this site in WeCom on a phone and tap 使用企业微信登录: an error 50001 means the "
            "可信域名 (应用管理 → 本应用 → 网页授权及JS-SDK) is not %(host)s."
        ) % {"when": when_text(p.get("last", "")), "host": p.get("host", "")}
    if line.key == CALLBACK:
        if line.reason == NOT_CONFIGURED:
            return _(
                "Not set up (no callback Token and EncodingAESKey): lessons are kept fresh by "
                "the scheduled syncs alone. Last callback received: %(when)s."
            ) % {"when": when_text(p.get("last", ""))}
        return _(
            "Cannot be checked from the server. Last callback received: %(when)s. To try it, "
            "in 管理后台 → 应用管理 → 本应用 → 接收消息 → 设置API接收 enter the URL %(url)s "
            "with the same Token and EncodingAESKey and save: WeCom calls the URL at once."
        ) % {"when": when_text(p.get("last", "")), "url": p.get("url", "")}
    names = p.get("names") or []
    if names:
        return _(
            "Served at the site's root: %(names)s. WeCom fetches it when 可信域名 is saved "
            "(应用管理 → 本应用 → 网页授权及JS-SDK)."
        ) % {"names": "、".join(names)}
    return _(
        "None entered. When 应用管理 → 本应用 → 网页授权及JS-SDK → 可信域名 asks for a "
        "WW_verify_….txt file, enter its name and content under 企业微信域名校验文件 in this "
        "admin."
    )


def _fix(line: ProbeLine, where: str) -> str:
    p, code = line.params, line.errcode
    if line.reason == MISSING_AGENT_ID:
        return _("The AgentId is not set: enter the app's AgentId in %(where)s.") % {"where": where}
    if line.reason == CLOSED:
        return _("The app is disabled (停用): enable it in 管理后台 → 应用管理 → 本应用.")
    if line.reason == NOT_LIVE:
        status = PUBLISH_STATUS.get(p.get("publish_status"), p.get("publish_status"))
        return _(
            "The 代开发 app is not live at this school yet (%(status)s): the 服务商 submits "
            "上线 in 服务商管理后台 → 应用管理 → 代开发应用 → this school's app."
        ) % {"status": status}
    if code == 60020:  # 不可信的IP: the address is WeCom's own words
        return _(
            "WeCom refuses calls from this server's address %(ip)s: add it in 管理后台 → 应用管理 "
            "→ 本应用 → 企业可信IP (it applies after about a minute); for a 代开发 app the 服务商 "
            "adds it in 服务商管理后台 → 服务商信息 → 基本信息 → IP白名单."
        ) % {"ip": p.get("ip") or _("(not named by WeCom)")}
    if code in _TRANSIENT:
        return _(
            "WeCom could not be reached or was busy: check that this server can reach "
            "qyapi.weixin.qq.com, then check again in a few minutes."
        )
    if code == DATA_ERROR:
        return _("WeCom's answer was not understood: check again later.")
    if line.key == TOKEN or line.reason == TOKEN:
        return _token_fix(code, where)
    if code in (301002, 40056):  # the token's app is not the agent named
        return _(
            "The AgentId and the secret belong to different apps: copy both from 管理后台 → "
            "应用管理 → 本应用 (AgentId and Secret of the same app) into %(where)s."
        ) % {"where": where}
    if code in (48002, 65022) and line.key == CONTACTS:
        return _(
            "The app may not read the 家校通讯录: add it in 管理后台 → 应用管理 → 家校沟通 → "
            "「读取家校通讯录的应用」 (or 「家长可使用的应用」); a 代开发 app needs the 「家校沟通」 "
            "permission (应用管理 → 本应用 → 权限管理)."
        )
    if code == 48002 and line.key in _LIVING_PROBES:
        return _(
            "The app may not call the 上课直播 APIs: 管理后台 → 应用管理 → 上课直播 → "
            "可调用接口的应用 → 添加本应用; a 代开发 app needs the 「直播」 permission (应用管理 → "
            "本应用 → 权限管理)."
        )
    if code == 48002 and line.key in _NOTICE_PROBES:
        return _(
            "The app may not send 学校通知 to families: 管理后台 → 应用管理 → 家校沟通 → "
            "家长可使用的应用 → 添加本应用."
        )
    if code in (60011, 60111, 40003) and line.key == LIVING_API:
        return _(
            "WeCom does not let the app see teacher %(userid)s: add the teachers to the app's "
            "可见范围 (管理后台 → 应用管理 → 本应用 → 可见范围)."
        ) % {"userid": p.get("userid", "")}
    if code == 92008:  # 只能获取本应用创建的直播
        return _(
            "WeCom refuses to let this app read lesson %(livingid)s, which school_live created: "
            "the secret configured now is another app's than the one that created the lessons; "
            "use the AgentId and Secret of that app in %(where)s."
        ) % {"livingid": p.get("livingid", ""), "where": where}
    return _(
        "WeCom answered errcode %(errcode)s (%(errmsg)s): look it up at "
        "https://open.work.weixin.qq.com/devtool/query?e=%(errcode)s."
    ) % {"errcode": code, "errmsg": p.get("errmsg", "")}


def _token_fix(code, where: str) -> str:
    if code == 40013:
        return _(
            "The corp id is wrong: copy it from 管理后台 → 我的企业 → 企业信息 → 企业ID into "
            "%(where)s."
        ) % {"where": where}
    if code == 40091:
        return _(
            "The secret is another corp's: copy this corp's app secret from 管理后台 → 应用管理 → "
            "本应用 → Secret into %(where)s."
        ) % {"where": where}
    if code in (41004, CONFIG_ERROR):
        return _(
            "The corp id or the app secret is missing: enter them in %(where)s (管理后台 → 我的企业 "
            "→ 企业ID; 应用管理 → 本应用 → Secret)."
        ) % {"where": where}
    return _(
        "The app secret is wrong or was reset (or the app is 停用): in 管理后台 → 应用管理 → 本应用 "
        "→ Secret → 查看, have it sent to the admin's WeCom and enter it in %(where)s."
    ) % {"where": where}
