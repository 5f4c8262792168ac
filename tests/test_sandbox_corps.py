"""One sandbox server, three corps (schools) with the SAME department ids and userids: over real
HTTP, each corp's secret, token, data, faults, control, sign-in, tickets and callbacks stay its
own, so a product that forgets which school it is talking to is caught at once."""

import hashlib
import re
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from school_live.wecom.callback_crypto import CallbackCrypto, CallbackError, parse_xml
from school_live.wecom.jsapi import jsapi_signature
from school_live.wecom_sandbox import (
    DEFAULT_CORP_ID,
    DEFAULT_SECRET,
    SandboxDistrict,
    SandboxServer,
    SandboxState,
    district_credentials,
    generate_school,
)

LAYOUT = {"grades": 1, "classes_per_grade": 3, "students_per_class": 10, "weeks": 1}
DEPARTMENTS = "/cgi-bin/school/department/list"
USERS = "/cgi-bin/school/user/list"
PARENTS = "/cgi-bin/school/user/list_parent"
LIVINGIDS = "/cgi-bin/living/get_user_all_livingid"
INFO = "/cgi-bin/school/living/get_living_info"
WATCH = "/cgi-bin/school/living/get_watch_stat"
ROOT = Path(__file__).resolve().parent.parent
WAIT = 15  # seconds: an upper bound for the callback pump (it looks every second)


@pytest.fixture(scope="module")
def district_server():
    district = SandboxDistrict.generate(3, seed=4, **LAYOUT)
    with SandboxServer(district) as server:
        yield server


@pytest.fixture
def district(district_server) -> SandboxDistrict:
    district_server.district.reset()
    yield district_server.district
    district_server.district.reset()


@pytest.fixture
def url(district_server, district) -> str:
    return district_server.url


class Corp:
    """A client of one corp's app: its credentials and a token of its own."""

    def __init__(self, url: str, credentials):
        self.url, self.credentials = url, credentials
        self.corp_id, self.agent_id = credentials.corp_id, credentials.agent_id
        self.token = gettoken(url, self.corp_id, credentials.secret)["access_token"]

    def get(self, path, **params) -> dict:
        params = {"access_token": self.token, **params}
        return requests.get(self.url + path, params=params, timeout=5).json()

    def post(self, path, body) -> dict:
        params = {"access_token": self.token}
        return requests.post(self.url + path, params=params, json=body, timeout=5).json()

    def control(self, method, path, body=None, *, corp: str | None = "") -> requests.Response:
        corp = self.corp_id if corp == "" else corp
        params = {} if corp is None else {"corp": corp}
        return requests.request(
            method, self.url + path, params=params, json=body, timeout=5, allow_redirects=False
        )


def gettoken(url, corpid, secret) -> dict:
    params = {"corpid": corpid, "corpsecret": secret}
    return requests.get(url + "/cgi-bin/gettoken", params=params, timeout=5).json()


@pytest.fixture
def corps(url, district) -> list[Corp]:
    return [Corp(url, credentials) for credentials in district.credentials]


def roster(corp: Corp) -> dict[int, dict[str, str]]:
    """Each class's students as the corp's app reads them: {class id: {userid: name}}."""
    departments = corp.get(DEPARTMENTS, id=1)["departments"]
    classes = [d["id"] for d in departments if d["type"] == 1]
    return {
        dept: {
            s["student_userid"]: s["name"] for s in corp.get(USERS, department_id=dept)["students"]
        }
        for dept in classes
    }


def ended_livingid(state: SandboxState) -> str:
    now = state.clock()
    return min(
        lv.livingid
        for lv in state.school.livings.values()
        if not lv.foreign and lv.partyids and lv.viewers and lv.living_end < now
    )


# -- the same ids, other people ----------------------------------------------------------------


def test_every_corp_has_the_same_department_ids_and_userids_with_other_names(corps):
    departments = [corp.get(DEPARTMENTS, id=1)["departments"] for corp in corps]
    assert all(answer for answer in departments)
    ids = [[d["id"] for d in answer] for answer in departments]
    assert ids[0] == ids[1] == ids[2]
    # The school department is 1 in every corp, under each school's own name.
    schools = [next(d["name"] for d in answer if d["id"] == 1) for answer in departments]
    assert len(set(schools)) == 3

    rosters = [roster(corp) for corp in corps]
    assert rosters[0].keys() == rosters[1].keys() == rosters[2].keys()
    for dept in rosters[0]:
        userids = [set(r[dept]) for r in rosters]
        assert userids[0] == userids[1] == userids[2] and len(userids[0]) >= 10
        # Other people behind the same userids: hardly any name may coincide.
        for other in rosters[1:]:
            same = [u for u in rosters[0][dept] if rosters[0][dept][u] == other[dept][u]]
            assert len(same) <= 2, same

    parents = [
        {p["parent_userid"] for p in corp.get(PARENTS, department_id=min(rosters[0]))["parents"]}
        for corp in corps
    ]
    assert parents[0] == parents[1] == parents[2] and parents[0]


def test_each_corp_has_its_own_lessons_and_watch_data(corps, district):
    teacher = min(district.default.school.teachers)
    assert all(teacher in state.school.teachers for state in district)
    lists = [set(corp.post(LIVINGIDS, {"userid": teacher})["livingid_list"]) for corp in corps]
    assert all(lists) and not (lists[0] & lists[1] or lists[0] & lists[2] or lists[1] & lists[2])

    first, second = corps[0], corps[1]
    livingid = ended_livingid(district[first.corp_id])
    info = first.get(INFO, livingid=livingid)
    assert info["errcode"] == 0 and info["living_info"]["anchor_userid"]
    rows = first.post(WATCH, {"livingid": livingid})["stat_infoes"]["students"]
    assert rows and all(
        row["student_userid"] in district[second.corp_id].school.students for row in rows
    )


# -- tokens ---------------------------------------------------------------------------------------


def test_gettoken_finds_the_corp_by_corpid_and_wants_that_corps_secret(url, district):
    first, second, third = district.credentials
    for corp in district.credentials:
        answer = gettoken(url, corp.corp_id, corp.secret)
        assert answer["errcode"] == 0 and answer["expires_in"] == 7200
    assert gettoken(url, first.corp_id, second.secret)["errcode"] == 40001
    assert gettoken(url, third.corp_id, first.secret)["errcode"] == 40001
    assert gettoken(url, "ww_nobody", first.secret)["errcode"] == 40013
    # An encrypted-shaped corp id is case-sensitive (api.md §18.13): another case is no corp.
    assert gettoken(url, second.corp_id.swapcase(), second.secret)["errcode"] == 40013
    assert gettoken(url, "", first.secret)["errcode"] == 41002
    assert gettoken(url, second.corp_id, "")["errcode"] == 41004


def test_a_token_of_one_corp_never_reaches_another_corps_data(corps, district):
    first, second = corps[0], corps[1]
    theirs = ended_livingid(district[second.corp_id])
    assert first.get(INFO, livingid=theirs)["errcode"] == 92008
    assert first.post(WATCH, {"livingid": theirs})["errcode"] == 92008
    assert second.get(INFO, livingid=theirs)["errcode"] == 0

    # The same userid, each corp's own person: the names come from the token's corp.
    dept = min(roster(first))
    student = min(roster(first)[dept])
    names = {
        corp.corp_id: corp.get("/cgi-bin/school/user/get", userid=student)["student"]["name"]
        for corp in corps
    }
    assert names == {state.corp_id: state.school.students[student].name for state in district}

    # Each corp's app has its own agent id; a message sent with the token lands in that corp.
    teacher = min(district.default.school.teachers)
    message = {"touser": teacher, "msgtype": "text", "text": {"content": "考勤"}}
    assert (
        first.post("/cgi-bin/message/send", {**message, "agentid": second.agent_id})["errcode"]
        == 40056
    )
    assert (
        second.post("/cgi-bin/message/send", {**message, "agentid": second.agent_id})["errcode"]
        == 0
    )
    assert [len(state.sent_messages) for state in district] == [0, 1, 0]


def test_revoking_or_expiring_one_corps_tokens_leaves_the_others_alone(corps, district):
    first, second, third = corps
    district[first.corp_id].revoke_tokens()
    district[second.corp_id].expire_tokens()
    assert first.get(DEPARTMENTS, id=1)["errcode"] == 40014
    assert second.get(DEPARTMENTS, id=1)["errcode"] == 42001
    assert third.get(DEPARTMENTS, id=1)["errcode"] == 0
    # A fresh token works again, for its own corp only.
    first.token = gettoken(first.url, first.corp_id, first.credentials.secret)["access_token"]
    assert first.get(DEPARTMENTS, id=1)["errcode"] == 0


def test_the_same_parent_userid_follows_school_notices_in_one_corp_and_not_another(corps, district):
    """学校通知: the parents share userids; whether they follow 学校通知 is each school's own."""
    first, second = corps[0], corps[1]
    mine, theirs = district[first.corp_id].school, district[second.corp_id].school
    parent = min(
        key
        for key, (found, _children) in mine.parents.items()
        if found.is_subscribe and not theirs.parents[key][0].is_subscribe
    )
    notice = {"to_parent_userid": [parent], "msgtype": "text", "text": {"content": "明天上课"}}
    assert first.post(
        "/cgi-bin/externalcontact/message/send", {**notice, "agentid": first.agent_id}
    ) == {
        "errcode": 0,
        "errmsg": "ok",
        "invalid_parent_userid": [],
        "invalid_student_userid": [],
        "invalid_party": [],
    }
    answer = second.post(
        "/cgi-bin/externalcontact/message/send", {**notice, "agentid": second.agent_id}
    )
    assert answer["errcode"] == 81013 and answer["invalid_parent_userid"] == [parent]
    # Another corp's agent id with this corp's token is another app.
    other = first.post(
        "/cgi-bin/externalcontact/message/send", {**notice, "agentid": second.agent_id}
    )
    assert other["errcode"] == 301002
    logs = [state.notice_log() for state in district]
    assert [len(log) for log in logs] == [2, 1, 0]
    assert logs[0][0]["delivered_parents"] == [mine.parents[parent][0].userid]


# -- faults ---------------------------------------------------------------------------------------


def test_one_corp_answers_transient_faults_while_the_others_are_healthy(corps, district):
    first, second, third = corps
    district[second.corp_id].set_faults(busy=0.2, seed=7)
    answers = {
        corp.corp_id: [corp.get(DEPARTMENTS, id=1)["errcode"] for _ in range(60)] for corp in corps
    }
    assert set(answers[first.corp_id]) == set(answers[third.corp_id]) == {0}
    busy = answers[second.corp_id].count(-1)
    assert set(answers[second.corp_id]) == {0, -1} and 4 <= busy <= 24, busy
    # Each corp's call log holds its own calls only.
    for corp in corps:
        state = district[corp.corp_id]
        logged = [call.errcode for call in state.calls if call.path == DEPARTMENTS]
        assert logged == answers[corp.corp_id]
        assert state.call_count("/cgi-bin/gettoken") == 1


def test_gettoken_meets_the_faults_of_the_corp_it_names(url, district):
    first, second = district.credentials[:2]
    district[second.corp_id].set_faults(limit=1.0)
    assert gettoken(url, second.corp_id, second.secret)["errcode"] == 45009
    assert gettoken(url, first.corp_id, first.secret)["errcode"] == 0


# -- the control API, one corp at a time --------------------------------------------------------


def test_the_control_api_acts_on_the_corp_it_names_and_on_the_first_without_one(corps, district):
    first, second, third = corps
    listed = first.control("GET", "/sandbox/corps", corp=None)
    assert listed.status_code == 200
    assert listed.json()["corps"] == [
        {"corp_id": c.corp_id, "agent_id": c.agent_id, "school": c.school_name, "default": i == 0}
        for i, c in enumerate(district.credentials)
    ]

    summary = second.control("GET", "/sandbox/summary").json()
    assert summary["corp_id"] == second.corp_id and summary["school"] == "育才小学"
    assert first.control("GET", "/sandbox/summary", corp=None).json()["corp_id"] == first.corp_id

    before = [state.clock() for state in district]
    moved = second.control("POST", "/sandbox/advance", {"seconds": 86400}).json()["now"]
    assert moved >= before[1] + 86400
    assert district[first.corp_id].clock() < before[0] + 60
    assert district[third.corp_id].clock() < before[2] + 60

    third.control("POST", "/sandbox/faults", {"http502": 1.0})
    assert (
        requests.get(
            third.url + DEPARTMENTS, params={"access_token": third.token, "id": 1}, timeout=5
        ).status_code
        == 502
    )
    assert first.get(DEPARTMENTS, id=1)["errcode"] == 0
    assert first.control("GET", "/sandbox/faults", corp=None).json()["faults"]["http502"] == 0.0
    calls = third.control("GET", "/sandbox/calls").json()
    assert calls["calls"] == {"/cgi-bin/gettoken": 1, DEPARTMENTS: 1}

    # Reset acts on one corp too: the second corp's clock goes back, the third keeps its faults.
    second.control("POST", "/sandbox/reset")
    assert district[second.corp_id].clock() < before[1] + 60
    assert district[third.corp_id].faults.http502 == 1.0


def test_an_unknown_corp_on_the_control_api_is_a_404_that_says_where_to_look(corps):
    answer = corps[0].control("POST", "/sandbox/advance", {"seconds": 60}, corp="ww_nobody")
    assert answer.status_code == 404
    assert "ww_nobody" in answer.json()["errmsg"] and "/sandbox/corps" in answer.json()["errmsg"]
    lowered = corps[1].control("GET", "/sandbox/summary", corp=corps[1].corp_id.lower())
    assert lowered.status_code == 404
    assert corps[0].control("POST", "/sandbox/corps", corp=None).status_code == 405


def test_no_secret_of_any_corp_reaches_the_control_api(corps, district):
    district.set_callbacks("http://127.0.0.1:9/wecom/callback/{corp_id}/")
    texts = [corps[0].control("GET", "/sandbox/corps", corp=None).text]
    for corp in corps:
        for path in ("/sandbox/summary", "/sandbox/callbacks", "/sandbox/faults"):
            texts.append(corp.control("GET", path).text)
    for corp in district.credentials:
        for secret in (corp.secret, corp.callback_token, corp.callback_aes_key):
            assert not any(secret in text for text in texts)


# -- teacher sign-in and the JS-SDK --------------------------------------------------------------


def sign_in(url: str, appid: str, userid: str) -> tuple[requests.Response, str]:
    """The OAuth screen for ``appid``, and the code its link for ``userid`` gives ("" if none)."""
    params = {
        "appid": appid,
        "redirect_uri": "http://127.0.0.1:8000/accounts/wecom/callback/",
        "response_type": "code",
        "scope": "snsapi_base",
        "state": "abc",
    }
    screen = requests.get(url + "/connect/oauth2/authorize", params=params, timeout=5)
    chosen = requests.get(
        url + "/connect/oauth2/sandbox_choose",
        params={**params, "userid": userid},
        timeout=5,
        allow_redirects=False,
    )
    location = chosen.headers.get("Location", "")
    return screen, parse_qs(urlsplit(location).query).get("code", [""])[0]


def test_sign_in_is_per_corp_and_a_code_works_only_with_its_corps_token(url, corps, district):
    first, second = corps[0], corps[1]
    teacher = min(district.default.school.teachers)
    screen, code = sign_in(url, second.corp_id, teacher)
    assert screen.status_code == 200
    theirs = district[second.corp_id].school
    assert theirs.name in screen.text and theirs.teachers[teacher].name in screen.text
    assert district[first.corp_id].school.teachers[teacher].name not in screen.text
    assert code
    assert first.get("/cgi-bin/auth/getuserinfo", code=code)["errcode"] == 40029
    assert second.get("/cgi-bin/auth/getuserinfo", code=code)["userid"] == teacher

    unknown, no_code = sign_in(url, "ww_nobody", teacher)
    assert unknown.status_code == 400 and "appid" in unknown.text and not no_code


def verify(url: str, corp: str, ticket: str, kind: str = "corp") -> bool:
    page = "http://127.0.0.1:8000/lessons/new/"
    signed = {"timestamp": "1700000000", "nonceStr": "n0nce", "url": page}
    signature = jsapi_signature(
        ticket=ticket, noncestr=signed["nonceStr"], timestamp=signed["timestamp"], url=page
    )
    answer = requests.post(
        url + "/sandbox/jssdk/verify",
        params={"corp": corp},
        json={"kind": kind, "signature": signature, **signed},
        timeout=5,
    )
    return answer.json()["ok"]


def test_jssdk_tickets_and_start_living_belong_to_the_corp_ww_register_names(url, corps, district):
    first, second = corps[0], corps[1]
    ticket = second.get("/cgi-bin/get_jsapi_ticket")["ticket"]
    assert verify(url, second.corp_id, ticket) is True
    assert verify(url, first.corp_id, ticket) is False

    head = min(district.default.school.teachers)
    classes = [d.id for d, _ in district.default.school.teacher_classes(head)]
    started = requests.post(
        url + "/sandbox/jssdk/startLiving",
        params={"corp": second.corp_id},
        json={"userid": head, "params": {"liveType": 2, "theme": "班会", "departmentIds": classes}},
        timeout=5,
    ).json()
    assert started["errMsg"] == "startLiving:ok"
    assert started["livingId"] in district[second.corp_id].school.livings
    assert started["livingId"] not in district[first.corp_id].school.livings
    assert second.get(INFO, livingid=started["livingId"])["errcode"] == 0
    assert first.get(INFO, livingid=started["livingId"])["errcode"] == 92008


def test_the_stand_in_ww_sends_the_corp_that_ww_register_names(url):
    script = requests.get(url + "/sandbox/ww.js", timeout=5).text
    assert "options.corpId" in script and '"?corp=" + encodeURIComponent(corpId)' in script


# -- callbacks -----------------------------------------------------------------------------------


class _Receiver(BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802 - the stdlib's name
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        self.server.received.append((self.path, body))
        self.send_response(200)
        self.send_header("Content-Length", "7")
        self.end_headers()
        self.wfile.write(b"success")

    def log_message(self, format, *args):  # noqa: A002 - the stdlib's signature
        pass


@pytest.fixture
def receiver():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    server.received = []
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1})
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(5)


def test_each_corp_calls_back_its_own_url_sealed_with_its_own_keys(receiver, district):
    base = f"http://127.0.0.1:{receiver.server_address[1]}"
    district.set_callbacks(base + "/wecom/callback/{corp_id}/")
    second = district.credentials[1]
    state = district[second.corp_id]
    upcoming = min(
        (
            lv
            for lv in state.school.livings.values()
            if not lv.foreign and lv.status(state.clock()) == 0
        ),
        key=lambda lv: lv.living_start,
    )
    state.start_living_now(upcoming.livingid)

    deadline = time.monotonic() + WAIT
    while not receiver.received and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(1.5)  # a pump round more: nothing else may arrive
    assert len(receiver.received) == 1, receiver.received
    path, body = receiver.received[0]
    where = urlsplit(path)
    assert where.path == f"/wecom/callback/{second.corp_id}/"
    query = {key: values[0] for key, values in parse_qs(where.query).items()}
    crypto = CallbackCrypto(
        token=second.callback_token,
        encoding_aes_key=second.callback_aes_key,
        receive_id=second.corp_id,
    )
    inner = parse_xml(
        crypto.open_post(query["msg_signature"], query["timestamp"], query["nonce"], body)
    )
    assert inner["ToUserName"] == second.corp_id and inner["AgentID"] == str(second.agent_id)
    assert inner["LivingId"] == upcoming.livingid and inner["Status"] == "1"
    # Another corp's keys cannot open it.
    first = district.credentials[0]
    other = CallbackCrypto(
        token=first.callback_token,
        encoding_aes_key=first.callback_aes_key,
        receive_id=first.corp_id,
    )
    with pytest.raises(CallbackError):
        other.open_post(query["msg_signature"], query["timestamp"], query["nonce"], body)


# -- building a district --------------------------------------------------------------------------


def test_a_district_is_the_same_on_every_run_and_its_corps_differ(district):
    again = district_credentials(3, seed=4)
    assert again == district.credentials
    assert [c.corp_id for c in again] == district.corp_ids
    assert again[0].corp_id.startswith("ww") and len(again[0].corp_id) == 18
    assert all(c.corp_id.startswith("wp") and len(c.corp_id) == 32 for c in again[1:])
    for field in ("corp_id", "secret", "callback_token", "callback_aes_key", "school_name"):
        assert len({getattr(c, field) for c in again}) == 3
    assert [c.agent_id for c in again] == [1000002, 1000003, 1000004]
    # The secrets are not in a credentials' repr (a log line or a failing assert shows it).
    assert all(c.secret not in repr(c) and c.callback_aes_key not in repr(c) for c in again)
    digests = {
        hashlib.sha256(repr(sorted(s.school.students)).encode()).hexdigest() for s in district
    }
    assert len(digests) == 1


def test_corps_built_by_hand_serve_together_and_the_first_is_the_default():
    school = {"grades": 1, "classes_per_grade": 1, "students_per_class": 3, "weeks": 1}
    one = SandboxState(generate_school(**school), corp_id="ww_one", secret="s1", agent_id=5)
    two = SandboxState(generate_school(seed=2, **school), corp_id="ww_two", secret="s2", agent_id=6)
    with SandboxServer([one, two]) as server:
        assert server.state is one and server.district.corp_ids == ["ww_one", "ww_two"]
        assert gettoken(server.url, "ww_two", "s2")["errcode"] == 0
        assert gettoken(server.url, "ww_two", "s1")["errcode"] == 40001
        assert two.call_count("/cgi-bin/gettoken") == 2 and one.call_count("/cgi-bin/gettoken") == 0
    with pytest.raises(ValueError, match="ww_one"):
        SandboxDistrict([one, SandboxState(generate_school(**school), corp_id="ww_one")])


def test_the_command_serves_several_corps_and_prints_the_made_up_credentials():
    command = [sys.executable, "manage.py", "wecom_sandbox", "--port", "0", "--corps", "2"]
    command += ["--grades", "1", "--classes-per-grade", "1", "--students-per-class", "4"]
    command += ["--weeks", "1", "--corp-id", DEFAULT_CORP_ID, "--secret", DEFAULT_SECRET]
    process = subprocess.Popen(
        command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        lines, deadline = [], time.monotonic() + 30
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line or "?corp=" in line:
                break
            lines.append(line)
        output = "".join(lines)
        match = re.search(r"listening on (http://127\.0\.0\.1:\d+)", output)
        assert match, f"the command did not report its address: {output}"
        url = match.group(1)
        second = district_credentials(2, seed=1)[1]
        assert (
            f"{second.corp_id}  agent {second.agent_id}  育才小学  secret {second.secret}" in output
        )
        assert gettoken(url, DEFAULT_CORP_ID, DEFAULT_SECRET)["errcode"] == 0
        assert gettoken(url, second.corp_id, second.secret)["errcode"] == 0
        listed = requests.get(url + "/sandbox/corps", timeout=5).json()["corps"]
        assert [c["corp_id"] for c in listed] == [DEFAULT_CORP_ID, second.corp_id]
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
