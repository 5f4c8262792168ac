"""A faithful fake of the WeCom APIs school_live calls, for the demo, the tests and benchmarks.

    from school_live.wecom_sandbox import SandboxServer, SandboxState, generate_school

    state = SandboxState(generate_school(seed=1))
    with SandboxServer(state) as server:      # 127.0.0.1, a free port
        ...  # point WECOM_API_BASE at server.url

Several corps (schools) on one server, each with its own corp id, secret, agent id, callback
Token and key, school, tokens, faults, messages, call log and clock (district.py):

    district = SandboxDistrict.generate(3, seed=1)   # the same department ids and userids in
    with SandboxServer(district) as server:          # every corp, other names and watch data
        for corp in district.credentials: ...        # corp_id, secret, agent_id, callback keys
        district[corp_id].set_faults(busy=0.2)       # one corp unwell, the others healthy

    SandboxServer([state_a, state_b])                # or corps built by hand; the first is the
                                                     # default (server.state)

gettoken finds the corp by corpid (then corpsecret must be that corp's), the OAuth screen by
appid, every other call by the corp that issued its access_token, so one corp's token never
reaches another corp's data; the control API takes ?corp=<corp id> (default: the first corp).

A vendor's 代开发 app (suite_vendor.py, api.md §18.14) whose schools are the district's corps:

    vendor = SandboxVendor.attach(district)          # /cgi-bin/service/*, /sandbox/suite/*
    vendor.configure(url=".../wecom/suite/callback/"); vendor.scan(qrcode_url, corp=corp_id)

Where it is stricter or looser than WeCom, that is a bug: see wecom/api.md for the contract.

Errcodes where WeCom's documentation leaves a choice (each is also commented at its check):
- access_token missing 41001, unknown or revoked 40014, expired 42001 (checked before the method);
  gettoken: corpid missing 41002, corpsecret missing 41004, wrong corpid 40013, wrong secret 40001.
- Wrong HTTP method (GET on a POST API or the reverse), an empty POST body, a missing livingid
  or department_id: 40063 参数为空 (doc 90313 names both "必填的参数缺少" and "接口要求以Post
  方法，就不能使用Get方式" under it).
- Body not a JSON object, or a field of the wrong JSON type: 40058, "Warning: wrong json format.".
- Missing userid 41009, missing OAuth code 41008, missing agentid 41011 (their own codes in the
  global table); touser, toparty and totag all empty 82001.
- access_token is read from the query string only: one in the body is missing (41001).
- next_key or cursor the server never issued (or issued for another living): 40058.
  "" and "0" both mean the first page (proto3 JSON does not tell "" from absent).
- Unknown livingid and another app's living: both 92008 (WeCom does not tell them apart).
- get_user_all_livingid: limit > 100 is clamped to 100, 0 or absent means 100, negative 40058;
  unknown userid 60111. Unknown department 60123; unknown user (school/user/get) 60111.
- getuserinfo: a bad, used or expired code 40029.
- message/send: wrong agentid 40056, bad msgtype 40008, empty text 44004, textcard without
  title/description/url 41016/41033/41010, no valid recipient 81013 (with invaliduser).
- Unknown /cgi-bin/ path: HTTP 404 with errcode 40058, so a typo in a client fails loudly.
- The app set up wrongly in WeCom's console (setup_api.py, api.md §20), per corp: an untrusted
  address 60020 naming it (every API but gettoken), the app missing from 上课直播's list (48002),
  from the 家校通讯录 lists (48002 with neither), from 「家长可使用的应用」 (48002, "api
  forbidden:not in parent app list" on a 学校通知), the secret of another app (301002 where the
  agentid is named), a reset secret (40001 at gettoken), a 代开发 app not yet live (agent/get).
- Faults: -1 busy, 45009 limit (random or calls_per_minute per path, blocked for 60 s), an HTML
  HTTP 502, slow answers, 40014 after a revocation on a follow-up page; per page of a living's
  stats an errcode, a 502, a cut-off body or an HTML page with HTTP 200 (state.inject); gzip
  bodies when state.gzip is set and the client accepts them.
"""

from .district import CorpCredentials, SandboxDistrict, district_credentials
from .school import SchoolConfig, generate_school
from .server import SandboxServer
from .state import DEFAULT_AGENT_ID, DEFAULT_CORP_ID, DEFAULT_SECRET, Faults, SandboxState
from .suite_model import VendorCredentials, vendor_credentials
from .suite_vendor import SandboxVendor

__all__ = [
    "DEFAULT_AGENT_ID",
    "DEFAULT_CORP_ID",
    "DEFAULT_SECRET",
    "CorpCredentials",
    "Faults",
    "SandboxDistrict",
    "SandboxServer",
    "SandboxState",
    "SandboxVendor",
    "SchoolConfig",
    "VendorCredentials",
    "district_credentials",
    "generate_school",
    "vendor_credentials",
]
