"""The WeCom sandbox over real HTTP, with plain requests: it must be as strict as WeCom."""

import re
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from school_live.wecom_sandbox import SandboxServer, SandboxState, generate_school
from tests.fixtures.sandbox import SANDBOX_AGENT_ID, SANDBOX_CORP_ID, SANDBOX_SECRET

ROOT = Path(__file__).resolve().parent.parent
WATCH = "/cgi-bin/school/living/get_watch_stat"
UNWATCH = "/cgi-bin/school/living/get_unwatch_stat"
INFO = "/cgi-bin/school/living/get_living_info"
LIVINGIDS = "/cgi-bin/living/get_user_all_livingid"


class Api:
    def __init__(self, server):
        self.url = server.url
        self.state = server.state
        self.token = ""

    def fetch_token(self) -> str:
        answer = self.raw_get(
            "/cgi-bin/gettoken", corpid=SANDBOX_CORP_ID, corpsecret=SANDBOX_SECRET
        ).json()
        self.token = answer["access_token"]
        return self.token

    def raw_get(self, path, **params):
        return requests.get(self.url + path, params=params, timeout=5, allow_redirects=False)

    def get(self, path, **params) -> dict:
        return self.raw_get(path, access_token=self.token, **params).json()

    def post(self, path, body=None, *, data=None) -> dict:
        response = requests.post(
            self.url + path,
            params={"access_token": self.token},
            json=body,
            data=data,
            timeout=5,
        )
        return response.json()

    def pages(self, path, livingid) -> list[dict]:
        pages, key = [], None
        for _ in range(1000):
            body = {"livingid": livingid}
            if key is not None:
                body["next_key"] = key
            page = self.post(path, body)
            assert page["errcode"] == 0, page
            pages.append(page)
            if page["ending"] == 1:
                return pages
            key = page["next_key"]
        raise AssertionError("pagination never ended")


@pytest.fixture
def api(wecom_sandbox) -> Api:
    client = Api(wecom_sandbox)
    client.fetch_token()
    return client


def livings(state, status: str, *, foreign: bool = False):
    now = state.clock()
    found = []
    for living in state.school.livings.values():
        if living.foreign != foreign or not living.partyids:
            continue
        wanted = {
            "ended": living.living_end <= now and bool(living.viewers),
            "live": living.living_start <= now < living.living_end,
            "upcoming": now < living.living_start,
        }
        if wanted[status]:
            found.append(living)
    return found


def an_ended_living(state):
    return max(livings(state, "ended"), key=lambda lv: len(lv.viewers))


def watch_rows(pages):
    students = [r for p in pages for r in p["stat_infoes"].get("students", [])]
    visitors = [r for p in pages for r in p["stat_infoes"].get("visitors", [])]
    return students, visitors


# -- tokens -------------------------------------------------------------------------------------


def test_gettoken_issues_an_opaque_token_with_the_configured_lifetime(wecom_sandbox):
    wecom_sandbox.state.token_ttl = 600
    answer = Api(wecom_sandbox).raw_get(
        "/cgi-bin/gettoken", corpid=SANDBOX_CORP_ID, corpsecret=SANDBOX_SECRET
    )
    assert answer.status_code == 200
    assert answer.headers["Content-Type"].startswith("application/json")
    body = answer.json()
    assert body["errcode"] == 0 and body["errmsg"] == "ok"
    assert body["expires_in"] == 600
    assert len(body["access_token"]) >= 64


@pytest.mark.parametrize(
    ("params", "errcode"),
    [
        ({"corpid": SANDBOX_CORP_ID, "corpsecret": "wrong"}, 40001),
        ({"corpid": "ww_other", "corpsecret": SANDBOX_SECRET}, 40013),
        ({"corpid": SANDBOX_CORP_ID}, 41004),
        ({"corpsecret": SANDBOX_SECRET}, 41002),
    ],
)
def test_gettoken_refuses_bad_credentials(wecom_sandbox, params, errcode):
    body = Api(wecom_sandbox).raw_get("/cgi-bin/gettoken", **params).json()
    assert body["errcode"] == errcode
    assert "access_token" not in body


def test_repeated_gettoken_gives_a_fresh_token_and_the_old_one_stays_valid(api):
    # Doc 91039 (2024 copy) no longer promises the same token within its validity.
    first = api.token
    second = api.fetch_token()
    assert first != second
    for token in (first, second):
        api.token = token
        assert api.get("/cgi-bin/school/department/list")["errcode"] == 0


def test_missing_access_token_answers_41001(api):
    api.token = ""
    assert api.get("/cgi-bin/school/department/list")["errcode"] == 41001


def test_unknown_token_answers_40014(api):
    api.token = "not-a-token"
    assert api.get("/cgi-bin/school/department/list")["errcode"] == 40014


def test_expired_token_answers_42001(api):
    api.state.token_ttl = 60
    api.fetch_token()
    assert api.get("/cgi-bin/school/department/list")["errcode"] == 0
    api.state.advance(61)
    assert api.get("/cgi-bin/school/department/list")["errcode"] == 42001


def test_expire_and_revoke_tokens_from_python(api):
    api.state.expire_tokens()
    assert api.get("/cgi-bin/school/department/list")["errcode"] == 42001
    api.state.revoke_tokens()
    assert api.get("/cgi-bin/school/department/list")["errcode"] == 40014
    api.fetch_token()
    assert api.get("/cgi-bin/school/department/list")["errcode"] == 0


# -- request discipline -------------------------------------------------------------------------


def test_get_on_a_post_endpoint_answers_40063_params_empty(api):
    # Doc 90313, 40063 参数为空: "接口要求以Post方法，就不能使用Get方式".
    living = an_ended_living(api.state)
    assert api.get(WATCH, livingid=living.livingid)["errcode"] == 40063
    assert api.post(WATCH)["errcode"] == 40063  # POST without a body


def test_post_on_a_get_endpoint_answers_40063(api):
    assert api.post("/cgi-bin/school/department/list", {})["errcode"] == 40063
    answer = requests.post(
        api.url + "/cgi-bin/gettoken",
        params={"corpid": SANDBOX_CORP_ID, "corpsecret": SANDBOX_SECRET},
        timeout=5,
    ).json()
    assert answer["errcode"] == 40063 and "access_token" not in answer


def test_malformed_json_answers_40058_with_the_wrong_json_warning(api):
    body = api.post(WATCH, data=b'{"livingid": ')
    assert body["errcode"] == 40058
    assert "Warning: wrong json format." in body["errmsg"]
    assert api.post(WATCH, data=b"livingid=lv1")["errcode"] == 40058  # form data is not JSON


@pytest.mark.parametrize("body", [{}, {"livingid": ""}, {"next_key": "0"}])
def test_missing_livingid_answers_40063(api, body):
    assert api.post(WATCH, body)["errcode"] == 40063
    assert api.post(UNWATCH, body)["errcode"] == 40063


@pytest.mark.parametrize("livingid", [12, ["lv1"], {"id": "lv1"}, True])
def test_livingid_of_the_wrong_json_type_answers_40058(api, livingid):
    assert api.post(WATCH, {"livingid": livingid})["errcode"] == 40058
    assert api.post(UNWATCH, {"livingid": livingid})["errcode"] == 40058


def test_next_key_of_the_wrong_json_type_answers_40058(api):
    living = an_ended_living(api.state)
    assert api.post(WATCH, {"livingid": living.livingid, "next_key": 0})["errcode"] == 40058


def test_access_token_in_the_body_is_not_a_token(api):
    living = an_ended_living(api.state)
    response = requests.post(
        api.url + WATCH, json={"livingid": living.livingid, "access_token": api.token}, timeout=5
    )
    assert response.json()["errcode"] == 41001
    form = requests.post(
        api.url + "/cgi-bin/school/department/list", data={"access_token": api.token}, timeout=5
    )
    assert form.json()["errcode"] == 41001


def test_errors_look_like_wecom_errmsg_with_hint_ip_and_help_link(api):
    api.token = "not-a-token"
    answer = api.get("/cgi-bin/school/department/list")
    assert answer["errcode"] == 40014
    assert re.fullmatch(
        r"invalid access_token, hint: \[\d{20,}\], from ip: 127\.0\.0\.1, more info at "
        r"https://open\.work\.weixin\.qq\.com/devtool/query\?e=40014",
        answer["errmsg"],
    )


def test_answers_are_utf8_json_without_ascii_escapes(api):
    response = api.raw_get("/cgi-bin/school/department/list", access_token=api.token)
    assert response.headers["Content-Type"] == "application/json; charset=utf-8"
    assert api.state.school.name.encode() in response.content
    assert b"\\u" not in response.content


def test_gzip_answers_when_enabled_and_accepted(api):
    api.state.gzip = True
    response = api.raw_get("/cgi-bin/school/department/list", access_token=api.token)
    assert response.headers["Content-Encoding"] == "gzip"
    assert response.json()["departments"]
    plain = requests.get(
        api.url + "/cgi-bin/school/department/list",
        params={"access_token": api.token},
        headers={"Accept-Encoding": "identity"},
        timeout=5,
    )
    assert "Content-Encoding" not in plain.headers and plain.json()["errcode"] == 0


def test_unknown_path_answers_http_404(api):
    response = requests.get(api.url + "/cgi-bin/nope", params={"access_token": api.token})
    assert response.status_code == 404
    assert response.json()["errcode"] == 40058


# -- watch and unwatch stats --------------------------------------------------------------------


def test_watch_stat_pages_until_ending_with_a_next_key_on_the_last_page(api):
    api.state.page_size = 7
    living = an_ended_living(api.state)
    pages = api.pages(WATCH, living.livingid)
    assert len(pages) > 1
    assert [p["ending"] for p in pages] == [0] * (len(pages) - 1) + [1]
    assert pages[-1]["next_key"]
    for page in pages:
        assert len(page["stat_infoes"]["students"]) + len(page["stat_infoes"]["visitors"]) <= 7
    students, visitors = watch_rows(pages)
    assert len(students) + len(visitors) == len(living.viewers)


def test_next_keys_are_opaque_and_bound_to_their_living(api):
    api.state.page_size = 5
    first, second = livings(api.state, "ended")[:2]
    key = api.post(WATCH, {"livingid": first.livingid})["next_key"]
    assert not key.isdigit()
    assert api.post(WATCH, {"livingid": first.livingid, "next_key": key})["errcode"] == 0
    assert api.post(WATCH, {"livingid": second.livingid, "next_key": key})["errcode"] == 40058
    assert api.post(WATCH, {"livingid": first.livingid, "next_key": "5"})["errcode"] == 40058
    assert api.post(UNWATCH, {"livingid": first.livingid, "next_key": key})["errcode"] == 40058


def test_watchers_unwatched_and_unreachable_absentees_make_up_the_roster(api):
    school = api.state.school
    for living in livings(api.state, "ended")[:12]:
        roster = {s.userid for s in school.roster(living.partyids)}
        students, _ = watch_rows(api.pages(WATCH, living.livingid))
        unwatch = [
            r for p in api.pages(UNWATCH, living.livingid) for r in p["stat_info"]["students"]
        ]
        watched = {r["student_userid"] for r in students}
        unwatched = {r["student_userid"] for r in unwatch}
        unreachable = {
            s.userid for s in school.roster(living.partyids) if s.subscribed_parent is None
        }
        assert not watched & unwatched
        assert watched | unwatched | (unreachable - watched) == roster
        for row in unwatch:
            student = school.students[row["student_userid"]]
            parent = next(p for p in student.parents if p.userid == row["parent_userid"])
            assert parent.is_subscribe == 1
            assert row["partyids"] == list(student.departments)
        for row in students:
            assert row["partyids"] == list(school.students[row["student_userid"]].departments)


def test_watch_time_is_accumulated_and_fits_between_enter_and_leave(api):
    now = api.state.clock()
    gaps = 0
    for living in api.state.school.livings.values():
        for viewer in living.viewers[: living.visible_count(now)]:
            row = viewer.render(now)
            assert 0 <= row["watch_time"] <= row["leave_time"] - row["enter_time"]
            gaps += row["watch_time"] < row["leave_time"] - row["enter_time"]
    assert gaps > 0


def test_generated_school_holds_every_awkward_case(wecom_sandbox):
    state = wecom_sandbox.state
    school, now = state.school, state.clock()
    students = list(school.students.values())
    assert any(s.subscribed_parent is None for s in students)
    assert any(len(s.departments) == 2 for s in students)
    assert all(1 <= len(s.parents) <= 3 for s in students)
    viewers = [(lv, v) for lv in school.livings.values() for v in lv.viewers]
    assert any(not v.is_visitor and v.parent_userid is None for _, v in viewers)
    nicknames = [v.nickname for _, v in viewers if v.is_visitor]
    for hostile in ("<script>alert(1)</script>", '=HYPERLINK("x")', "+1", "@x"):
        assert hostile in nicknames
    assert any(
        sum(v.nickname == "静待花开" for v in lv.viewers) == 2 for lv in school.livings.values()
    )
    assert any(v.first_enter >= lv.living_end for lv, v in viewers)  # replay only
    assert any(v.comments for _, v in viewers)
    double = [
        lv
        for lv in school.livings.values()
        if len({v.student_userid for v in lv.viewers if not v.is_visitor})
        < sum(1 for v in lv.viewers if not v.is_visitor)
    ]
    assert double  # two parents of one student both watched
    assert livings(state, "live") and livings(state, "upcoming")
    assert any(lv.foreign for lv in school.livings.values())
    assert any(len(lv.partyids) == 2 for lv in school.livings.values())
    assert any(not lv.partyids and lv.group_names for lv in school.livings.values())
    for living in school.livings.values():
        if living.partyids and living.living_end <= now - 3600:
            assert 40 * 60 <= living.living_duration <= 90 * 60


def test_student_on_their_own_account_has_no_parent_userid_key(api):
    living = next(
        lv
        for lv in livings(api.state, "ended")
        if any(not v.is_visitor and v.parent_userid is None for v in lv.viewers)
    )
    students, _ = watch_rows(api.pages(WATCH, living.livingid))
    assert any("parent_userid" not in row for row in students)
    assert any("parent_userid" in row for row in students)


def test_same_seed_gives_the_same_school():
    one = generate_school(seed=4, now=1_790_000_000)
    two = generate_school(seed=4, now=1_790_000_000)
    other = generate_school(seed=5, now=1_790_000_000)
    assert list(one.livings) == list(two.livings)
    assert list(one.students) == list(two.students)
    first = next(iter(one.livings))
    assert one.livings[first].viewers == two.livings[first].viewers
    assert list(one.livings) != list(other.livings)


def test_big_living_has_the_requested_rows():
    # How fast it builds is bench_sync's to report, not a test's to time.
    school = generate_school(seed=2, big_living_rows=20_000)
    big = school.livings[school.big_livingid]
    assert len(big.viewers) == 20_000
    assert len(school.roster(big.partyids)) >= 20_000 - 100


def test_another_apps_living_answers_92008(api):
    foreign = livings(api.state, "ended", foreign=True)[0]
    assert api.get(INFO, livingid=foreign.livingid)["errcode"] == 92008
    assert api.post(WATCH, {"livingid": foreign.livingid})["errcode"] == 92008
    assert api.post(UNWATCH, {"livingid": foreign.livingid})["errcode"] == 92008
    assert api.post(WATCH, {"livingid": "lvNoSuchLiving"})["errcode"] == 92008
    listed = api.post(LIVINGIDS, {"userid": foreign.anchor_userid})["livingid_list"]
    assert foreign.livingid not in listed


# -- living info and living ids -----------------------------------------------------------------


def test_living_info_has_every_documented_field(api):
    living = an_ended_living(api.state)
    body = api.get(INFO, livingid=living.livingid)
    info = body["living_info"]
    assert set(info) == {
        "theme",
        "living_start",
        "living_duration",
        "anchor_userid",
        "living_range",
        "viewer_num",
        "comment_num",
        "open_replay",
        "push_stream_url",
        "online_count",
        "subscribe_count",
    }
    assert info["living_range"]["partyids"] == list(living.partyids)
    assert info["viewer_num"] == len(living.viewers)
    assert info["online_count"] == 0 and info["push_stream_url"] == ""
    assert api.get(INFO)["errcode"] == 40063


def test_live_living_accrues_watch_time_with_the_clock(api):
    living = livings(api.state, "live")[0]

    def total():
        students, visitors = watch_rows(api.pages(WATCH, living.livingid))
        return sum(r["watch_time"] for r in students + visitors), len(students + visitors)

    before, rows_before = total()
    assert api.get(INFO, livingid=living.livingid)["living_info"]["online_count"] > 0
    api.state.advance(300)
    after, rows_after = total()
    assert after > before and rows_after >= rows_before
    api.state.end_living_now(living.livingid)
    ended, _ = total()
    api.state.advance(600)
    assert total()[0] == ended
    assert api.get(INFO, livingid=living.livingid)["living_info"]["online_count"] == 0


def test_upcoming_living_starts_now_and_gains_watchers(api):
    living = livings(api.state, "upcoming")[0]
    assert watch_rows(api.pages(WATCH, living.livingid)) == ([], [])
    api.state.start_living_now(living.livingid)
    api.state.advance(living.living_duration // 2)
    students, _ = watch_rows(api.pages(WATCH, living.livingid))
    assert students


def test_user_all_livingid_pages_by_cursor_and_clamps_the_limit(api):
    teacher = max(
        api.state.school.teachers,
        key=lambda t: sum(lv.anchor_userid == t for lv in api.state.school.livings.values()),
    )
    seen, cursor = [], None
    while True:
        body = {"userid": teacher, "limit": 3}
        if cursor:
            body["cursor"] = cursor
        page = api.post(LIVINGIDS, body)
        assert page["errcode"] == 0 and len(page["livingid_list"]) <= 3
        seen += page["livingid_list"]
        cursor = page["next_cursor"]
        if cursor == "":
            break
    assert len(seen) == len(set(seen)) > 3
    everything = api.post(LIVINGIDS, {"userid": teacher.upper(), "limit": 1000})
    assert everything["livingid_list"] == seen and everything["next_cursor"] == ""
    assert api.post(LIVINGIDS, {"userid": "nobody"})["errcode"] == 60111
    assert api.post(LIVINGIDS, {})["errcode"] == 41009
    assert api.post(LIVINGIDS, {"userid": teacher, "cursor": "bogus"})["errcode"] == 40058
    assert api.post(LIVINGIDS, {"userid": 7})["errcode"] == 40058
    assert api.post(LIVINGIDS, {"userid": teacher, "limit": 0})["livingid_list"][:3] == seen[:3]
    assert api.post(LIVINGIDS, {"userid": teacher, "limit": -1})["errcode"] == 40058
    assert api.post(LIVINGIDS, {"userid": teacher, "limit": "20"})["errcode"] == 40058


def test_user_all_livingid_limit_above_100_is_capped_at_100(wecom_sandbox):
    state = wecom_sandbox.state
    teacher = next(iter(state.school.teachers))
    template = next(lv for lv in state.school.livings.values() if lv.anchor_userid == teacher)
    for n in range(120):
        copy = template.copy()
        copy.livingid = f"lvcap{n:03d}"
        state.school.livings[copy.livingid] = copy
    api = Api(wecom_sandbox)
    api.fetch_token()
    first = api.post(LIVINGIDS, {"userid": teacher, "limit": 500})
    assert len(first["livingid_list"]) == 100 and first["next_cursor"]
    rest = api.post(LIVINGIDS, {"userid": teacher, "cursor": first["next_cursor"]})
    assert rest["next_cursor"] == ""
    assert len(set(first["livingid_list"] + rest["livingid_list"])) > 120


# -- contact book -------------------------------------------------------------------------------


def test_department_list_gives_a_subtree_and_refuses_unknown_ids(api):
    everything = api.get("/cgi-bin/school/department/list")["departments"]
    root = next(d for d in everything if d["id"] == 1)
    assert root["type"] == 5 and root["parentid"] == 0
    grade = next(d for d in everything if d["type"] == 2)
    assert {"register_year", "standard_grade", "is_graduated"} <= set(grade)
    assert grade["department_admins"][0]["type"] == 2
    klass = next(d for d in everything if d["type"] == 1)
    assert {a["type"] for a in klass["department_admins"]} == {3, 4}
    assert all(a["subject"] for a in klass["department_admins"])
    subtree = api.get("/cgi-bin/school/department/list", id=grade["id"])["departments"]
    assert subtree[0]["id"] == grade["id"]
    assert {d["parentid"] for d in subtree[1:]} == {grade["id"]}
    assert api.get("/cgi-bin/school/department/list", id=99999)["errcode"] == 60123


def test_user_list_gives_one_departments_students_with_parents(api):
    students = api.get("/cgi-bin/school/user/list", department_id=3)["students"]
    assert students and all(3 in s["department"] for s in students)
    for parent in (p for s in students for p in s["parents"]):
        assert parent["relation"] in ("妈妈", "爸爸", "爷爷", "奶奶")
        assert ("external_userid" in parent) == (parent["is_subscribe"] == 1)
    assert api.get("/cgi-bin/school/user/list", department_id=2)["students"] == []
    assert api.get("/cgi-bin/school/user/list", department_id=424242)["errcode"] == 60123
    assert api.get("/cgi-bin/school/user/list")["errcode"] == 40063
    assert api.get("/cgi-bin/school/user/list", department_id="")["errcode"] == 40063
    assert api.get("/cgi-bin/school/user/list", department_id="abc")["errcode"] == 40058
    assert api.get("/cgi-bin/school/user/list_parent")["errcode"] == 40063


def test_user_get_is_case_insensitive_and_tells_students_from_parents(api):
    student = next(iter(api.state.school.students.values()))
    body = api.get("/cgi-bin/school/user/get", userid=student.userid.upper())
    assert body["user_type"] == 1 and body["student"]["student_userid"] == student.userid
    parent = api.get("/cgi-bin/school/user/get", userid=student.parents[0].userid)
    assert parent["user_type"] == 2
    assert parent["parent"]["children"][0]["student_userid"] == student.userid
    assert api.get("/cgi-bin/school/user/get", userid="nobody")["errcode"] == 60111
    assert api.get("/cgi-bin/school/user/get")["errcode"] == 41009


def test_list_parent_gives_each_parent_once_with_children(api):
    parents = api.get("/cgi-bin/school/user/list_parent", department_id=3)["parents"]
    ids = [p["parent_userid"] for p in parents]
    assert len(ids) == len(set(ids)) > 0
    assert all(p["children"][0]["name"] for p in parents)


# -- OAuth and messages -------------------------------------------------------------------------


def _authorize(api, **overrides):
    params = {
        "appid": SANDBOX_CORP_ID,
        "redirect_uri": "http://testserver/auth/wecom/callback?next=/x",
        "response_type": "code",
        "scope": "snsapi_base",
        "state": "abc123",
        "agentid": str(SANDBOX_AGENT_ID),
    }
    params.update(overrides)
    return api.raw_get("/connect/oauth2/authorize", **params)


def test_oauth_screen_issues_a_single_use_code(api):
    page = _authorize(api)
    assert page.status_code == 200 and "text/html" in page.headers["Content-Type"]
    teacher = next(iter(api.state.school.teachers.values()))
    assert teacher.name in page.text
    href = re.search(r'href="([^"]+)" data-userid="' + teacher.userid, page.text).group(1)
    chosen = requests.get(api.url + href.replace("&amp;", "&"), allow_redirects=False, timeout=5)
    assert chosen.status_code == 302
    location = urlsplit(chosen.headers["Location"])
    query = parse_qs(location.query)
    assert location.netloc == "testserver" and query["state"] == ["abc123"]
    assert query["next"] == ["/x"]
    code = query["code"][0]
    assert api.get("/cgi-bin/auth/getuserinfo", code=code) == {
        "errcode": 0,
        "errmsg": "ok",
        "userid": teacher.userid,
    }
    assert api.get("/cgi-bin/auth/getuserinfo", code=code)["errcode"] == 40029
    assert api.get("/cgi-bin/auth/getuserinfo")["errcode"] == 41008


def test_oauth_code_expires_after_five_minutes(api):
    code = api.state.issue_oauth_code(next(iter(api.state.school.teachers)))
    api.state.advance(301)
    assert api.get("/cgi-bin/auth/getuserinfo", code=code)["errcode"] == 40029


def test_oauth_screen_refuses_a_wrong_appid_and_escapes_what_it_echoes(api):
    wrong = _authorize(api, appid="ww_other")
    assert wrong.status_code == 400 and "code=" not in wrong.text
    hostile = _authorize(api, redirect_uri='http://testserver/"><script>alert(1)</script>')
    assert "<script>" not in hostile.text


def test_message_send_records_messages_and_reports_invalid_users(api):
    teacher = next(iter(api.state.school.teachers))
    body = {
        "touser": f"{teacher.upper()}|ghost",
        "msgtype": "textcard",
        "agentid": SANDBOX_AGENT_ID,
        "textcard": {
            "title": "出勤",
            "description": "3 人缺勤",
            "url": "http://x/",
            "btntxt": "详情",
        },
    }
    answer = api.post("/cgi-bin/message/send", body)
    assert answer["errcode"] == 0 and answer["msgid"]
    assert answer["invaliduser"] == "ghost"
    [sent] = api.state.sent_messages
    assert sent["recipients"] == [teacher] and sent["body"]["textcard"]["title"] == "出勤"
    upper = api.post("/cgi-bin/message/send", {**body, "touser": f"{teacher}|GHOST|Nobody"})
    assert upper["invaliduser"] == "ghost|nobody"  # doc 90236: lower-cased, "|"-separated
    refused = api.post("/cgi-bin/message/send", {**body, "touser": "ghost"})
    assert refused["errcode"] == 81013 and refused["invaliduser"] == "ghost"
    assert api.post("/cgi-bin/message/send", {**body, "agentid": 1})["errcode"] == 40056
    assert api.post("/cgi-bin/message/send", {**body, "msgtype": "fax"})["errcode"] == 40008
    assert api.post("/cgi-bin/message/send", {**body, "touser": ""})["errcode"] == 82001
    assert len(api.state.sent_messages) == 2


# -- faults, scripts, injected failures ---------------------------------------------------------


def _errcodes(api, n):
    return [api.get("/cgi-bin/school/department/list")["errcode"] for _ in range(n)]


def test_faults_with_a_fixed_seed_repeat_themselves(api):
    api.state.set_faults(busy=0.3, limit=0.2, seed=11)
    first = _errcodes(api, 30)
    api.state.set_faults(busy=0.3, limit=0.2, seed=11)
    assert _errcodes(api, 30) == first
    assert {-1, 45009, 0} <= set(first)
    api.state.clear_faults()
    assert set(_errcodes(api, 5)) == {0}


def test_http502_fault_answers_an_html_page(api):
    api.state.set_faults(http502=1.0)
    response = requests.get(api.url + "/cgi-bin/school/department/list", timeout=5)
    assert response.status_code == 502 and "text/html" in response.headers["Content-Type"]


def test_calls_per_minute_limit_answers_45009_until_the_minute_passes(api):
    api.state.set_faults(calls_per_minute=3)
    assert _errcodes(api, 4) == [0, 0, 0, 45009]
    api.state.advance(61)
    assert _errcodes(api, 1) == [0]


def test_revoke_fault_bites_on_a_follow_up_page(api):
    api.state.page_size = 5
    living = an_ended_living(api.state)
    api.state.set_faults(revoke=1.0)
    first = api.post(WATCH, {"livingid": living.livingid})
    assert first["errcode"] == 0
    follow_up = api.post(WATCH, {"livingid": living.livingid, "next_key": first["next_key"]})
    assert follow_up["errcode"] == 40014


def test_scripted_pages_are_served_in_order_chained_by_issued_keys(api):
    row = {"student_userid": "s1", "partyids": [3], "watch_time": 60}
    api.state.script_watch_pages(
        "lvScripted",
        [
            {"stat_infoes": {"students": [row], "visitors": []}},
            {"stat_infoes": {}},
            {"stat_infoes": {"students": [{**row, "watch_time": "abc"}]}, "ending": 1},
            {"stat_infoes": {"students": [row]}},
        ],
    )
    first = api.post(WATCH, {"livingid": "lvScripted", "next_key": "0"})
    assert first["errcode"] == 0 and first["ending"] == 0 and first["next_key"]
    second = api.post(WATCH, {"livingid": "lvScripted", "next_key": first["next_key"]})
    assert second["stat_infoes"] == {} and second["ending"] == 0
    third = api.post(WATCH, {"livingid": "lvScripted", "next_key": second["next_key"]})
    assert third["ending"] == 1 and third["next_key"]
    assert third["stat_infoes"]["students"][0]["watch_time"] == "abc"
    fourth = api.post(WATCH, {"livingid": "lvScripted", "next_key": third["next_key"]})
    assert fourth["ending"] == 1
    assert api.post(WATCH, {"livingid": "lvScripted", "next_key": "forged"})["errcode"] == 40058


def test_scripted_page_may_carry_its_own_errcode(api):
    api.state.script_unwatch_pages("lvScripted", [{"errcode": 45009}])
    body = api.post(UNWATCH, {"livingid": "lvScripted"})
    assert body["errcode"] == 45009 and body["errmsg"] != "ok"


def test_injected_failure_breaks_a_page_after_a_good_sync(api):
    api.state.page_size = 5
    living = an_ended_living(api.state)
    assert len(api.pages(WATCH, living.livingid)) > 2
    api.state.fail_living(living.livingid, errcode=-1, at_page=2)
    first = api.post(WATCH, {"livingid": living.livingid})
    assert first["errcode"] == 0
    again = {"livingid": living.livingid, "next_key": first["next_key"]}
    assert api.post(WATCH, again)["errcode"] == -1
    api.state.inject(living.livingid, page=1, kind="http502", stat="unwatch", times=1)
    response = requests.post(
        api.url + UNWATCH, params={"access_token": api.token}, json={"livingid": living.livingid}
    )
    assert response.status_code == 502
    assert api.post(UNWATCH, {"livingid": living.livingid})["errcode"] == 0
    api.state.inject(living.livingid, page=1, kind="not_json", stat="unwatch")
    broken = requests.post(
        api.url + UNWATCH, params={"access_token": api.token}, json={"livingid": living.livingid}
    )
    with pytest.raises(ValueError):
        broken.json()


def test_update_watch_changes_what_wecom_reports(api):
    living = an_ended_living(api.state)
    viewer = next(v for v in living.viewers if not v.is_visitor)
    api.state.update_watch(living.livingid, viewer.student_userid, watch_time=7, is_comment=1)
    students, _ = watch_rows(api.pages(WATCH, living.livingid))
    rows = [r for r in students if r["student_userid"] == viewer.student_userid]
    assert rows and all(r["watch_time"] == 7 and r["is_comment"] == 1 for r in rows)
    absentee = next(
        r["student_userid"]
        for p in api.pages(UNWATCH, living.livingid)
        for r in p["stat_info"]["students"]
    )
    api.state.add_watcher(living.livingid, absentee, watch_time=90)
    unwatch = [r for p in api.pages(UNWATCH, living.livingid) for r in p["stat_info"]["students"]]
    assert absentee not in {r["student_userid"] for r in unwatch}


def test_reset_restores_livings_and_clears_faults(wecom_sandbox):
    state = wecom_sandbox.state
    living = an_ended_living(state)
    rows = len(living.viewers)
    state.remove_watcher(living.livingid, living.viewers[0].student_userid or "x")
    state.set_faults(busy=1.0)
    state.reset()
    assert len(state.living(living.livingid).viewers) == rows
    assert state.faults.busy == 0


# -- control API, server, command ---------------------------------------------------------------


def test_control_api_steers_the_sandbox_over_http(api):
    control = api.url + "/sandbox"
    summary = requests.get(control + "/summary", timeout=5).json()
    assert summary["corp_id"] == SANDBOX_CORP_ID and summary["agent_id"] == SANDBOX_AGENT_ID
    assert summary["teachers"][0]["classes"] and summary["livings"]["live"]
    assert summary["livings"]["foreign"]
    before = summary["now"]
    assert requests.post(control + "/advance", json={"seconds": 100}, timeout=5).json()["now"] >= (
        before + 100
    )
    faults = requests.post(control + "/faults", json={"busy": 1.0, "seed": 2}, timeout=5).json()
    assert faults["faults"]["busy"] == 1.0
    assert api.get("/cgi-bin/school/department/list")["errcode"] == -1
    requests.post(control + "/faults", json={}, timeout=5)
    live = summary["livings"]["live"][0]["livingid"]
    ended = requests.post(f"{control}/livings/{live}/end", timeout=5).json()
    assert ended["living"]["status"] == "ended"
    started = requests.post(f"{control}/livings/{live}/start", json={"duration": 600}, timeout=5)
    assert started.json()["living"]["status"] == "live"
    watch = {"student_userid": "newkid", "watch_time": 42}
    assert requests.post(f"{control}/livings/{live}/watch", json=watch, timeout=5).ok
    api.state.advance(1)
    students, _ = watch_rows(api.pages(WATCH, live))
    assert any(r["student_userid"] == "newkid" and r["watch_time"] == 42 for r in students)
    requests.post(control + "/tokens/revoke", timeout=5)
    assert api.get("/cgi-bin/school/department/list")["errcode"] == 40014
    api.fetch_token()
    api.post(
        "/cgi-bin/message/send",
        {
            "touser": summary["teachers"][0]["userid"],
            "msgtype": "text",
            "agentid": SANDBOX_AGENT_ID,
            "text": {"content": "hi"},
        },
    )
    messages = requests.get(control + "/messages", timeout=5).json()["messages"]
    assert messages[0]["body"]["text"]["content"] == "hi"
    demo = requests.post(control + "/livings/demo", json={"start_in": 60}, timeout=5).json()
    assert demo["living"]["status"] == "upcoming"
    assert requests.get(control + "/nope", timeout=5).status_code == 404


def test_server_refuses_a_non_loopback_address():
    with pytest.raises(ValueError, match="loopback"):
        SandboxServer(SandboxState(generate_school(seed=1)), host="0.0.0.0")  # noqa: S104


def test_management_command_serves_the_sandbox():
    process = subprocess.Popen(
        [
            *(sys.executable, "manage.py", "wecom_sandbox", "--port", "0", "--weeks", "1"),
            *("--corp-id", SANDBOX_CORP_ID, "--secret", SANDBOX_SECRET),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 15
        url = None
        while time.monotonic() < deadline and url is None:
            line = process.stdout.readline()
            if not line:
                break
            match = re.search(r"listening on (http://127\.0\.0\.1:\d+)", line)
            url = match.group(1) if match else None
        assert url, "the command did not report its address"
        token = requests.get(
            url + "/cgi-bin/gettoken",
            params={"corpid": SANDBOX_CORP_ID, "corpsecret": SANDBOX_SECRET},
            timeout=5,
        ).json()
        assert token["errcode"] == 0
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
