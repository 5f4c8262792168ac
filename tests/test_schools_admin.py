"""The schools in the admin: operators see and change every school, a school admin only their
own; secrets are write-only; the default school's WeCom settings are the environment's; nobody
deletes a school here; and it is all in Chinese."""

import datetime as dt
import re
from zoneinfo import ZoneInfo

import pytest
from cryptography.fernet import Fernet
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse

from school_live.school.models import School, SchoolMembership, is_operator, school_of
from tests.fixtures.people import PASSWORD

pytestmark = pytest.mark.django_db

SECRET = "Xq3-the-stored-app-secret-0123456789"
AES_KEY = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"
SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def keys(settings):
    settings.ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    settings.SCHOOL_NAME = ""
    settings.WECOM_CORP_ID = "ww_env_corp"
    settings.WECOM_SECRET = "env-secret-never-shown"
    settings.WECOM_AGENT_ID = 1000002
    settings.WECOM_CALLBACK_TOKEN = settings.WECOM_CALLBACK_AES_KEY = ""
    return settings


@pytest.fixture
def schools(keys):
    default = School.objects.get(from_environment=True)
    default.name, default.corp_id = "默认学校", "ww_env_corp"
    default.save()
    one = School.objects.create(name="第一中学", corp_id="wwOne", agent_id=5, secret=SECRET)
    two = School.objects.create(name="第二中学", corp_id="wwTwo", agent_id=6, secret=SECRET)
    return {"default": default, "one": one, "two": two}


def login(user) -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE="zh-hans")
    client.force_login(user)
    return client


@pytest.fixture
def operator(db):
    return get_user_model().objects.create_superuser(username="vendor", password=PASSWORD)


@pytest.fixture
def school_admin(schools):
    user = get_user_model().objects.create_user(username="jiaowu", password=PASSWORD)
    user.is_staff = True
    user.save()
    SchoolMembership.objects.create(
        user=user, school=schools["one"], role=SchoolMembership.Role.SCHOOL_ADMIN
    )
    return user


def change_url(school) -> str:
    return reverse("admin:school_school_change", args=[school.pk])


def change_form(school, **fields) -> dict:
    data = {
        "name": school.name,
        "status": school.status,
        "corp_id": school.corp_id,
        "agent_id": school.agent_id or "",
        "secret": "",
        "callback_token": "",
        "callback_aes_key": "",
    }
    data.update(fields)
    return data


def test_who_is_an_operator_and_who_belongs_where(schools, operator, school_admin):
    teacher = get_user_model().objects.create_user(username="wangli")
    SchoolMembership.objects.create(user=teacher, school=schools["two"])
    assert is_operator(operator) and school_of(operator) is None
    assert not is_operator(school_admin) and school_of(school_admin) == schools["one"]
    assert school_of(teacher) == schools["two"]
    assert school_of(get_user_model().objects.create_user(username="nobody")) is None
    operator.is_active = False
    assert not is_operator(operator)


def test_an_operator_sees_every_school(schools, operator):
    page = login(operator).get(reverse("admin:school_school_changelist"))
    assert page.status_code == 200
    text = page.content.decode()
    for school in schools.values():
        assert school.name in text
    assert "ww_env_corp" in text and "wwOne" in text


def test_a_secret_is_never_on_the_page_only_whether_it_is_set(schools, operator):
    stored = School.objects.get(pk=schools["one"].pk)
    page = login(operator).get(change_url(stored))
    text = page.content.decode()
    assert SECRET not in text and stored.secret.sealed not in text
    secret_input = re.search(r'<input[^>]*name="secret"[^>]*>', text).group(0)
    assert 'type="password"' in secret_input and "value=" not in secret_input
    assert 'placeholder="已设置"' in secret_input
    token_input = re.search(r'<input[^>]*name="callback_token"[^>]*>', text).group(0)
    assert 'placeholder="未设置"' in token_input


def test_a_blank_secret_keeps_the_stored_one_and_a_new_one_replaces_it(schools, operator, clock_at):
    clock_at(dt.datetime(2026, 3, 2, 9, 0, tzinfo=SHANGHAI), tick=False)
    school = schools["one"]
    client = login(operator)
    response = client.post(change_url(school), change_form(school, name="第一中学（本部）"))
    assert response.status_code == 302
    school.refresh_from_db()
    assert school.name == "第一中学（本部）" and school.secret.reveal() == SECRET

    response = client.post(
        change_url(school),
        change_form(
            school,
            secret="a-new-secret",
            callback_token="tok",
            callback_aes_key=AES_KEY,
            status="suspended",
        ),
    )
    assert response.status_code == 302
    school.refresh_from_db()
    assert school.secret.reveal() == "a-new-secret"
    assert school.wecom_callback_keys() == ("tok", AES_KEY)
    assert school.status == School.Status.SUSPENDED
    assert school.status_changed_at == dt.datetime(2026, 3, 2, 9, 0, tzinfo=SHANGHAI)


def test_bad_input_is_refused_in_chinese_and_nothing_is_changed(schools, operator):
    school = schools["one"]
    client = login(operator)
    response = client.post(
        change_url(school),
        change_form(school, corp_id="wwTwo", callback_aes_key="short", secret="new-one"),
    )
    assert response.status_code == 200
    text = response.content.decode()
    assert "已使用此企业ID" in text and "第二中学" in text
    assert "不是有效的 EncodingAESKey" in text
    assert "new-one" not in text  # what was typed into a secret field is not echoed
    school.refresh_from_db()
    assert school.corp_id == "wwOne" and school.secret.reveal() == SECRET


def test_adding_a_school_needs_its_corp_id_agent_id_and_secret(schools, operator):
    client = login(operator)
    add = reverse("admin:school_school_add")
    empty = client.post(add, {"name": "第三中学", "status": "active"})
    assert empty.status_code == 200
    assert "请填写应用的 Secret" in empty.content.decode()
    assert not School.objects.filter(name="第三中学").exists()

    added = client.post(
        add,
        {"name": "第三中学", "status": "active", "corp_id": "wwThree", "agent_id": "9"}
        | {"secret": "third-secret", "callback_token": "", "callback_aes_key": ""},
    )
    assert added.status_code == 302
    school = School.objects.get(name="第三中学")
    assert (school.corp_id, school.agent_id, school.secret.reveal()) == (
        "wwThree",
        9,
        "third-secret",
    )


def test_without_an_encryption_key_a_secret_is_refused_with_what_to_set(
    schools, operator, settings
):
    settings.ENCRYPTION_KEYS = []
    school = schools["two"]
    response = login(operator).post(change_url(school), change_form(school, secret="new"))
    assert response.status_code == 200
    assert "SCHOOL_LIVE_ENCRYPTION_KEYS" in response.content.decode()


def test_the_default_schools_wecom_settings_are_the_environments_and_read_only(schools, operator):
    school = schools["default"]
    client = login(operator)
    text = client.get(change_url(school)).content.decode()
    assert "企业微信应用（来自环境变量）" in text
    assert "ww_env_corp" in text and "已设置（WECOM_SECRET）" in text
    assert "env-secret-never-shown" not in text
    assert 'name="secret"' not in text and 'name="corp_id"' not in text

    response = client.post(
        change_url(school),
        {"name": "阳光实验小学", "status": "active", "corp_id": "wwHijack", "secret": "x"},
    )
    assert response.status_code == 302
    school.refresh_from_db()
    assert school.name == "阳光实验小学"
    assert school.corp_id == "ww_env_corp" and not school.secret


def test_school_name_from_the_environment_is_read_only_too(schools, operator, settings):
    settings.SCHOOL_NAME = "环境里的校名"
    text = login(operator).get(change_url(schools["default"])).content.decode()
    assert 'name="name"' not in text


def test_nobody_deletes_a_school_here(schools, operator):
    client = login(operator)
    school = schools["two"]
    delete = reverse("admin:school_school_delete", args=[school.pk])
    assert client.get(delete).status_code == 403
    assert client.post(delete, {"post": "yes"}).status_code == 403
    changelist = client.get(reverse("admin:school_school_changelist")).content.decode()
    assert "delete_selected" not in changelist
    assert School.objects.filter(pk=school.pk).exists()


def test_a_school_admin_sees_and_changes_only_their_school(schools, school_admin):
    client = login(school_admin)
    text = client.get(reverse("admin:school_school_changelist")).content.decode()
    assert "第一中学" in text
    assert "第二中学" not in text and "默认学校" not in text

    other = client.get(change_url(schools["two"]))
    assert other.status_code == 302  # "does not exist", as for a made-up id
    assert "第二中学" not in client.get(other["Location"]).content.decode()
    assert (
        client.post(change_url(schools["two"]), change_form(schools["two"], name="x")).status_code
        == 302
    )
    schools["two"].refresh_from_db()
    assert schools["two"].name == "第二中学"

    own = schools["one"]
    response = client.post(
        change_url(own),
        {"name": "第一中学（新）", "agent_id": "15", "secret": "", "corp_id": "wwTwo"}
        | {"status": "uninstalled", "callback_token": "", "callback_aes_key": ""},
    )
    assert response.status_code == 302
    own.refresh_from_db()
    assert (own.name, own.agent_id) == ("第一中学（新）", 15)
    assert own.corp_id == "wwOne" and own.status == School.Status.ACTIVE  # the operators' to change


def test_a_school_admin_adds_no_school_and_gives_no_memberships(schools, school_admin):
    client = login(school_admin)
    assert client.get(reverse("admin:school_school_add")).status_code == 403
    assert client.get(reverse("admin:school_schoolmembership_changelist")).status_code == 403
    index = client.get(reverse("admin:index")).content.decode()
    assert reverse("admin:school_school_changelist") in index
    assert reverse("admin:school_schoolmembership_changelist") not in index


def test_staff_of_no_school_see_no_school(schools):
    user = get_user_model().objects.create_user(username="staff-only", is_staff=True)
    client = login(user)
    assert client.get(reverse("admin:school_school_changelist")).status_code == 403
    assert client.get(change_url(schools["one"])).status_code == 403
    teacher = get_user_model().objects.create_user(username="wangli")
    SchoolMembership.objects.create(user=teacher, school=schools["one"])
    teacher.is_staff = True  # a teacher, even with admin access, is no school admin
    teacher.save()
    assert login(teacher).get(change_url(schools["one"])).status_code == 403


def test_an_operator_gives_a_user_their_school_but_never_a_superuser(schools, operator):
    client = login(operator)
    user = get_user_model().objects.create_user(username="jiaowu2", is_staff=True)
    add = reverse("admin:school_schoolmembership_add")
    response = client.post(
        add, {"user": user.pk, "school": schools["two"].pk, "role": "school_admin"}
    )
    assert response.status_code == 302
    assert school_of(user) == schools["two"]

    refused = client.post(
        add, {"user": operator.pk, "school": schools["two"].pk, "role": "teacher"}
    )
    assert refused.status_code == 200
    assert "超级用户是整个部署的运维人员" in refused.content.decode()
    user_page = client.get(reverse("admin:auth_user_change", args=[user.pk])).content.decode()
    assert "所属学校" in user_page


def test_the_admin_speaks_chinese(schools, operator):
    client = login(operator)
    index = client.get(reverse("admin:index")).content.decode()
    assert "school_live 管理" in index and "Django" not in index
    changelist = client.get(reverse("admin:school_school_changelist")).content.decode()
    for label in ("企业ID", "应用AgentId", "由环境变量设定", "正常"):
        assert label in changelist
    form = client.get(change_url(schools["one"])).content.decode()
    for label in ("应用Secret", "接收消息Token", "接收消息（回调）", "只写：输入新值即替换"):
        assert label in form
    for english in ("WeCom corp id", "app secret", "callback Token", "Write-only"):
        assert english not in form
