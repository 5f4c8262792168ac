"""The check where admins meet it: the admin page 企业微信连接检查 (shown and run on demand), the
banner while the last check failed, one email per change of result, the times WeCom sign-in and
callbacks last worked, and the WW_verify_….txt file served at the site's root."""

from urllib.parse import urlsplit

import pytest
import requests
from django.contrib.auth import get_user_model
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from school_live.school.models import School, SchoolMembership
from school_live.setup_check import tasks
from school_live.setup_check.models import DomainVerificationFile, SchoolWeComState, SetupCheck
from school_live.setup_check.schools import default_school
from school_live.setup_check.services import setup_check_run
from tests.fixtures.callbacks import ECHOSTR, NONCE, SIGNATURE, TIMESTAMP, URL
from tests.fixtures.people import PASSWORD

PAGE = "/admin/setup_check/setupcheck/"
FILE_NAME = "WW_verify_DDzKZAh4svwfgX39.txt"


@pytest.fixture
def env_school(db, wecom_settings):
    return default_school()


@pytest.fixture
def admin_browser(admin_user):
    browser = Client()
    browser.force_login(admin_user)
    return browser


@pytest.fixture
def staff_user(db):
    return get_user_model().objects.create_user(
        username="jiaowu", password=PASSWORD, email="jiaowu@school.example", is_staff=True
    )


def check(school) -> SetupCheck:
    return setup_check_run(school=school, trigger=SetupCheck.Trigger.SCHEDULE)


def test_the_page_shows_the_last_check_and_runs_it_on_demand(
    admin_browser, env_school, wecom_sandbox
):
    page = admin_browser.get(PAGE)
    assert page.status_code == 200
    html = page.content.decode()
    assert "企业微信连接检查" in html and "尚未检查" in html
    wecom_sandbox.state.set_setup(untrusted_ip="203.0.113.9")
    done = admin_browser.post(reverse("admin:setup_check_setupcheck_run", args=[env_school.pk]))
    assert done.status_code == 302 and done["Location"].startswith(PAGE)
    run = SetupCheck.objects.get()
    assert run.trigger == "admin" and run.triggered_by.username == "admin" and not run.ok
    html = admin_browser.get(PAGE).content.decode()
    assert 'data-key="agent" data-status="failed" data-errcode="60020"' in html
    assert "企业可信IP" in html and 'data-ip="203.0.113.9"' in html
    assert "未检查：先修好上一项" in html


def test_running_needs_a_post_with_its_csrf_token(admin_user, env_school, wecom_sandbox):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(admin_user)
    url = reverse("admin:setup_check_setupcheck_run", args=[env_school.pk])
    assert browser.get(url).status_code == 405
    assert browser.post(url).status_code == 403
    assert not SetupCheck.objects.exists()
    page = browser.get(PAGE).content.decode()
    token = page.split('name="csrfmiddlewaretoken" value="')[1].split('"')[0]
    assert browser.post(url, {"csrfmiddlewaretoken": token}).status_code == 302
    assert SetupCheck.objects.count() == 1


def test_runs_are_records_nobody_edits(admin_browser, env_school, wecom_sandbox):
    run = check(env_school)
    assert admin_browser.get(f"{PAGE}add/").status_code == 403
    assert admin_browser.post(f"{PAGE}{run.pk}/delete/", {"post": "yes"}).status_code == 403
    assert SetupCheck.objects.filter(pk=run.pk).exists()


def test_a_teacher_sees_neither_the_page_nor_a_banner(head_teacher, env_school, wecom_sandbox):
    wecom_sandbox.state.set_setup(wrong_agent=True)
    check(env_school)
    browser = Client()
    browser.force_login(head_teacher.user)
    page = browser.get(PAGE)
    assert page.status_code == 302 and "/admin/login/" in page["Location"]
    assert "setup-check-banner" not in browser.get("/").content.decode()


def test_the_banner_shows_while_the_last_check_failed_and_goes(
    admin_browser, staff_user, env_school, wecom_sandbox
):
    assert "setup-check-banner" not in admin_browser.get("/admin/").content.decode()
    wecom_sandbox.state.set_setup(parent_app=False)
    check(env_school)
    index = admin_browser.get("/admin/").content.decode()
    assert "setup-check-banner" in index and "企业微信连接检查未通过" in index
    assert f'href="{PAGE}#school-{env_school.pk}"' in index
    SchoolMembership.objects.create(
        user=staff_user, school=env_school, role=SchoolMembership.Role.SCHOOL_ADMIN
    )
    staff = Client()
    staff.force_login(staff_user)
    home = staff.get("/").content.decode()
    assert "setup-check-banner" in home and "查看修改方法" in home
    wecom_sandbox.state.reset()
    check(env_school)
    assert "setup-check-banner" not in admin_browser.get("/admin/").content.decode()
    assert "setup-check-banner" not in staff.get("/").content.decode()


def test_admins_get_one_email_per_change_of_result_not_per_run(
    admin_user, staff_user, env_school, wecom_sandbox
):
    SchoolMembership.objects.create(
        user=staff_user, school=env_school, role=SchoolMembership.Role.SCHOOL_ADMIN
    )
    check(env_school)
    assert mail.outbox == []  # the first result is a pass: nothing to tell
    wecom_sandbox.state.set_setup(living_list=False)
    check(env_school)
    check(env_school)
    assert len(mail.outbox) == 1
    [failed] = mail.outbox
    assert set(failed.bcc) == {"admin@school.example", "jiaowu@school.example"}
    assert "企业微信连接检查" in failed.subject and "1 项需要处理" in failed.subject
    assert "可调用接口的应用 → 添加本应用" in failed.body
    html = failed.alternatives[0][0]
    assert "可调用接口的应用 → 添加本应用" in html and PAGE in html
    wecom_sandbox.state.set_setup(parent_app=False)  # another failure: a change
    check(env_school)
    assert len(mail.outbox) == 2 and "3 项需要处理" in mail.outbox[1].subject
    wecom_sandbox.state.reset()
    check(env_school)
    check(env_school)
    assert len(mail.outbox) == 3
    assert "恢复正常" in mail.outbox[2].subject
    state = SchoolWeComState.objects.get(school=env_school)
    assert state.notified_outcome == "" and state.last_check.ok


def test_a_failed_email_is_sent_at_the_next_run(
    admin_user, env_school, wecom_sandbox, settings, monkeypatch
):
    wecom_sandbox.state.set_setup(wrong_agent=True)

    def refuse(self, *args, **kwargs):
        raise OSError("SMTP server unreachable")

    monkeypatch.setattr("django.core.mail.backends.locmem.EmailBackend.send_messages", refuse)
    check(env_school)
    assert SchoolWeComState.objects.get(school=env_school).notified_outcome == ""
    monkeypatch.undo()
    check(env_school)
    assert len(mail.outbox) == 1


def test_the_daily_schedule_checks_every_active_school(env_school, wecom_sandbox, monkeypatch):
    School.objects.create(name="停用学校", corp_id="ww_gone", status=School.Status.SUSPENDED)
    queued = []
    monkeypatch.setattr(tasks.check_school, "delay", queued.append)
    assert tasks.check_schools() == 1 and queued == [env_school.pk]
    assert tasks.check_school(env_school.pk) is True
    assert SetupCheck.objects.get().trigger == "schedule"
    assert tasks.check_school(10_000) is None  # a school deleted meanwhile


def test_a_wecom_sign_in_and_a_callback_are_the_times_shown(
    client, env_school, wecom_sandbox, settings, monkeypatch
):
    from django.contrib.auth import get_user_model

    from school_live.school.models import Teacher
    from school_live.sync import callbacks

    userid = next(iter(wecom_sandbox.state.school.teachers))
    user = get_user_model().objects.create_user(username=userid)
    Teacher.objects.create(school=default_school(), userid=userid, user=user)
    start = client.get("/accounts/wecom/start/")
    url = start["Location"].split("#")[0].replace("/authorize", "/sandbox_choose")
    answer = requests.get(f"{url}&userid={userid}", allow_redirects=False, timeout=10)
    callback = urlsplit(answer.headers["Location"])
    assert client.get(f"{callback.path}?{callback.query}").status_code == 302
    state = SchoolWeComState.objects.get(school=env_school)
    assert state.last_sign_in_at is not None and state.last_callback_at is None

    settings.WECOM_CORP_ID = "wx5823bf96d3bd56c7"  # WeCom's own sample (api.md §16)
    settings.WECOM_CALLBACK_TOKEN = "QDG6eK"
    settings.WECOM_CALLBACK_AES_KEY = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"
    monkeypatch.setattr(callbacks, "clock", lambda: int(TIMESTAMP) + 5)
    query = {"msg_signature": SIGNATURE, "timestamp": TIMESTAMP, "nonce": NONCE}
    assert client.get(URL, {**query, "echostr": ECHOSTR}).status_code == 200
    refused = client.get(URL, {**query, "msg_signature": "f" * 40, "echostr": ECHOSTR})
    assert refused.status_code == 400
    state.refresh_from_db()
    assert state.last_callback_at is not None

    settings.WECOM_CORP_ID = wecom_sandbox.state.corp_id
    run = check(env_school)
    lines = {line["key"]: line for line in run.lines}
    assert lines["oauth"]["params"]["last"] == state.last_sign_in_at.isoformat()
    assert lines["callback"]["params"]["last"] == state.last_callback_at.isoformat()
    assert lines["callback"]["params"]["url"].endswith("/wecom/callback/")


# --- the domain verification file -----------------------------------------------------------


def test_an_admin_enters_the_file_and_the_site_serves_it_exactly(admin_browser, env_school):
    add = admin_browser.post(
        "/admin/setup_check/domainverificationfile/add/",
        {"school": env_school.pk, "name": FILE_NAME, "content": "DDzKZAh4svwfgX39"},
    )
    assert add.status_code == 302, add.content.decode()
    served = Client().get(f"/{FILE_NAME}")
    assert served.status_code == 200
    assert served.content == b"DDzKZAh4svwfgX39"
    assert served["Content-Type"] == "text/plain; charset=utf-8"
    assert Client().head(f"/{FILE_NAME}").status_code == 200
    assert Client().post(f"/{FILE_NAME}").status_code == 405


def test_an_uploaded_file_keeps_its_name_and_bytes(admin_browser, env_school):
    upload = SimpleUploadedFile("WW_verify_YnFHxjvF3Gtkueuq.txt", b"YnFHxjvF3Gtkueuq\n")
    add = admin_browser.post(
        "/admin/setup_check/domainverificationfile/add/",
        {"school": env_school.pk, "name": "", "content": "", "upload": upload},
    )
    assert add.status_code == 302, add.content.decode()
    assert Client().get("/WW_verify_YnFHxjvF3Gtkueuq.txt").content == b"YnFHxjvF3Gtkueuq\n"


@pytest.mark.parametrize(
    "name,content",
    [
        ("WW_verify_short.txt", "x"),
        ("weixin/WW_verify_DDzKZAh4svwfgX39.txt", "x"),
        ("WW_verify_DDzKZAh4svwfgX39.html", "x"),
        (FILE_NAME, ""),
        (FILE_NAME, "bad\x00content"),
    ],
)
def test_a_name_or_content_wecom_would_not_give_is_refused(
    admin_browser, env_school, name, content
):
    page = admin_browser.post(
        "/admin/setup_check/domainverificationfile/add/",
        {"school": env_school.pk, "name": name, "content": content},
    )
    assert page.status_code == 200
    assert "errorlist" in page.content.decode()
    assert not DomainVerificationFile.objects.exists()


@pytest.mark.parametrize(
    "path",
    [
        "/WW_verify_AAAAAAAAAAAAAAAA.txt",  # the right shape, but nobody entered it
        "/WW_verify_DDzKZAh4svwfgX3.txt",
        "/WW_verify_DDzKZAh4svwfgX39.txt.bak",
        "/ww_verify_DDzKZAh4svwfgX39.txt",
        "/robots.txt",
        "/settings.py",
        "/WW_verify_DDzKZAh4svwfgX39.txt/",
    ],
)
def test_nothing_else_is_served_at_the_root(db, env_school, path):
    DomainVerificationFile.objects.create(school=env_school, name=FILE_NAME, content="x")
    assert Client().get(path).status_code == 404
