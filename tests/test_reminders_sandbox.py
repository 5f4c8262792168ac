"""学校通知 in the sandbox and in the client (api.md §17): externalcontact/message/send and
school/agent/get_allow_scope, over real HTTP on 127.0.0.1, as WeCom answers them."""

import pytest
import requests

from school_live.wecom.client import WeComClient
from school_live.wecom.errors import WeComConfigError, WeComError, WeComTransientError
from school_live.wecom.records import AllowScope, SchoolNoticeResult
from tests.fixtures.sandbox import SANDBOX_AGENT_ID, SANDBOX_CORP_ID, SANDBOX_SECRET

SEND = "/cgi-bin/externalcontact/message/send"
SCOPE = "/cgi-bin/school/agent/get_allow_scope"


@pytest.fixture
def sandbox(wecom_sandbox, db):
    return wecom_sandbox


@pytest.fixture
def client(sandbox):
    with WeComClient(
        base_url=sandbox.url,
        corp_id=SANDBOX_CORP_ID,
        secret=SANDBOX_SECRET,
        agent_id=SANDBOX_AGENT_ID,
        retry_base_delay=0.0,
    ) as wecom_client:
        yield wecom_client


def families(state):
    """(a subscribed parent, an unsubscribed parent, a student with no subscribed parent)."""
    subscribed = next(p for p, _kids in state.school.parents.values() if p.is_subscribe)
    unsubscribed = next(p for p, _kids in state.school.parents.values() if not p.is_subscribe)
    unreachable = next(s for s in state.school.students.values() if s.subscribed_parent is None)
    return subscribed, unsubscribed, unreachable


def raw_send(sandbox, client, body: dict) -> dict:
    token = client.get_access_token()
    response = requests.post(f"{sandbox.url}{SEND}", params={"access_token": token}, json=body)
    assert response.status_code == 200
    return response.json()


def text_body(**fields) -> dict:
    body = {
        "msgtype": "text",
        "agentid": SANDBOX_AGENT_ID,
        "text": {"content": "提醒"},
        "enable_duplicate_check": 0,
    }
    body.update(fields)
    return body


def test_a_notice_reaches_subscribed_parents_and_lists_the_others_as_invalid(client, sandbox):
    state = sandbox.state
    subscribed, unsubscribed, _unreachable = families(state)
    result = client.send_school_notice(
        parent_userids=[subscribed.userid, unsubscribed.userid, "ghost_parent"], text="请进入直播"
    )
    assert isinstance(result, SchoolNoticeResult)
    assert result.invalid_parent_userid == (unsubscribed.userid, "ghost_parent")
    assert result.invalid_student_userid == () and result.invalid_party == ()
    [notice] = state.notice_log()
    assert notice["delivered_parents"] == [subscribed.userid]
    assert notice["duplicate"] is False and notice["errcode"] == 0
    body = notice["body"]
    assert body["to_parent_userid"] == [subscribed.userid, unsubscribed.userid, "ghost_parent"]
    assert body["msgtype"] == "text" and body["text"] == {"content": "请进入直播"}
    assert body["agentid"] == SANDBOX_AGENT_ID and body["enable_duplicate_check"] == 1


def test_students_and_classes_as_recipients(client, sandbox):
    state = sandbox.state
    _subscribed, _unsubscribed, unreachable = families(state)
    reachable = next(s for s in state.school.students.values() if s.subscribed_parent)
    class_id = reachable.departments[0]
    answer = raw_send(
        sandbox,
        client,
        text_body(
            recv_scope=2,
            to_student_userid=[reachable.userid, unreachable.userid, "ghost"],
            to_party=[str(class_id), "999999"],
        ),
    )
    assert answer["errcode"] == 0
    assert answer["invalid_student_userid"] == [unreachable.userid, "ghost"]
    assert answer["invalid_party"] == ["999999"]
    notice = state.notice_log()[-1]
    assert reachable.subscribed_parent.userid in notice["delivered_parents"]
    assert notice["delivered_students"] == []  # recv_scope 2: parents only


def test_every_recipient_invalid_is_81013_with_the_lists(client, sandbox):
    _subscribed, unsubscribed, _unreachable = families(sandbox.state)
    with pytest.raises(WeComError) as caught:
        client.send_school_notice(parent_userids=[unsubscribed.userid, "nobody"], text="x")
    assert caught.value.errcode == 81013
    answer = raw_send(sandbox, client, text_body(to_parent_userid=["nobody"]))
    assert answer["errcode"] == 81013 and answer["invalid_parent_userid"] == ["nobody"]
    log = sandbox.state.notice_log()
    assert [entry["errcode"] for entry in log] == [81013, 81013]
    assert log[0]["invalid_parent_userid"] == [unsubscribed.userid, "nobody"]


def test_the_same_body_within_the_interval_is_not_delivered_twice(client, sandbox):
    state = sandbox.state
    subscribed, _unsubscribed, _unreachable = families(state)
    for _ in range(2):
        client.send_school_notice(
            parent_userids=[subscribed.userid], text="同一条", duplicate_check_interval=600
        )
    first, second = state.notice_log()
    assert first["delivered_parents"] == [subscribed.userid] and not first["duplicate"]
    assert second["delivered_parents"] == [] and second["duplicate"] is True
    # Another text is another body.
    client.send_school_notice(parent_userids=[subscribed.userid], text="另一条")
    assert state.notice_log()[-1]["delivered_parents"] == [subscribed.userid]
    # Once the interval has passed, the same body goes out again.
    state.advance(601)
    client.send_school_notice(
        parent_userids=[subscribed.userid], text="同一条", duplicate_check_interval=600
    )
    assert state.notice_log()[-1]["delivered_parents"] == [subscribed.userid]
    # Without the check, the same body is delivered every time.
    for _ in range(2):
        raw_send(sandbox, client, text_body(to_parent_userid=[subscribed.userid]))
    assert [e["duplicate"] for e in state.notice_log()[-2:]] == [False, False]


def test_the_default_duplicate_interval_is_1800_seconds(client, sandbox):
    state = sandbox.state
    subscribed, _unsubscribed, _unreachable = families(state)
    body = text_body(to_parent_userid=[subscribed.userid], enable_duplicate_check=1)
    raw_send(sandbox, client, body)
    state.advance(1799)
    raw_send(sandbox, client, body)
    state.advance(2)
    raw_send(sandbox, client, body)
    assert [e["duplicate"] for e in state.notice_log()] == [False, True, False]


def test_another_apps_agentid_is_301002_and_says_which_secret(client, sandbox):
    subscribed, _unsubscribed, _unreachable = families(sandbox.state)
    with pytest.raises(WeComConfigError) as caught:
        client.send_school_notice(
            parent_userids=[subscribed.userid], text="x", agentid=SANDBOX_AGENT_ID + 1
        )
    assert caught.value.errcode == 301002
    assert "WECOM_SECRET" in str(caught.value) and "WECOM_AGENT_ID" in str(caught.value)
    with pytest.raises(WeComConfigError) as caught:
        client.get_allow_scope(agentid=SANDBOX_AGENT_ID + 1)
    assert caught.value.errcode == 301002
    assert sandbox.state.notice_log()[-1]["errcode"] == 301002


def test_an_app_not_among_the_parents_apps_is_48002_and_says_where_to_add_it(client, sandbox):
    subscribed, _unsubscribed, _unreachable = families(sandbox.state)
    response = requests.post(
        f"{sandbox.url}/sandbox/notices/config", json={"parent_app": False}, timeout=5
    )
    assert response.json()["parent_app"] is False
    for call in (
        lambda: client.send_school_notice(parent_userids=[subscribed.userid], text="x"),
        client.get_allow_scope,
    ):
        with pytest.raises(WeComConfigError) as caught:
            call()
        assert caught.value.errcode == 48002
        assert "家长可使用的应用" in str(caught.value)
    log = requests.get(f"{sandbox.url}/sandbox/notices", timeout=5).json()
    assert [entry["errcode"] for entry in log["notices"]] == [48002]
    assert log["notices"][0].get("delivered_parents") is None


def test_allow_scope_defaults_to_the_whole_school_and_restricts_sends(client, sandbox):
    state = sandbox.state
    scope = client.get_allow_scope()
    assert isinstance(scope, AllowScope)
    classes = sorted(d.id for d in state.school.departments.values() if d.type == 1)
    assert list(scope.partyids) == classes
    assert len(scope.student_userids) == len(state.school.students)

    inside, outside = [
        next(
            s
            for s in state.school.students.values()
            if s.subscribed_parent and dept in s.departments
        )
        for dept in classes[:2]
    ]
    response = requests.post(
        f"{sandbox.url}/sandbox/notices/config",
        json={"allow_scope": {"students": [], "departments": [classes[0]]}},
        timeout=5,
    )
    assert response.status_code == 200
    assert client.get_allow_scope() == AllowScope(student_userids=(), partyids=(classes[0],))
    parents = [inside.subscribed_parent.userid, outside.subscribed_parent.userid]
    result = client.send_school_notice(parent_userids=parents, text="范围")
    assert result.invalid_parent_userid == (outside.subscribed_parent.userid,)
    # A grade in the scope covers its classes.
    grade = next(d.id for d in state.school.departments.values() if d.type == 2)
    state.set_allow_scope(departments=[grade])
    assert (
        client.send_school_notice(parent_userids=parents[:1], text="年级").invalid_parent_userid
        == ()
    )
    requests.post(f"{sandbox.url}/sandbox/notices/config", json={"allow_scope": None}, timeout=5)
    assert len(client.get_allow_scope().student_userids) == len(state.school.students)


def test_lists_over_1000_and_empty_recipients_are_refused(client, sandbox):
    many = [f"p{i}" for i in range(1001)]
    assert raw_send(sandbox, client, text_body(to_parent_userid=many))["errcode"] == 40058
    assert raw_send(sandbox, client, text_body())["errcode"] == 82001
    assert raw_send(sandbox, client, text_body(msgtype="fax"))["errcode"] == 40008
    answer = raw_send(sandbox, client, text_body(to_parent_userid=["x"], text={"content": ""}))
    assert answer["errcode"] == 44004
    with pytest.raises(ValueError):
        client.send_school_notice(parent_userids=many, text="x")


def test_faults_are_injected_through_the_control_api_and_reset(client, sandbox):
    subscribed, _unsubscribed, _unreachable = families(sandbox.state)
    inject = {"path": SEND, "errcode": 45009, "times": 1}
    assert requests.post(f"{sandbox.url}/sandbox/faults/inject", json=inject, timeout=5).ok
    with pytest.raises(WeComTransientError) as caught:
        client.send_school_notice(parent_userids=[subscribed.userid], text="x")
    assert caught.value.errcode == 45009
    # Only once: the next call goes through, and the refused one delivered nothing.
    client.send_school_notice(parent_userids=[subscribed.userid], text="x")
    assert len(sandbox.state.notice_log()) == 1
    requests.post(
        f"{sandbox.url}/sandbox/faults/inject",
        json={"path": SCOPE, "errcode": 48002, "times": None},
        timeout=5,
    )
    for _ in range(2):
        with pytest.raises(WeComConfigError):
            client.get_allow_scope()
    assert requests.post(f"{sandbox.url}/sandbox/notices/reset", timeout=5).ok
    assert sandbox.state.notice_log() == []
    requests.post(f"{sandbox.url}/sandbox/reset", timeout=5)
    assert client.get_allow_scope().partyids


def test_the_client_never_repeats_a_notice_after_a_transient_error(client, sandbox):
    """A waiter (a sync's patience) would call again; a notice must not go out twice."""
    subscribed, _unsubscribed, _unreachable = families(sandbox.state)
    waited = []
    client.waiter = lambda error, attempt: waited.append(attempt)
    sandbox.state.inject_errcode(SEND, 45009, times=1)
    with pytest.raises(WeComTransientError):
        client.send_school_notice(parent_userids=[subscribed.userid], text="x")
    assert waited == []
    assert sandbox.state.call_count(SEND) == 1
