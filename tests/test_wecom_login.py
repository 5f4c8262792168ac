from urllib.parse import urlsplit

import pytest
import requests
from django.contrib.auth import get_user_model
from django.contrib.messages import get_messages

from school_live.school.models import Teacher
from school_live.school.tenancy import default_school


@pytest.fixture
def sandbox_teacher(db, wecom_sandbox):
    userid = next(iter(wecom_sandbox.state.school.teachers))
    user = get_user_model().objects.create_user(username=userid)  # unusable password
    return Teacher.objects.create(school=default_school(), userid=userid, user=user)


@pytest.fixture
def client(client):
    # The messages are asserted in English; the product speaks zh-hans unless asked otherwise.
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


def _choose_in_wecom(authorize_url: str, userid: str) -> str:
    """Play the teacher on the sandbox's stand-in for WeCom's OAuth screen; return the callback."""
    url = authorize_url.split("#")[0].replace(
        "/connect/oauth2/authorize", "/connect/oauth2/sandbox_choose"
    )
    answer = requests.get(f"{url}&userid={userid}", allow_redirects=False, timeout=10)
    assert answer.status_code == 302, answer.text
    callback = urlsplit(answer.headers["Location"])
    return f"{callback.path}?{callback.query}"


def _messages(response):
    return [str(m) for m in get_messages(response.wsgi_request)]


def test_teacher_signs_in_with_wecom_and_lands_where_they_were_going(
    client, wecom_settings, sandbox_teacher
):
    start = client.get("/accounts/wecom/start/?next=/reports/")
    assert start.status_code == 302
    assert start["Location"].startswith(f"{wecom_settings.WECOM_OAUTH_BASE}/connect/oauth2/")
    assert "appid=ww_sandbox_corp" in start["Location"]
    done = client.get(_choose_in_wecom(start["Location"], sandbox_teacher.userid))
    assert done.status_code == 302 and done["Location"] == "/reports/"
    assert int(client.session["_auth_user_id"]) == sandbox_teacher.user.pk


def test_a_code_works_once(client, wecom_settings, sandbox_teacher):
    start = client.get("/accounts/wecom/start/")
    callback = _choose_in_wecom(start["Location"], sandbox_teacher.userid)
    client.get(callback)
    client.logout()
    # Replaying the same callback in a new session: the state no longer matches.
    again = client.get(callback)
    assert again.status_code == 302 and again["Location"] == "/accounts/login/"
    assert "_auth_user_id" not in client.session


def test_a_used_code_is_refused_by_wecom_with_a_clear_message(
    client, wecom_settings, sandbox_teacher
):
    start = client.get("/accounts/wecom/start/")
    callback = _choose_in_wecom(start["Location"], sandbox_teacher.userid)
    state = client.session["wecom_oauth_state"]
    client.get(callback)
    client.logout()
    session = client.session
    session["wecom_oauth_state"] = state
    session.save()
    response = client.get(callback)
    assert "_auth_user_id" not in client.session
    assert any("used or expired" in m for m in _messages(response))


def test_foreign_redirect_target_is_ignored(client, wecom_settings, sandbox_teacher):
    start = client.get("/accounts/wecom/start/?next=https://evil.example/")
    done = client.get(_choose_in_wecom(start["Location"], sandbox_teacher.userid))
    assert done["Location"] == "/"


def test_wecom_user_who_is_not_a_known_teacher_is_told_what_to_do(
    client, wecom_settings, wecom_sandbox, db
):
    userid = next(iter(wecom_sandbox.state.school.teachers))  # in WeCom, not yet synced here
    start = client.get("/accounts/wecom/start/")
    response = client.get(_choose_in_wecom(start["Location"], userid))
    assert response["Location"] == "/accounts/login/"
    assert "_auth_user_id" not in client.session
    assert any("roster sync" in m for m in _messages(response))


def test_without_wecom_credentials_the_button_explains(client, settings, db):
    settings.WECOM_CORP_ID = ""
    response = client.get("/accounts/wecom/start/")
    assert response.status_code == 302 and response["Location"] == "/accounts/login/"
    assert any("not set up" in m for m in _messages(response))


def test_login_page_offers_wecom_only_when_it_is_set_up(client, settings, db):
    settings.WECOM_CORP_ID, settings.WECOM_SECRET = "ww_corp", "s3cret"
    assert 'id="wecom-login"' in client.get("/accounts/login/?next=/").content.decode()
    settings.WECOM_CORP_ID = ""
    assert 'id="wecom-login"' not in client.get("/accounts/login/").content.decode()
