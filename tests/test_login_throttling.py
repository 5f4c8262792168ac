"""Sign-in throttling (django-axes) on the teacher login and the admin login.

After LOGIN_FAILURE_LIMIT (5) failed sign-ins a username, and separately an address, is refused
for LOGIN_LOCKOUT_MINUTES (15) — the right password too — with a page (429) that says until when.
The address is the connection's, or the proxy's X-Forwarded-For entry with BEHIND_TLS_PROXY=1.
"""

import datetime as dt

import pytest
from axes.models import AccessAttempt
from django.test import Client
from django.utils import timezone

from tests.fixtures.people import PASSWORD
from tests.test_security import _fast_passwords  # noqa: F401 (an autouse fixture)

LOGINS = {"teacher": "/accounts/login/", "admin": "/admin/login/"}
LIMIT = 5


@pytest.fixture
def people(head_teacher, other_teacher, admin_user):
    for user in (head_teacher.user, other_teacher.user):
        user.is_staff = True  # so that both may also use the admin login
        user.save(update_fields=["is_staff"])
    return {"wangli": head_teacher.user, "liuyang": other_teacher.user, "admin": admin_user}


def sign_in(login: str, username: str, password: str, *, ip="10.0.0.1", forwarded=None):
    extra = {"REMOTE_ADDR": ip}
    if forwarded is not None:
        extra["HTTP_X_FORWARDED_FOR"] = forwarded
    client = Client()
    response = client.post(login, {"username": username, "password": password}, **extra)
    return response, client


def signed_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


def assert_locked_out(response) -> None:
    assert response.status_code == 429
    body = response.content.decode()
    assert 'id="locked-out"' in body
    attempt = AccessAttempt.objects.order_by("-attempt_time").first()
    until = timezone.localtime(attempt.attempt_time + dt.timedelta(minutes=15))
    assert until.strftime("%Y-%m-%d %H:%M") in body  # when to try again, in Beijing time
    assert 'type="password"' not in body  # a page that explains, not the form again


def assert_refused(login: str, username: str, **where) -> None:
    response, client = sign_in(login, username, PASSWORD, **where)
    assert_locked_out(response)
    assert not signed_in(client)


def assert_gets_in(login: str, username: str, **where) -> None:
    response, client = sign_in(login, username, PASSWORD, **where)
    assert response.status_code == 302 and signed_in(client)


@pytest.mark.parametrize("which", sorted(LOGINS))
def test_five_failures_lock_a_username_out_even_with_the_right_password(people, which):
    login = LOGINS[which]
    for attempt in range(1, LIMIT):
        response, _ = sign_in(login, "wangli", f"wrong-{attempt}", ip=f"10.0.1.{attempt}")
        assert response.status_code == 200, attempt  # the form, with its error
    response, _ = sign_in(login, "wangli", "wrong-5", ip="10.0.1.5")
    assert_locked_out(response)
    # From yet another address, and with the right password: still refused.
    assert_refused(login, "wangli", ip="10.0.1.99")
    # Another account from the same addresses is not affected.
    assert_gets_in(login, "liuyang", ip="10.0.1.5")


@pytest.mark.parametrize("which", sorted(LOGINS))
def test_five_failures_from_one_address_lock_that_address_out(people, which):
    login = LOGINS[which]
    for attempt in range(LIMIT):
        response, _ = sign_in(login, f"guess-{attempt}", "wrong", ip="203.0.113.7")
    assert_locked_out(response)
    assert_refused(login, "liuyang", ip="203.0.113.7")
    # The same account from another address gets in.
    assert_gets_in(login, "liuyang", ip="203.0.113.8")


def test_four_failures_and_the_right_password_still_sign_in(people):
    for attempt in range(LIMIT - 1):
        sign_in(LOGINS["teacher"], "wangli", f"wrong-{attempt}")
    assert_gets_in(LOGINS["teacher"], "wangli")


def test_the_lockout_lasts_the_cool_off_from_the_last_failure(people):
    for attempt in range(LIMIT):
        response, _ = sign_in(LOGINS["teacher"], "wangli", f"wrong-{attempt}")
    assert_locked_out(response)
    # Move the failures back in time instead of waiting: 14 minutes later it still holds ...
    AccessAttempt.objects.update(attempt_time=timezone.now() - dt.timedelta(minutes=14))
    assert_refused(LOGINS["teacher"], "wangli", ip="10.9.9.9")
    # ... and that attempt started the pause again; 16 minutes after the last one it is over.
    AccessAttempt.objects.update(attempt_time=timezone.now() - dt.timedelta(minutes=16))
    assert_gets_in(LOGINS["teacher"], "wangli", ip="10.9.9.9")


def test_limit_and_pause_come_from_the_settings(people, settings):
    settings.AXES_FAILURE_LIMIT = 2
    settings.AXES_COOLOFF_TIME = dt.timedelta(minutes=45)
    sign_in(LOGINS["teacher"], "wangli", "wrong-1")
    response, _ = sign_in(LOGINS["teacher"], "wangli", "wrong-2")
    assert response.status_code == 429
    attempt = AccessAttempt.objects.get()
    until = timezone.localtime(attempt.attempt_time + dt.timedelta(minutes=45))
    assert until.strftime("%Y-%m-%d %H:%M") in response.content.decode()
    assert "45" in response.content.decode()


def test_the_lockout_page_speaks_the_teachers_language(people):
    for attempt in range(LIMIT):
        response, _ = sign_in(LOGINS["teacher"], "wangli", f"wrong-{attempt}")
    english = Client()
    english.cookies["django_language"] = "en"
    response = english.post(
        LOGINS["teacher"], {"username": "wangli", "password": PASSWORD}, REMOTE_ADDR="10.0.0.1"
    )
    assert response.status_code == 429
    assert "try again after" in response.content.decode()
    assert response.context["minutes"] == 15


def test_x_forwarded_for_is_ignored_without_a_tls_proxy(people, settings):
    settings.BEHIND_TLS_PROXY = False
    for attempt in range(LIMIT):
        # A client that forges a new address each time is still one address.
        response, _ = sign_in(
            LOGINS["teacher"],
            f"guess-{attempt}",
            "wrong",
            ip="10.0.0.1",
            forwarded=f"1.2.3.{attempt}",
        )
    assert_locked_out(response)
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {"10.0.0.1"}
    response, _ = sign_in(LOGINS["admin"], "admin", PASSWORD, ip="10.0.0.1", forwarded="9.9.9.9")
    assert_locked_out(response)


def test_x_forwarded_for_names_the_client_behind_a_tls_proxy(people, settings):
    settings.BEHIND_TLS_PROXY = True
    proxy = "10.0.0.254"
    for attempt in range(LIMIT):
        # The proxy appends the address it saw; anything before it is the client's own words.
        response, _ = sign_in(
            LOGINS["teacher"],
            f"guess-{attempt}",
            "wrong",
            ip=proxy,
            forwarded=f"6.6.6.{attempt}, 198.51.100.20",
        )
    assert_locked_out(response)
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {"198.51.100.20"}
    # That client is locked out; another one behind the same proxy is not.
    assert_refused(LOGINS["teacher"], "liuyang", ip=proxy, forwarded="198.51.100.20")
    assert_gets_in(LOGINS["teacher"], "liuyang", ip=proxy, forwarded="198.51.100.21")
    # A header that is not an address falls back to the connection's.
    sign_in(LOGINS["teacher"], "nobody-here", "wrong", ip=proxy, forwarded="<script>")
    assert AccessAttempt.objects.filter(ip_address=proxy).exists()


def test_a_sign_in_without_a_request_is_not_refused_by_the_throttle(people, client):
    # No request, nobody to throttle: the test client's login() and a shell still work (axes'
    # own backend raises there), and a wrong password is still wrong.
    assert client.login(username="liuyang", password=PASSWORD)
    assert not Client().login(username="liuyang", password="wrong")
