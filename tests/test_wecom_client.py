"""The WeCom client against the WeCom sandbox running as a real server on 127.0.0.1.

The sandbox (tests/fixtures/sandbox.py) is reset before each test; tests shrink its page size so
that every living pages, and break it with its own fault controls (inject, set_faults, tokens).
"""

import json
import logging
import math
import os
import re
import subprocess
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests
from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.locmem import LocMemCache

from school_live.wecom.client import WeComClient
from school_live.wecom.errors import (
    WeComConfigError,
    WeComDataError,
    WeComError,
    WeComTransientError,
)
from school_live.wecom.records import (
    DepartmentRecord,
    LivingInfo,
    MessageResult,
    ParentOfStudent,
    Reader,
    SchoolUser,
    StudentRecord,
    WatchStatPage,
)
from school_live.wecom_sandbox import SandboxServer, SandboxState, generate_school
from school_live.wecom_sandbox.living_api import unwatched
from tests.fixtures.sandbox import SANDBOX_AGENT_ID, SANDBOX_CORP_ID, SANDBOX_SECRET

DATA = Path(__file__).parent / "data"
ROOT = Path(__file__).resolve().parent.parent
PAGE_SIZE = 5
GETTOKEN = "/cgi-bin/gettoken"
WATCH = "/cgi-bin/school/living/get_watch_stat"


@pytest.fixture
def sandbox(wecom_sandbox, db):
    """The shared sandbox with small pages; ``db`` because the token lives in the DB cache."""
    wecom_sandbox.state.page_size = PAGE_SIZE
    return wecom_sandbox


@pytest.fixture
def client(sandbox):
    with make_client(sandbox) as wecom_client:
        yield wecom_client


def make_client(server, **kwargs) -> WeComClient:
    options = {
        "base_url": server.url,
        "corp_id": SANDBOX_CORP_ID,
        "secret": SANDBOX_SECRET,
        "agent_id": SANDBOX_AGENT_ID,
        "timeout": (2, 5),
        "retry_base_delay": 0.0,
    }
    options.update(kwargs)
    return WeComClient(**options)


def ended_living(state, *, min_viewers=PAGE_SIZE * 2 + 1):
    """An ended living of this app with several pages of watchers (stable numbers)."""
    now = state.clock()
    return min(
        (
            lv
            for lv in state.school.livings.values()
            if not lv.foreign and lv.living_end < now and lv.partyids
            if len(lv.viewers) >= min_viewers
        ),
        key=lambda lv: lv.livingid,
    )


def gettoken_calls(state) -> int:
    return state.call_count(GETTOKEN)


def watch_rows(client, livingid):
    """All students and visitors of a living, as the caller would collect them."""
    pages = list(client.iter_watch_stat(livingid))
    return [s for p in pages for s in p.students], [v for p in pages for v in p.visitors]


def expected_watch_rows(state, living):
    now = state.clock()
    rendered = [v.render(now) for v in living.viewers[: living.visible_count(now)]]
    students = [
        (
            r["student_userid"],
            r.get("parent_userid", ""),
            tuple(r["partyids"]),
            r["watch_time"],
            r["enter_time"],
            r["leave_time"],
            bool(r["is_comment"]),
        )
        for r in rendered
        if "student_userid" in r
    ]
    visitors = [
        (r["nickname"], r["watch_time"], bool(r["is_comment"])) for r in rendered if "nickname" in r
    ]
    return students, visitors


# --- the seed page and parsing -------------------------------------------------------------------


def test_seed_page_parses_field_by_field():
    data = json.loads((DATA / "get_watch_stat_seed.json").read_text())
    page = WatchStatPage.from_wecom(Reader.root("school/living/get_watch_stat", data))
    assert page.ending == 1
    assert page.next_key == "NEXT_KEY"
    first, second = page.students
    assert first.student_userid == "zhansan_child"
    assert first.parent_userid == "zhangsan"
    assert first.partyids == (10, 11)
    assert first.watch_time == 30
    assert first.enter_time == 1586433904
    assert first.leave_time == 1586434000
    assert first.is_comment is True
    assert second.student_userid == "lisi_child"
    assert second.parent_userid == "lisi"
    assert second.is_comment is False
    one, two = page.visitors
    assert (one.nickname, one.watch_time, one.enter_time, one.leave_time, one.is_comment) == (
        "wx_nickname1",
        30,
        1586433904,
        1586434000,
        True,
    )
    assert (two.nickname, two.is_comment) == ("wx_nickname2", False)


def test_student_on_own_account_has_empty_parent_userid():
    data = json.loads((DATA / "get_watch_stat_seed.json").read_text())
    del data["stat_infoes"]["students"][0]["parent_userid"]
    del data["stat_infoes"]["visitors"]
    data["unknown_field"] = "ignored"
    page = WatchStatPage.from_wecom(Reader.root("school/living/get_watch_stat", data))
    assert page.students[0].parent_userid == ""
    assert page.visitors == ()


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (
            lambda d: d["stat_infoes"]["students"][1].update(watch_time="abc"),
            "stat_infoes.students[1].watch_time must be an integer, got 'abc'",
        ),
        (
            lambda d: d["stat_infoes"]["students"][0].update(is_comment=True),
            "stat_infoes.students[0].is_comment must be an integer, got True",
        ),
        (
            lambda d: d["stat_infoes"]["students"][0].update(partyids=[10, "11"]),
            "stat_infoes.students[0].partyids[1] must be an integer, got '11'",
        ),
        (
            lambda d: d["stat_infoes"].update(visitors={"nickname": "x"}),
            "stat_infoes.visitors must be an array",
        ),
        (lambda d: d.pop("ending"), "ending is missing"),
        (lambda d: d.update(ending=2), "ending must be 0 or 1, got 2"),
        (
            lambda d: d["stat_infoes"]["students"][0].pop("student_userid"),
            "stat_infoes.students[0].student_userid is missing",
        ),
    ],
)
def test_wrong_types_are_data_errors_naming_the_field(mutate, message):
    data = json.loads((DATA / "get_watch_stat_seed.json").read_text())
    mutate(data)
    with pytest.raises(WeComDataError) as caught:
        WatchStatPage.from_wecom(Reader.root("school/living/get_watch_stat", data))
    assert str(caught.value).startswith(f"school/living/get_watch_stat: {message}")
    assert not caught.value.transient


def test_department_and_school_user_records_validate_types():
    with pytest.raises(WeComDataError) as caught:
        DepartmentRecord.from_wecom(
            Reader.root("school/department/list", {"id": 2, "register_year": "2018"})
        )
    assert "register_year must be an integer, got '2018'" in str(caught.value)
    with pytest.raises(WeComDataError, match="student must be an object when user_type is 1"):
        SchoolUser.from_wecom(Reader.root("school/user/get", {"user_type": 1}))
    result = MessageResult.from_wecom(
        Reader.root("message/send", {"invaliduser": "a|b", "invalidparty": "", "msgid": "m"})
    )
    assert (result.invaliduser, result.invalidparty, result.invalidtag) == (("a", "b"), (), ())


# --- every endpoint against the sandbox ----------------------------------------------------------


def test_watch_stat_follows_pages_until_ending(client, sandbox):
    state = sandbox.state
    living = ended_living(state)
    own_account = next(v for v in living.viewers if v.student_userid)
    # Doc 93741: a student who joined on their own account has no parent_userid key at all.
    state.update_watch(living.livingid, own_account.student_userid, parent_userid="")
    pages = list(client.iter_watch_stat(living.livingid))
    assert [p.ending for p in pages] == [0] * (len(pages) - 1) + [1]
    assert len(pages) == math.ceil(len(living.viewers) / PAGE_SIZE) > 2
    assert pages[-1].next_key  # the last page has a key, and it is never followed
    assert state.call_count(WATCH) == len(pages)
    students = [s for p in pages for s in p.students]
    visitors = [v for p in pages for v in p.visitors]
    expected_students, expected_visitors = expected_watch_rows(state, living)
    assert [
        (
            s.student_userid,
            s.parent_userid,
            s.partyids,
            s.watch_time,
            s.enter_time,
            s.leave_time,
            s.is_comment,
        )
        for s in students
    ] == expected_students
    assert [(v.nickname, v.watch_time, v.is_comment) for v in visitors] == expected_visitors
    own = [s for s in students if s.student_userid == own_account.student_userid]
    assert own and all(s.parent_userid == "" for s in own)


def test_unwatch_stat_follows_pages_until_ending(client, sandbox):
    state = sandbox.state
    living = ended_living(state)
    pages = list(client.iter_unwatch_stat(living.livingid))
    assert pages[-1].ending == 1
    assert all(p.ending == 0 for p in pages[:-1])
    rows = [(s.student_userid, s.parent_userid, s.partyids) for p in pages for s in p.students]
    expected = unwatched(state, living, state.clock())
    assert rows == [
        (r["student_userid"], r["parent_userid"], tuple(r["partyids"])) for r in expected
    ]


def test_living_info(client, sandbox):
    living = ended_living(sandbox.state)
    info = client.get_living_info(living.livingid)
    assert info.livingid == living.livingid
    assert info.theme == living.theme
    assert (info.living_start, info.living_duration) == (
        living.living_start,
        living.living_duration,
    )
    assert info.anchor_userid == living.anchor_userid
    assert info.partyids == living.partyids
    assert info.group_names == ()
    assert info.viewer_num == len(living.viewers)
    assert info.comment_num == sum(v.comments for v in living.viewers)
    assert info.open_replay is bool(living.open_replay)
    assert (info.online_count, info.subscribe_count) == (0, living.subscribe_count)


def test_living_of_another_app_says_why(client, sandbox):
    foreign = next(lv for lv in sandbox.state.school.livings.values() if lv.foreign)
    with pytest.raises(WeComError) as caught:
        list(client.iter_watch_stat(foreign.livingid))
    message = str(caught.value)
    assert caught.value.errcode == 92008
    assert "only the livings it created" in message
    assert "school/living/get_watch_stat" in message
    assert "http" not in message.lower()
    assert not caught.value.transient


def test_user_livingids_follow_cursor_until_empty(client, sandbox):
    state = sandbox.state
    teacher = ended_living(state).anchor_userid
    expected = [
        lv.livingid
        for lv in sorted(state.school.livings.values(), key=lambda lv: lv.living_start)
        if lv.anchor_userid == teacher and not lv.foreign
    ]
    assert list(client.iter_user_livingids(teacher, limit=2)) == expected
    assert state.call_count("/cgi-bin/living/get_user_all_livingid") == math.ceil(len(expected) / 2)
    with pytest.raises(ValueError):
        list(client.iter_user_livingids(teacher, limit=101))


def test_departments(client, sandbox):
    school = sandbox.state.school
    departments = client.list_departments()
    assert [d.id for d in departments] == sorted(school.departments)
    by_id = {d.id: d for d in departments}
    grade = next(d for d in school.departments.values() if d.type == 2)
    klass = next(d for d in school.departments.values() if d.type == 1)
    assert by_id[1].parentid == 0 and by_id[1].register_year is None
    assert (by_id[grade.id].register_year, by_id[grade.id].standard_grade) == (
        grade.register_year,
        grade.standard_grade,
    )
    assert [(a.userid, a.type, a.subject) for a in by_id[klass.id].admins] == [
        (a.userid, a.type, a.subject) for a in klass.admins
    ]
    assert [d.id for d in client.list_departments(grade.id)] == [
        d.id for d in school.descendants(grade.id)
    ]


def test_students_and_parents(client, sandbox):
    school = sandbox.state.school
    class_id = next(d.id for d in school.departments.values() if d.type == 1)
    students = client.list_students(class_id)
    expected = school.students_by_dept[class_id]
    assert [s.student_userid for s in students] == [s.userid for s in expected]
    first, model = students[0], expected[0]
    assert (first.name, first.department) == (model.name, model.departments)
    assert [
        (p.parent_userid, p.relation, p.mobile, p.is_subscribe, p.external_userid)
        for p in first.parents
    ] == [
        (p.userid, p.relation, p.mobile, bool(p.is_subscribe), p.external_userid)
        for p in model.parents
    ]
    parents = client.list_parents(class_id)
    assert {p.parent_userid for p in parents} == {p.userid for s in expected for p in s.parents}
    assert all(c.name for p in parents for c in p.children)


def test_school_user_student_and_parent(client, sandbox):
    student = next(iter(sandbox.state.school.students.values()))
    found = client.get_school_user(student.userid)
    assert found.user_type == 1 and found.parent is None
    assert found.student.student_userid == student.userid
    parent = client.get_school_user(student.parents[0].userid)
    assert parent.user_type == 2 and parent.student is None
    assert student.userid in [c.student_userid for c in parent.parent.children]
    with pytest.raises(WeComError) as caught:
        client.get_school_user("nobody_at_all")
    assert caught.value.errcode == 60111


def test_user_identity_and_used_code(client, sandbox):
    code = sandbox.state.issue_oauth_code("linjing")
    identity = client.get_user_identity(code)
    assert (identity.userid, identity.openid, identity.parent_userid) == ("linjing", "", "")
    with pytest.raises(WeComError) as caught:
        client.get_user_identity(code)  # a code works once
    assert caught.value.errcode == 40029
    assert "sign in again" in str(caught.value)


def test_send_message(client, sandbox):
    teacher = next(iter(sandbox.state.school.teachers))
    result = client.send_message(
        touser=[teacher, "ghost"],
        msgtype="textcard",
        body={"textcard": {"title": "考勤", "description": "3 人缺席", "url": "https://x/y"}},
    )
    assert result.msgid and result.invaliduser == ("ghost",)
    sent = sandbox.state.sent_messages[-1]
    assert sent["msgid"] == result.msgid
    assert sent["body"]["touser"] == f"{teacher}|ghost"
    assert sent["body"]["agentid"] == SANDBOX_AGENT_ID
    assert sent["body"]["textcard"]["title"] == "考勤"
    with pytest.raises(WeComError) as caught:
        client.send_message(touser=["ghost"], msgtype="text", body={"text": {"content": "x"}})
    assert caught.value.errcode == 81013


# --- the access token ----------------------------------------------------------------------------


def test_one_gettoken_across_many_calls_and_clients(client, sandbox):
    living = ended_living(sandbox.state)
    watch_rows(client, living.livingid)
    client.get_living_info(living.livingid)
    client.list_departments()
    with make_client(sandbox) as other:
        other.list_students(3)
        list(other.iter_unwatch_stat(living.livingid))
    assert gettoken_calls(sandbox.state) == 1


def test_token_is_shared_across_processes(sandbox, tmp_path):
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "school_live.settings",
        "SCHOOL_LIVE_VAR_DIR": str(tmp_path),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'shared.sqlite3'}",
        "CACHE_URL": "dbcache://school_live_cache",
        "WECOM_API_BASE": sandbox.url,
        "WECOM_CORP_ID": SANDBOX_CORP_ID,
        "WECOM_SECRET": SANDBOX_SECRET,
    }
    subprocess.run([sys.executable, "manage.py", "createcachetable"], cwd=ROOT, env=env, check=True)
    # Every process gets a slow gettoken: the first refresher is still fetching when others look.
    sandbox.state.set_faults(slow=1.0, slow_seconds=0.5)
    script = (
        "import django, hashlib; django.setup();"
        "from school_live.wecom.client import WeComClient;"
        "token = WeComClient.from_settings().get_access_token();"
        "print(hashlib.sha256(token.encode()).hexdigest())"
    )
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", script], cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True
        )
        for _ in range(4)
    ]
    outputs = [worker.communicate(timeout=60)[0].strip() for worker in workers]
    assert all(worker.returncode == 0 for worker in workers)
    assert len(set(outputs)) == 1
    assert gettoken_calls(sandbox.state) == 1


def test_token_is_cached_under_a_hash_not_the_secret(client):
    token = client.get_access_token()
    assert SANDBOX_SECRET not in client._token_key
    assert SANDBOX_CORP_ID not in client._token_key
    assert client.cache.get(client._token_key) == token


@pytest.mark.parametrize("how", ["expire_tokens", "revoke_tokens"])
def test_expired_token_is_refreshed_once(client, sandbox, how):
    state = sandbox.state
    living = ended_living(state)
    reference = watch_rows(client, living.livingid)
    calls_before = state.call_count(WATCH)
    pages = client.iter_watch_stat(living.livingid)
    collected = [next(pages)]
    getattr(state, how)()  # WeCom drops the token between two pages (42001 / 40014)
    collected += list(pages)
    students = [s for p in collected for s in p.students]
    visitors = [v for p in collected for v in p.visitors]
    assert (students, visitors) == reference
    assert gettoken_calls(state) == 2
    assert state.call_count(WATCH) - calls_before == len(collected) + 1  # one page asked twice


def test_token_error_from_api_drops_token_and_retries_once(client, sandbox):
    living = ended_living(sandbox.state)
    client.get_access_token()
    sandbox.state.inject(living.livingid, kind="errcode", errcode=40001, times=1)
    students, _ = watch_rows(client, living.livingid)
    assert students
    assert gettoken_calls(sandbox.state) == 2


def test_second_token_error_raises(client, sandbox):
    living = ended_living(sandbox.state)
    # Every follow-up page revokes all tokens first: the refreshed token is rejected too.
    sandbox.state.set_faults(revoke=1.0)
    with pytest.raises(WeComError) as caught:
        watch_rows(client, living.livingid)
    assert caught.value.errcode == 40014
    assert caught.value.token_problem and not caught.value.transient
    assert "school/living/get_watch_stat" in str(caught.value)
    assert gettoken_calls(sandbox.state) == 2


def test_wrong_secret_is_a_config_error(sandbox):
    with (
        make_client(sandbox, secret="not-the-secret-at-all") as bad,
        pytest.raises(WeComConfigError) as caught,
    ):
        bad.list_departments()
    message = str(caught.value)
    assert caught.value.errcode == 40001 and caught.value.endpoint == "gettoken"
    assert "WECOM_SECRET" in message
    assert "not-the-secret-at-all" not in message and "http" not in message
    assert not caught.value.transient and not caught.value.token_problem


def test_wrong_corp_id_is_a_config_error(sandbox):
    with make_client(sandbox, corp_id="wwnobody") as bad, pytest.raises(WeComConfigError) as caught:
        bad.get_access_token()
    assert caught.value.errcode == 40013
    assert "WECOM_CORP_ID" in str(caught.value)


@pytest.mark.parametrize("setting", ["WECOM_CORP_ID", "WECOM_SECRET"])
def test_missing_settings_say_which_variable_to_set(wecom_settings, setting):
    setattr(wecom_settings, setting, "")
    with pytest.raises(WeComConfigError) as caught:
        WeComClient.from_settings()
    assert setting in str(caught.value)


def test_from_settings_reads_django_settings(wecom_settings, sandbox):
    with WeComClient.from_settings(retry_base_delay=0) as from_settings:
        assert from_settings.base_url == sandbox.url
        assert from_settings.agent_id == SANDBOX_AGENT_ID
        assert from_settings.list_departments()
        token = from_settings.get_access_token()
    assert SANDBOX_SECRET not in repr(from_settings) and token not in repr(from_settings)


# --- transient faults and malformed answers ------------------------------------------------------


def test_busy_is_retried_with_backoff(sandbox):
    living = ended_living(sandbox.state)
    sleeps = []
    sandbox.state.inject(living.livingid, kind="errcode", errcode=-1, times=3)
    with make_client(sandbox, retry_base_delay=0.2, sleep=sleeps.append) as busy_client:
        students, _ = watch_rows(busy_client, living.livingid)
    assert students
    assert sleeps == [0.2, 0.4, 0.8]


def test_busy_after_three_retries_raises_transient(client, sandbox):
    living = ended_living(sandbox.state)
    sandbox.state.inject(living.livingid, kind="errcode", errcode=-1, times=4)
    with pytest.raises(WeComTransientError) as caught:
        watch_rows(client, living.livingid)
    assert caught.value.errcode == -1 and caught.value.transient


@pytest.mark.parametrize("fault", [{"errcode": -1}, {"kind": "http502"}])
def test_a_web_call_that_keeps_failing_makes_4_attempts_within_1_4_s(sandbox, fault):
    """The worst case of one call without a waiter (a web request; README, "Retries")."""
    living = ended_living(sandbox.state)
    sleeps = []
    sandbox.state.inject(living.livingid, page=2, **({"kind": "errcode"} | fault))
    with (
        make_client(sandbox, retry_base_delay=0.2, sleep=sleeps.append) as web_client,
        pytest.raises(WeComTransientError),
    ):
        watch_rows(web_client, living.livingid)
    assert sandbox.state.call_count(WATCH) == 1 + 4
    assert sleeps == [0.2, 0.4, 0.8]


@pytest.mark.parametrize(("errcode", "retry_after"), [(45009, 60), (45033, 1)])
def test_frequency_limit_raises_transient_with_retry_after(client, sandbox, errcode, retry_after):
    living = ended_living(sandbox.state)
    sandbox.state.inject(living.livingid, page=2, kind="errcode", errcode=errcode, times=1)
    with pytest.raises(WeComTransientError) as caught:
        watch_rows(client, living.livingid)
    assert caught.value.errcode == errcode
    assert caught.value.retry_after == retry_after
    if errcode == 45009:
        assert "wait 60 s" in str(caught.value)
    assert watch_rows(client, living.livingid)[0]  # later, the same call succeeds


def test_502_is_retried(client, sandbox):
    living = ended_living(sandbox.state)
    sandbox.state.inject(living.livingid, page=2, kind="http502", times=2)
    assert watch_rows(client, living.livingid) == watch_rows(client, living.livingid)


def test_502_after_retries_is_transient(client, sandbox):
    living = ended_living(sandbox.state)
    sandbox.state.inject(living.livingid, kind="http502")
    with pytest.raises(WeComTransientError) as caught:
        watch_rows(client, living.livingid)
    assert caught.value.errcode == -3
    assert "HTTP 502" in str(caught.value)
    assert sandbox.state.call_count(WATCH) == 4  # the first try and the client's three retries


def test_timeout_is_transient_and_names_no_url(sandbox):
    sandbox.state.set_faults(slow=1.0, slow_seconds=1.0)
    with (
        make_client(sandbox, timeout=(1, 0.2), http_retries=0) as impatient,
        pytest.raises(WeComTransientError) as caught,
    ):
        impatient.get_access_token()
    assert caught.value.errcode == -2
    assert "timed out" in str(caught.value)
    assert "127.0.0.1" not in str(caught.value) and SANDBOX_SECRET not in str(caught.value)
    assert caught.value.__suppress_context__
    # The sandbox still answers the abandoned call after its second; let it, so that the late
    # gettoken is not counted by the next test.
    deadline = time.monotonic() + 3
    while gettoken_calls(sandbox.state) < 1 and time.monotonic() < deadline:
        time.sleep(0.05)


def test_unreachable_wecom_is_transient_and_names_no_url(db):
    with (
        make_client(_Closed(), http_retries=1) as offline,
        pytest.raises(WeComTransientError) as caught,
    ):
        offline.get_access_token()
    assert caught.value.errcode == -2
    assert "127.0.0.1" not in str(caught.value) and SANDBOX_SECRET not in str(caught.value)
    assert caught.value.__suppress_context__


class _Closed:
    url = "http://127.0.0.1:9"  # the discard port: nothing listens


def test_body_that_is_not_json_is_a_data_error(client, sandbox):
    living = ended_living(sandbox.state)
    sandbox.state.inject(living.livingid, page=2, kind="not_json")
    with pytest.raises(WeComDataError) as caught:
        watch_rows(client, living.livingid)
    assert str(caught.value).startswith("school/living/get_watch_stat: the response is not JSON")
    assert not caught.value.transient


def test_wrong_type_from_server_is_a_data_error(client, sandbox):
    living = ended_living(sandbox.state)
    row = {"student_userid": "s1", "partyids": [3], "watch_time": 1, "is_comment": 0}
    sandbox.state.script_watch_pages(
        living.livingid,
        [
            {"stat_infoes": {"students": [row]}},
            {"stat_infoes": {"students": [row, {**row, "watch_time": "abc"}]}},
        ],
    )
    with pytest.raises(WeComDataError) as caught:
        watch_rows(client, living.livingid)
    assert str(caught.value).startswith(
        "school/living/get_watch_stat: stat_infoes.students[1].watch_time must be an integer, "
        "got 'abc'"
    )


def test_empty_page_with_unchanged_key_does_not_loop(client, sandbox):
    living = ended_living(sandbox.state)
    page = {"ending": 0, "next_key": "0", "stat_infoes": {}}
    sandbox.state.script_watch_pages(living.livingid, [page, page])
    with pytest.raises(WeComDataError, match="never end"):
        watch_rows(client, living.livingid)
    assert sandbox.state.call_count(WATCH) == 1


def test_page_cap_stops_runaway_pagination(sandbox):
    living = ended_living(sandbox.state)
    sandbox.state.script_watch_pages(
        living.livingid, [{"ending": 0, "stat_infoes": {}} for _ in range(10)]
    )
    with (
        make_client(sandbox, max_pages=5) as capped,
        pytest.raises(WeComDataError, match="more than 5 pages"),
    ):
        watch_rows(capped, living.livingid)


def test_twenty_percent_faults_still_give_complete_data(client, sandbox):
    state = sandbox.state
    living = ended_living(state)
    teacher = living.anchor_userid
    class_id = living.partyids[0]

    def fetch_everything():
        def attempt():
            return (
                watch_rows(client, living.livingid),
                [s for p in client.iter_unwatch_stat(living.livingid) for s in p.students],
                client.get_living_info(living.livingid),
                list(client.iter_user_livingids(teacher, limit=2)),
                client.list_departments(),
                client.list_students(class_id),
                client.list_parents(class_id),
            )

        # The caller's retry loop: a 45009 (or -1 that outlasted the retries) means "later".
        for _ in range(30):
            try:
                return attempt()
            except WeComTransientError:
                continue
        raise AssertionError("never completed")

    clean = fetch_everything()
    clean_calls = len(state.calls)
    state.set_faults(busy=0.1, http502=0.1, limit=0.02, seed=7)
    faulty = fetch_everything()
    assert faulty == clean
    faults = [c for c in list(state.calls)[clean_calls:] if c.errcode != 0]
    assert len(faults) > 5  # the faults really happened


# --- secrets stay out of logs --------------------------------------------------------------------


def test_logs_contain_neither_secret_nor_token(client, sandbox, caplog):
    state = sandbox.state
    living = ended_living(state)
    caplog.set_level(logging.DEBUG)
    seen: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record):
            seen.append(self.format(record))

    handler = Collect(level=logging.DEBUG)
    urllib3_logger = logging.getLogger("urllib3")
    urllib3_logger.addHandler(handler)
    old_level = urllib3_logger.level
    urllib3_logger.setLevel(logging.DEBUG)
    try:
        watch_rows(client, living.livingid)
        tokens = [client.get_access_token()]
        state.expire_tokens()
        state.inject(living.livingid, page=2, kind="http502", times=1)
        watch_rows(client, living.livingid)
        tokens.append(client.get_access_token())
        state.inject(living.livingid, page=1, kind="errcode", errcode=60020, times=1)
        with pytest.raises(WeComError) as caught:
            watch_rows(client, living.livingid)
        assert "企业可信IP" in str(caught.value)
    finally:
        urllib3_logger.removeHandler(handler)
        urllib3_logger.setLevel(old_level)
    assert tokens[0] != tokens[1]
    assert any("/cgi-bin/gettoken" in line for line in seen)  # urllib3 did log the URLs
    assert any("access_token=[redacted]" in line for line in seen)
    for text in (caplog.text, "\n".join(seen)):
        assert SANDBOX_SECRET not in text
        for token in tokens:
            assert token not in text
    assert "school/living/get_watch_stat errcode=0" in caplog.text


def test_errors_and_repr_hide_credentials(client):
    token = client.get_access_token()
    assert SANDBOX_SECRET not in repr(client) and token not in repr(client)
    error = WeComError(40014, f"invalid access_token {token}, more info at https://x?e=1", "x")
    assert token not in str(error) and "https://" not in str(error)
    assert token not in repr(error)


# --- answers a faithful WeCom may legally send -----------------------------------------------------


def test_every_legal_shape_of_watch_pages_is_accepted(client, sandbox):
    living = ended_living(sandbox.state)
    row = {
        "student_userid": "s1",
        "parent_userid": "s1_mama",
        "partyids": [3, 4],
        "watch_time": 120,
        "enter_time": 1586433904,
        "leave_time": 1586434000,
        "is_comment": 0,
        "a_field_wecom_added_later": {"x": 1},
    }
    own_account = {k: v for k, v in row.items() if k != "parent_userid"} | {"student_userid": "s2"}
    still_in_room = {**row, "student_userid": "s3", "leave_time": 0}
    sandbox.state.script_watch_pages(
        living.livingid,
        [
            {"stat_infoes": {"students": [row]}, "extra_top_level": 1},  # no visitors array
            {"stat_infoes": {}},  # an empty page before the last
            {"stat_infoes": {"students": None, "visitors": []}},
            {"stat_infoes": {"students": [row, own_account, still_in_room]}},  # row again
        ],
    )
    pages = list(client.iter_watch_stat(living.livingid))
    assert [p.ending for p in pages] == [0, 0, 0, 1]
    assert pages[-1].next_key  # ending 1 with a next_key: still the end
    students = [s for p in pages for s in p.students]
    assert [s.student_userid for s in students] == ["s1", "s1", "s2", "s3"]
    assert students[2].parent_userid == ""
    assert students[3].leave_time == 0
    assert all(p.visitors == () for p in pages)
    assert sandbox.state.call_count(WATCH) == 4


def test_unwatch_page_without_stat_info_is_empty(client, sandbox):
    living = ended_living(sandbox.state)
    sandbox.state.script_unwatch_pages(
        living.livingid,
        [{}, {"stat_info": {"students": [{"student_userid": "s1", "partyids": [3]}]}}],
    )
    pages = list(client.iter_unwatch_stat(living.livingid))
    assert [len(p.students) for p in pages] == [0, 1]
    assert pages[1].students[0].parent_userid == ""


def test_minimal_legal_records_parse_with_defaults():
    info = LivingInfo.from_wecom(
        Reader.root(
            "school/living/get_living_info",
            {
                "errcode": 0,
                "living_info": {
                    "theme": "班会",
                    "living_start": 1586405229,
                    "living_duration": 1800,
                    "anchor_userid": "zhangsan",
                    "living_range": {"group_names": ["一年级家长群"]},
                    "viewer_num": 0,
                    "comment_num": 0,
                    "open_replay": 0,
                },
            },
        ),
        "lv1",
    )
    assert (info.partyids, info.group_names) == ((), ("一年级家长群",))
    assert (info.online_count, info.subscribe_count, info.open_replay) == (0, 0, False)
    dept = DepartmentRecord.from_wecom(
        Reader.root("school/department/list", {"id": 7, "name": "兴趣班", "parentid": 1, "type": 2})
    )
    assert (dept.register_year, dept.standard_grade, dept.order) == (None, None, 0)
    assert (dept.is_graduated, dept.admins) == (False, ())
    student = StudentRecord.from_wecom(
        Reader.root("school/user/list", {"student_userid": "s1", "name": "张三", "department": [3]})
    )
    assert student.parents == ()
    parent = ParentOfStudent.from_wecom(
        Reader.root("school/user/list", {"parent_userid": "p1", "relation": "妈妈"})
    )
    assert (parent.mobile, parent.external_userid, parent.is_subscribe) == ("", "", False)


@pytest.mark.parametrize(
    ("record", "data", "message"),
    [
        (DepartmentRecord, {"id": "2"}, "id must be an integer, got '2'"),
        (DepartmentRecord, {"id": 2, "is_graduated": "0"}, "is_graduated must be an integer"),
        (DepartmentRecord, {"id": 2, "department_admins": {}}, "department_admins must be an"),
        (StudentRecord, {"student_userid": 5}, "student_userid must be a string, got 5"),
        (StudentRecord, {"student_userid": "s", "department": "3"}, "department must be an"),
        (ParentOfStudent, {"parent_userid": "p", "is_subscribe": 2}, "must be 0 or 1, got 2"),
        (WatchStatPage, {"ending": 1, "next_key": 5}, "next_key must be a string, got 5"),
        (WatchStatPage, {"ending": "1"}, "ending must be an integer, got '1'"),
    ],
)
def test_wrong_types_in_other_records_are_data_errors(record, data, message):
    with pytest.raises(WeComDataError, match=re.escape(message)):
        record.from_wecom(Reader.root("x", data))


# --- bodies that are not WeCom answers ------------------------------------------------------------


class _RawWeCom(ThreadingHTTPServer):
    """Answers gettoken normally and every other path with `body`/`headers`: for answers the
    sandbox never gives (no errcode, errcode as a string)."""

    body = b"{}"
    headers: dict = {}


class _RawHandler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def _answer(self):
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        if self.path.startswith("/cgi-bin/gettoken"):
            body, headers = (
                b'{"errcode":0,"errmsg":"ok","access_token":"t0k","expires_in":7200}',
                {},
            )
        else:
            body, headers = self.server.body, self.server.headers
        self.send_response(200)
        self.send_header("Content-Type", headers.get("Content-Type", "application/json"))
        for name, value in headers.items():
            if name != "Content-Type":
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _answer


@pytest.fixture
def raw_wecom(db):
    server = _RawWeCom(("127.0.0.1", 0), _RawHandler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    server.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'{"errmsg":"ok","departments":[]}', "errcode is missing"),
        (b'{"errcode":"0","errmsg":"ok","departments":[]}', "errcode must be an integer, got '0'"),
        (b'{"errcode":null,"departments":[]}', "errcode is missing"),
        (b'[{"errcode":0}]', "the response must be a JSON object"),
    ],
)
def test_answer_without_an_integer_errcode_is_a_data_error(raw_wecom, body, message):
    raw_wecom.body = body
    with make_client(raw_wecom) as wecom, pytest.raises(WeComDataError) as caught:
        wecom.list_departments()
    assert str(caught.value).startswith(f"school/department/list: {message}")
    assert not caught.value.transient


def test_html_page_with_http_200_is_a_data_error(client, sandbox):
    living = ended_living(sandbox.state)
    sandbox.state.inject(living.livingid, page=1, kind="html")
    with pytest.raises(WeComDataError) as caught:
        watch_rows(client, living.livingid)
    assert "the response is not JSON (HTTP 200, text/html" in str(caught.value)


def test_gzip_answers_are_decoded(client, sandbox):
    living = ended_living(sandbox.state)
    plain = watch_rows(client, living.livingid)
    sandbox.state.gzip = True
    raw = requests.get(
        sandbox.url + "/cgi-bin/gettoken",
        params={"corpid": SANDBOX_CORP_ID, "corpsecret": SANDBOX_SECRET},
        timeout=5,
    )
    assert raw.headers["Content-Encoding"] == "gzip"  # what the client gets below
    assert watch_rows(client, living.livingid) == plain
    assert client.get_living_info(living.livingid).theme == living.theme


def test_errmsg_help_url_and_hint_stay_out_of_the_admin_message(client, sandbox):
    foreign = next(lv for lv in sandbox.state.school.livings.values() if lv.foreign)
    with pytest.raises(WeComError) as caught:
        client.get_living_info(foreign.livingid)
    text = str(caught.value)
    assert "open.work.weixin.qq.com" not in text and "more info" not in text
    assert caught.value.errcode == 92008  # decided by errcode, not by errmsg's wording


# --- the token between threads -------------------------------------------------------------------


class _RecordingCache(LocMemCache):
    def __init__(self):
        super().__init__(f"wecom-test-{uuid.uuid4().hex}", {})
        self.timeouts: list = []

    def set(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        self.timeouts.append(timeout)
        super().set(key, value, timeout, version)


def _in_threads(count, work):
    barrier = threading.Barrier(count)
    results, errors = [None] * count, []

    def run(i):
        try:
            barrier.wait(5)
            results[i] = work(i)
        except Exception as exc:  # noqa: BLE001 - reported by the assert below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not errors, errors
    return results


@pytest.fixture
def quiet_sandbox(db):
    """A sandbox of its own: no late request of another test (a timed-out slow call still
    finishes on the shared server) lands in its call log."""
    state = SandboxState(
        generate_school(seed=3, grades=1, classes_per_grade=1, students_per_class=12),
        corp_id=SANDBOX_CORP_ID,
        secret=SANDBOX_SECRET,
        agent_id=SANDBOX_AGENT_ID,
    )
    with SandboxServer(state) as server:
        yield server


def test_two_threads_needing_a_token_call_gettoken_once(quiet_sandbox):
    sandbox = quiet_sandbox
    cache = _RecordingCache()
    sandbox.state.set_faults(slow=1.0, slow_seconds=0.3)  # the first refresher is still busy

    def work(_):
        with make_client(sandbox, cache=cache) as wecom:
            return wecom.get_access_token()

    tokens = _in_threads(2, work)
    assert tokens[0] == tokens[1]
    assert gettoken_calls(sandbox.state) == 1


def test_two_threads_hit_by_a_revoked_token_refresh_it_once(quiet_sandbox):
    sandbox = quiet_sandbox
    cache = _RecordingCache()
    living = ended_living(sandbox.state, min_viewers=1)
    with make_client(sandbox, cache=cache) as first:
        first.get_access_token()
    sandbox.state.revoke_tokens()
    sandbox.state.set_faults(slow=1.0, slow_seconds=0.2)

    def work(_):
        with make_client(sandbox, cache=cache) as wecom:
            return wecom.get_living_info(living.livingid).theme

    assert _in_threads(2, work) == [living.theme, living.theme]
    assert gettoken_calls(sandbox.state) == 2  # the first token, then one refresh for both


def test_token_is_cached_for_less_than_its_lifetime_however_short(sandbox):
    for ttl, at_most in ((7200, 6900), (600, 300), (30, 15)):
        sandbox.state.token_ttl = ttl
        cache = _RecordingCache()
        with make_client(sandbox, cache=cache) as wecom:
            wecom.get_access_token()
        assert 0 < cache.timeouts[-1] <= at_most


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'{"errcode":0,"errmsg":"ok","expires_in":7200}', "access_token is missing"),
        (b'{"errcode":0,"access_token":"t","expires_in":"7200"}', "expires_in must be an integer"),
        (b'{"errcode":0,"access_token":"t","expires_in":0}', "expires_in must be a positive"),
    ],
)
def test_gettoken_answer_of_the_wrong_shape_is_a_data_error(raw_wecom, body, message):
    class Handler(_RawHandler):
        def _answer(self):
            self.server.body = body
            self.path = "/cgi-bin/other"
            super()._answer()

        do_GET = do_POST = _answer

    raw_wecom.RequestHandlerClass = Handler
    with make_client(raw_wecom) as wecom, pytest.raises(WeComDataError, match=message):
        wecom.get_access_token()


def test_school_client_lends_a_given_client_and_closes_only_its_own(wecom_settings, sandbox):
    from school_live.wecom.client import school_client

    closed = []
    with WeComClient.from_settings() as given:
        given.close = lambda: closed.append("given")
        with school_client(given) as used:
            assert used is given
        assert closed == []  # the caller's to close
    closed.clear()
    with school_client(retry_base_delay=0) as own:
        assert own is not given and own.list_departments()
        real_close = own.close
        own.close = lambda: (closed.append("own"), real_close())
    assert closed == ["own"]
