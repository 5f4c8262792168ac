"""The sandbox's console switches (wecom_sandbox/setup_api.py) over real HTTP: each answer as
api.md §20 has WeCom give it, per corp, and gone after a reset."""

import pytest
import requests

from school_live.wecom_sandbox import SandboxDistrict, SandboxServer

LAYOUT = {"grades": 1, "classes_per_grade": 2, "students_per_class": 4, "weeks": 1}


@pytest.fixture(scope="module")
def server():
    with SandboxServer(SandboxDistrict.generate(2, seed=3, **LAYOUT)) as running:
        yield running


@pytest.fixture
def district(server):
    server.district.reset()
    yield server.district
    server.district.reset()


def token(url, credentials) -> dict:
    params = {"corpid": credentials.corp_id, "corpsecret": credentials.secret}
    return requests.get(f"{url}/cgi-bin/gettoken", params=params, timeout=5).json()


def call(url, credentials, path, *, method="GET", **params) -> dict:
    params = {"access_token": token(url, credentials)["access_token"], **params}
    if method == "POST":
        body = params.pop("body")
        return requests.post(url + path, params=params, json=body, timeout=5).json()
    return requests.get(url + path, params=params, timeout=5).json()


def first_two(district):
    return district.credentials[0], district.credentials[1]


def test_agent_get_answers_the_apps_settings(server, district):
    first, _second = first_two(district)
    answer = call(server.url, first, "/cgi-bin/agent/get", agentid=first.agent_id)
    assert answer["errcode"] == 0 and answer["agentid"] == first.agent_id
    assert answer["close"] == 0 and answer["redirect_domain"]
    assert "customized_publish_status" not in answer  # a self-built app
    other = call(server.url, first, "/cgi-bin/agent/get", agentid=first.agent_id + 7)
    assert other["errcode"] == 301002
    assert call(server.url, first, "/cgi-bin/agent/get")["errcode"] == 41011


def test_an_untrusted_address_is_60020_naming_it_on_every_api_but_gettoken(server, district):
    first, second = first_two(district)
    district[first.corp_id].set_setup(untrusted_ip="198.51.100.4")
    assert token(server.url, first)["errcode"] == 0
    answer = call(server.url, first, "/cgi-bin/school/department/list")
    assert answer["errcode"] == 60020
    assert answer["errmsg"].startswith("not allow to access from your ip, hint: [")
    assert (
        ", from ip: 198.51.100.4, more info at https://open.work.weixin.qq.com/"
        in (answer["errmsg"])
    )
    # The other corp of the same sandbox is set up right.
    assert call(server.url, second, "/cgi-bin/school/department/list")["errcode"] == 0


def test_the_living_list_switch_forbids_the_living_apis_only(server, district):
    first, _second = first_two(district)
    district[first.corp_id].set_setup(living_list=False)
    teacher = next(iter(district[first.corp_id].school.teachers))
    body = {"userid": teacher, "limit": 1}
    path = "/cgi-bin/living/get_user_all_livingid"
    answer = call(server.url, first, path, method="POST", body=body)
    assert answer["errcode"] == 48002 and answer["errmsg"].startswith("api forbidden, hint: [")
    assert call(server.url, first, "/cgi-bin/school/department/list")["errcode"] == 0


def test_contacts_are_read_with_either_list(server, district):
    first, _second = first_two(district)
    state = district[first.corp_id]
    state.set_setup(contacts_list=False)
    assert call(server.url, first, "/cgi-bin/school/department/list")["errcode"] == 0
    state.set_setup(parent_app=False)
    assert call(server.url, first, "/cgi-bin/school/department/list")["errcode"] == 48002


def test_a_send_without_the_parents_list_is_wecoms_own_variant(server, district):
    first, _second = first_two(district)
    district[first.corp_id].set_setup(parent_app=False)
    body = {
        "to_parent_userid": ["nobody"],
        "msgtype": "text",
        "agentid": first.agent_id,
        "text": {"content": "x"},
    }
    path = "/cgi-bin/externalcontact/message/send"
    answer = call(server.url, first, path, method="POST", body=body)
    assert answer["errcode"] == 48002
    assert answer["errmsg"].startswith("api forbidden:not in parent app list, hint: [")


def test_a_reset_secret_revokes_tokens_and_gettoken_says_40001(server, district):
    first, _second = first_two(district)
    held = token(server.url, first)["access_token"]
    district[first.corp_id].set_setup(secret_reset=True)
    answer = requests.get(
        f"{server.url}/cgi-bin/school/department/list", params={"access_token": held}, timeout=5
    ).json()
    assert answer["errcode"] == 40014
    again = token(server.url, first)
    assert again["errcode"] == 40001 and again["errmsg"].startswith("invalid credential")
    district[first.corp_id].reset()
    assert token(server.url, first)["errcode"] == 0


def test_a_wrong_agent_is_301002_where_the_agent_is_named(server, district):
    first, _second = first_two(district)
    district[first.corp_id].set_setup(wrong_agent=True)
    for path in ("/cgi-bin/agent/get", "/cgi-bin/school/agent/get_allow_scope"):
        answer = call(server.url, first, path, agentid=first.agent_id)
        assert answer["errcode"] == 301002, path
    assert call(server.url, first, "/cgi-bin/school/department/list")["errcode"] == 0


def test_a_customized_app_not_yet_live_says_so_in_agent_get(server, district):
    first, _second = first_two(district)
    district[first.corp_id].set_setup(customized_publish_status=1)
    answer = call(server.url, first, "/cgi-bin/agent/get", agentid=first.agent_id)
    assert answer["errcode"] == 0 and answer["customized_publish_status"] == 1


def test_the_control_api_sets_shows_and_resets_switches_per_corp(server, district):
    first, second = first_two(district)
    url = f"{server.url}/sandbox/setup"
    answer = requests.post(
        url,
        params={"corp": second.corp_id},
        json={"wrong_agent": True, "untrusted_ip": True},
        timeout=5,
    )
    assert answer.status_code == 200
    assert answer.json()["wrong_agent"] is True and answer.json()["untrusted_ip"] == "*"
    assert district[second.corp_id].agent_id == second.agent_id + 1
    assert district[first.corp_id].agent_id == first.agent_id
    assert requests.get(url, timeout=5).json()["wrong_agent"] is False  # the default corp
    refused = requests.post(url, json={"nonsense": 1}, timeout=5)
    assert refused.status_code == 400 and "nonsense" in refused.text
    bad = requests.post(url, json={"customized_publish_status": 9}, timeout=5)
    assert bad.status_code == 400
    assert requests.post(url, params={"corp": "nobody"}, json={}, timeout=5).status_code == 404
    requests.post(f"{server.url}/sandbox/reset", params={"corp": second.corp_id}, timeout=5)
    setup = requests.get(url, params={"corp": second.corp_id}, timeout=5).json()
    assert setup["wrong_agent"] is False and setup["untrusted_ip"] == ""
    assert district[second.corp_id].agent_id == second.agent_id
