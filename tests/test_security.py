"""The product's security rules, checked over every URL the project serves.

- A teacher sees only their own classes: every scoped URL is a 404 for a teacher of another class
  and for a login without a teacher, a 200 for the right teacher and for staff; anonymous users
  are sent to log in. The sweep reads the URL list from the resolver and fails when a URL appears
  that it does not know, so a new view cannot ship unchecked.
- WeCom text (themes, nicknames, names, relations, subjects, class names) is escaped on every
  page, email and WeCom card, and cannot become a formula in a CSV or XLSX download.
- The app secret and access tokens never reach a SyncRun, a page, a log record or a command's
  output, whatever WeCom answers (wrong secret, 40014, 92008, HTTP 502, an errmsg echoing them).
- Every state-changing request needs a CSRF token; redirects stay on this site; the WeCom OAuth
  state ties a callback to the session that started it.
"""

import dataclasses
import datetime as dt
import inspect
import io
import logging
import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import openpyxl
import pytest
from django.contrib.contenttypes.models import ContentType
from django.core import mail
from django.core.management import call_command
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.urls.resolvers import RegexPattern
from django.utils import timezone

from school_live.celery import app as celery_app
from school_live.corrections.models import Excuse, NicknameClaim
from school_live.corrections.nicknames import nickname_claim_create
from school_live.corrections.services import ExcuseRequest, excuse_create
from school_live.reminders.models import Reminder
from school_live.reports.delivery import delivery_run
from school_live.reports.dispatch import (
    admin_digests_send,
    living_report_send,
    teacher_digest_send,
)
from school_live.reports.living import living_report_build
from school_live.reports.models import ReportDelivery, ReportPreference
from school_live.reports.periods import week_period
from school_live.reports.textcards import living_textcard
from school_live.school.models import School, SyncRun
from school_live.school.tenancy import default_school
from school_live.wecom.client import WeComClient
from school_live.wecom.redact import RedactSecretsFilter
from tests.fixtures.attendance import START
from tests.fixtures.people import PASSWORD
from tests.fixtures.sandbox import ended_livingid, foreign_livingid
from tests.fixtures.security import (
    CLASS_ONE_WORDS,
    FORMULA_STUDENT,
    HOSTILE_NICKNAME,
    markup_in,
)

ROOT = Path(__file__).resolve().parent.parent
LOGIN = "/accounts/login/"
ADMIN_LOGIN = "/admin/login/"
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    # The sweep logs in many users; the default hasher would spend most of the time hashing.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


# --- the URL list, from the resolver ---------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Route:
    route: str  # e.g. "classes/<int:class_id>/"
    name: str | None  # namespaced, e.g. "dashboard:class"
    callback: Callable
    regex: bool


def project_routes() -> list[Route]:
    def walk(patterns, prefix: str, namespace: str | None):
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                inner = namespace
                if pattern.namespace:
                    inner = f"{namespace}:{pattern.namespace}" if namespace else pattern.namespace
                yield from walk(pattern.url_patterns, prefix + str(pattern.pattern), inner)
            elif isinstance(pattern, URLPattern):
                name = pattern.name
                if name and namespace:
                    name = f"{namespace}:{name}"
                yield Route(
                    prefix + str(pattern.pattern),
                    name,
                    pattern.callback,
                    isinstance(pattern.pattern, RegexPattern),
                )

    return list(walk(get_resolver().url_patterns, "", None))


def is_admin(route: Route) -> bool:
    return route.route.startswith("admin/")


# --- what each URL is, and what each kind of visitor must get --------------------------------


@dataclasses.dataclass(frozen=True)
class Spec:
    """``scoped``: objects of one class (``own``: 一年级一班's, ``theirs``: 一年级二班's);
    ``self``: the visitor's own things, no id in the URL; ``staff``: admins only;
    ``public``: open to anonymous visitors (login, language, WeCom sign-in)."""

    kind: str
    method: str = "get"
    own: Callable | None = None
    theirs: Callable | None = None
    ok: tuple[int, ...] = (200,)


def living_spec(**extra) -> Spec:
    """A URL of one living: 一年级一班's (``own``) or 一年级二班's (``theirs``)."""
    return Spec(
        "scoped",
        own=lambda w: [{"livingid": w.living.livingid}],
        theirs=lambda w: [{"livingid": w.other_living.livingid}],
        **extra,
    )


SPECS = {
    "dashboard:home": Spec("self"),
    "dashboard:class": Spec(
        "scoped",
        own=lambda w: [{"class_id": w.class_one.wecom_id}],
        theirs=lambda w: [{"class_id": w.class_two.wecom_id}],
    ),
    "dashboard:class_export": Spec(
        "scoped",
        own=lambda w: [{"class_id": w.class_one.wecom_id, "fmt": fmt} for fmt in ("csv", "xlsx")],
        theirs=lambda w: [
            {"class_id": w.class_two.wecom_id, "fmt": fmt} for fmt in ("csv", "xlsx")
        ],
    ),
    "dashboard:living": living_spec(),
    "dashboard:rollcall": living_spec(),
    "dashboard:student": Spec(
        "scoped",
        own=lambda w: [{"student_userid": w.student.student_userid}],
        theirs=lambda w: [{"student_userid": w.other_student.student_userid}],
    ),
    "dashboard:excuse_add": Spec(
        "scoped",
        method="post",
        own=lambda w: [{"student_userid": w.student.student_userid}],
        theirs=lambda w: [{"student_userid": w.other_student.student_userid}],
        ok=(302,),
    ),
    "dashboard:excuse_revoke": Spec(
        "scoped",
        method="post",
        own=lambda w: [excuse_of(w.student)],
        theirs=lambda w: [excuse_of(w.other_student)],
        ok=(302,),
    ),
    # A POST without a form: the lesson's page says what is missing (302 back to it).
    "dashboard:nickname_claim": Spec(
        "scoped",
        method="post",
        own=lambda w: [{"livingid": w.living.livingid, "class_id": w.class_one.wecom_id}],
        theirs=lambda w: [{"livingid": w.other_living.livingid, "class_id": w.class_two.wecom_id}],
        ok=(302,),
    ),
    "dashboard:nickname_remove": Spec(
        "scoped",
        method="post",
        own=lambda w: [claim_of(w.living, w.class_one, w.student)],
        theirs=lambda w: [claim_of(w.other_living, w.class_two, w.other_student)],
        ok=(302,),
    ),
    "sync:living": living_spec(method="post", ok=(200, 202)),
    "sync:run": Spec(
        "scoped",
        own=lambda w: [{"run_id": w.own_run.pk}],
        theirs=lambda w: [{"run_id": w.other_run.pk}],
    ),
    "sync:school": Spec("staff", method="post"),
    "reports:preferences": Spec("self"),
    "login": Spec("public"),
    "logout": Spec("public", method="post"),
    "set_language": Spec("public", method="post"),
    "wecom_login": Spec("public"),
    "wecom_login_callback": Spec("public"),
    # WeCom's callbacks authenticate by WeCom's signature, not a login (unset settings → 404).
    "wecom_callback": Spec("public", ok=(404,)),
    # WeCom fetches its domain verification file anonymously; a name nobody entered is a 404.
    "wecom_domain_file": Spec(
        "public",
        own=lambda w: [{"name": "WW_verify_AAAAAAAAAAAAAAAA.txt"}],
        theirs=lambda w: [{"name": "WW_verify_Not_A_WeCom_Name.txt"}],
        ok=(404,),
    ),
    # The 代开发 command URL: WeCom's signature too; 404 without the vendor settings (issue 23).
    "wecom_suite_callback": Spec("public", ok=(404,)),
    "wecom_jssdk_signature": Spec("self", ok=(400,)),  # no ?url=: nothing to sign
    "lessons:new": Spec("self"),
    # These lessons have ended: the edit page sends staff back to the lesson's page. Nobody in
    # this school hosts them, and only the host and staff change a lesson: a teacher who sees
    # it gets the outsider's 404 (tests/test_lessons_trust.py pins who may).
    "lessons:edit": living_spec(ok=(302, 404)),
    "lessons:cancel": living_spec(method="post", ok=(302, 404)),
    # 400: in scope, but only the lesson's host (or staff) reports a start.
    "lessons:started": living_spec(method="post", ok=(200, 400)),
    "lessons:state": living_spec(),
    "lessons:class_started": Spec(
        "scoped",
        method="post",
        own=lambda w: [{"class_id": w.class_one.wecom_id}],
        theirs=lambda w: [{"class_id": w.class_two.wecom_id}],
        ok=(400,),  # in scope; no living id was sent
    ),
    # Not live: the confirmation page says so (200); the record of a reminder of the class.
    "reminders:confirm": Spec(
        "scoped",
        own=lambda w: [{"livingid": w.living.livingid, "class_id": w.class_one.wecom_id}],
        theirs=lambda w: [{"livingid": w.other_living.livingid, "class_id": w.class_two.wecom_id}],
    ),
    "reminders:detail": Spec(
        "scoped",
        own=lambda w: [reminder_of(w.living, w.class_one)],
        theirs=lambda w: [reminder_of(w.other_living, w.class_two)],
    ),
}
# The one view that may skip CSRF: WeCom POSTs its callbacks, signed with the app's token.
CSRF_EXEMPT = ["wecom/suite/callback/", "wecom/callback/"]


def excuse_of(student) -> dict:
    """The URL kwargs of an excuse of the student (made once): one to revoke."""
    excuse = Excuse.objects.filter(student=student).first() or excuse_create(
        request=ExcuseRequest(
            student=student,
            kind=Excuse.Kind.SICK,
            start=dt.date(2026, 3, 2),
            end=dt.date(2026, 3, 2),
        )
    )
    return {"student_userid": student.student_userid, "excuse_id": excuse.pk}


def reminder_of(living, department) -> dict:
    """The URL kwargs of a reminder of that class at that living (made once)."""
    reminder, _created = Reminder.objects.get_or_create(
        school=default_school(),
        living=living,
        department=department,
        defaults={"kind": "manual", "status": "sent", "sent_at": timezone.now(), "text": "x"},
    )
    return {"reminder_id": reminder.pk}


def claim_of(living, department, student) -> dict:
    """The URL kwargs of a nickname claim for the student in the class (made once): one to
    remove."""
    claim = NicknameClaim.objects.filter(student=student).first() or nickname_claim_create(
        department=department, nickname=f"{student.student_userid}的妈妈", student=student
    )
    return {"livingid": living.livingid, "class_id": department.wecom_id, "claim_id": claim.pk}


def login_as(client: Client, user) -> Client:
    client.force_login(user)
    return client


def request(client: Client, method: str, url: str, **data):
    return getattr(client, method)(url, data or None)


def assert_sent_to_login(response, url: str, *, login: str = LOGIN) -> None:
    assert response.status_code == 302, (url, response.status_code)
    assert response["Location"].startswith(login), (url, response["Location"])


def test_the_sweep_knows_every_url_of_the_project():
    routes = project_routes()
    outside_admin = [route for route in routes if not is_admin(route)]
    assert all(route.name for route in outside_admin), [r.route for r in outside_admin]
    # A new URL fails here until SPECS says who may open it (and the sweep below checks it).
    assert {route.name for route in outside_admin} == set(SPECS)


def test_no_view_is_csrf_exempt_but_wecoms_signed_callback():
    exempt = [
        route.route for route in project_routes() if getattr(route.callback, "csrf_exempt", False)
    ]
    assert exempt == CSRF_EXEMPT


@pytest.mark.parametrize("name", sorted(n for n, s in SPECS.items() if s.kind == "scoped"))
def test_scoped_url_is_a_404_for_another_class_and_a_200_for_the_right_teacher(
    client, hostile_school, name
):
    spec, w = SPECS[name], hostile_school
    for kwargs in spec.own(w):
        url = reverse(name, kwargs=kwargs)
        assert_sent_to_login(request(Client(), spec.method, url), url)

        for outsider in (w.other.user, w.nobody):
            response = request(login_as(Client(), outsider), spec.method, url)
            assert response.status_code == 404, (url, outsider, response.status_code)
            body = response.content.decode(errors="replace")
            assert not [word for word in CLASS_ONE_WORDS if word in body], url

        response = request(login_as(Client(), w.head.user), spec.method, url)
        assert response.status_code in spec.ok, (url, response.status_code)

    for kwargs in spec.theirs(w):
        url = reverse(name, kwargs=kwargs)
        # Not a blanket 404: the other teacher opens their own class's page ...
        response = request(login_as(Client(), w.other.user), spec.method, url)
        assert response.status_code in spec.ok, (url, response.status_code)
        # ... the first teacher cannot, and staff see everything.
        response = request(login_as(Client(), w.head.user), spec.method, url)
        assert response.status_code == 404, url
        response = request(login_as(Client(), w.admin), spec.method, url)
        assert response.status_code in spec.ok, (url, response.status_code)

    if spec.method == "post":
        url = reverse(name, kwargs=spec.own(w)[0])
        assert login_as(Client(), w.head.user).get(url).status_code == 405


def test_sync_status_of_another_class_or_of_the_school_is_a_404(client, hostile_school):
    w = hostile_school
    for run in (w.other_run, w.school_run):
        url = reverse("sync:run", args=[run.pk])
        assert login_as(Client(), w.head.user).get(url).status_code == 404
    response = login_as(Client(), w.head.user).get(reverse("sync:run", args=[w.own_run.pk]))
    assert response.status_code == 200 and response.json()["living"] == "lv-own"
    # Starting a sync of another class's living creates nothing.
    before = SyncRun.objects.count()
    url = reverse("sync:living", args=[w.other_living.livingid])
    assert login_as(Client(), w.head.user).post(url).status_code == 404
    assert SyncRun.objects.count() == before


def test_pages_of_ones_own_show_only_ones_own_classes(hostile_school):
    w = hostile_school
    for name in (n for n, s in SPECS.items() if s.kind == "self"):
        url = reverse(name)
        assert_sent_to_login(Client().get(url), url)
        own = login_as(Client(), w.head.user).get(url)
        assert own.status_code in SPECS[name].ok, url
        theirs = login_as(Client(), w.other.user).get(url)
        assert theirs.status_code in SPECS[name].ok, url
        body = theirs.content.decode()
        assert not [word for word in CLASS_ONE_WORDS if word in body], url
    home = login_as(Client(), w.head.user).get(reverse("dashboard:home")).content.decode()
    assert "数学课" in home and "二班的课" not in home
    # Preferences belong to a teacher: a login without one has none.
    nobody = login_as(Client(), w.nobody).get(reverse("reports:preferences"))
    assert nobody.status_code == 404
    # A teacher's POST changes their own preferences only.
    login_as(Client(), w.other.user).post(
        reverse("reports:preferences"), {"language": "en", "email_override": "x@example.org"}
    )
    assert ReportPreference.objects.get(teacher=w.other).email_override == "x@example.org"
    assert not ReportPreference.objects.filter(teacher=w.head).exists()


def test_staff_only_urls_refuse_teachers(hostile_school):
    w = hostile_school
    for name in (n for n, s in SPECS.items() if s.kind == "staff"):
        url = reverse(name)
        before = SyncRun.objects.count()
        assert_sent_to_login(Client().post(url), url, login=ADMIN_LOGIN)
        assert_sent_to_login(login_as(Client(), w.head.user).post(url), url, login=ADMIN_LOGIN)
        assert SyncRun.objects.count() == before
        assert login_as(Client(), w.admin).get(url).status_code == 405
        response = login_as(Client(), w.admin).post(url)
        assert response.status_code == 302 and response["Location"].startswith("/admin/")


def test_public_urls_work_without_a_login_and_log_nobody_in(hostile_school, settings):
    settings.WECOM_CORP_ID = settings.WECOM_SECRET = ""
    anonymous = Client()
    assert anonymous.get(reverse("login")).status_code == 200
    assert anonymous.post(reverse("logout")).status_code == 302
    assert anonymous.post(reverse("set_language"), {"language": "en"}).status_code == 302
    assert_sent_to_login(anonymous.get(reverse("wecom_login")), "wecom_login")
    callback = anonymous.get(reverse("wecom_login_callback"), {"code": "x", "state": "y"})
    assert_sent_to_login(callback, "wecom_login_callback")
    assert "_auth_user_id" not in anonymous.session
    for name in (n for n, s in SPECS.items() if s.kind == "public"):
        kwargs = SPECS[name].own(hostile_school)[0] if SPECS[name].own else {}
        status = request(Client(), SPECS[name].method, reverse(name, kwargs=kwargs)).status_code
        assert status in (*SPECS[name].ok, 302), name


def admin_url(route: Route, w) -> str:
    if route.regex:
        if route.name == "admin:app_list":
            return reverse(route.name, kwargs={"app_label": "school"})
        return "/admin/no-such-page/"  # the catch-all
    model_admin = getattr(route.callback, "model_admin", None)
    obj = model_admin.model.objects.order_by("pk").first() if model_admin else None

    def value(match: re.Match) -> str:
        param = match.group("name")
        if param == "object_id" and route.name == "admin:view_on_site":
            return str(w.living.pk)
        if param == "object_id":
            return str(obj.pk) if obj is not None else "999999"
        if param == "id":
            return str(w.admin.pk)
        if param == "content_type_id":
            return str(ContentType.objects.get_for_model(type(w.living)).pk)
        if param == "school_id":
            return str(School.objects.values_list("pk", flat=True).first() or 999999)
        raise AssertionError(f"no sample for <{param}> in {route.route}")

    return "/" + re.sub(r"<(?:(?P<conv>\w+):)?(?P<name>\w+)>", value, route.route)


def test_every_admin_url_is_closed_to_anonymous_users_and_teachers(hostile_school):
    w = hostile_school
    routes = [route for route in project_routes() if is_admin(route)]
    assert len(routes) > 50
    teacher = login_as(Client(), w.head.user)
    admin = login_as(Client(), w.admin)
    for route in routes:
        url = admin_url(route, w)
        if route.name in ("admin:login", "admin:logout"):
            continue
        for visitor in (Client(), teacher):
            response = visitor.get(url)
            assert_sent_to_login(response, url, login=ADMIN_LOGIN)
        response = admin.get(url)
        assert response.status_code < 500, (url, response.status_code)
        if response.status_code == 200 and response.get("Content-Type", "").startswith("text/"):
            assert markup_in(response.content.decode()) == [], url


# --- hostile WeCom text ----------------------------------------------------------------------


def page_urls(w) -> list[str]:
    class_url = reverse("dashboard:class", args=[w.class_one.wecom_id])
    living_url = reverse("dashboard:living", args=[w.living.livingid])
    return [
        reverse("dashboard:home"),
        class_url,
        f"{class_url}?living={w.living.livingid}&verdict=present",
        f"{class_url}?start=2026-03-01&end=2026-03-31",
        living_url,
        f"{living_url}?class={w.class_one.wecom_id}",
        reverse("dashboard:student", args=[w.student.student_userid]),
        reverse("dashboard:student", args=[w.formula.student_userid]),
        reverse("reports:preferences"),
        reverse("sync:run", args=[w.own_run.pk]),
    ]


def test_hostile_wecom_text_is_escaped_on_every_page(hostile_school):
    w = hostile_school
    seen = ""
    for user in (w.head.user, w.admin):
        client = login_as(Client(), user)
        for url in page_urls(w):
            if user == w.admin and url == reverse("reports:preferences"):
                continue  # a login without a teacher has no preferences (a 404)
            response = client.get(url)
            assert response.status_code == 200, url
            body = response.content.decode()
            assert markup_in(body) == [], url
            seen += body
    # The text is shown, escaped: theme, nickname, student, relation, subject, class, unknown id.
    for escaped in (
        "&lt;img src=x onerror=alert(1)&gt;数学课",
        "&lt;script&gt;alert(&quot;nick&quot;)&lt;/script&gt;",
        "&quot;&gt;&lt;svg onload=alert(2)&gt;小明",
        "&lt;b onmouseover=alert(3)&gt;妈妈&lt;/b&gt;",
        "&lt;iframe src=javascript:alert(4)&gt;数学",
        "一年级一班&lt;img src=y onerror=alert(5)&gt;",
        "ghost&lt;svg onload=alert(7)&gt;",
    ):
        assert escaped in seen, escaped


def test_pages_carry_no_inline_script(hostile_school):
    w = hostile_school
    client = login_as(Client(), w.head.user)
    for url in page_urls(w)[:-1]:
        body = client.get(url).content.decode()
        inline = re.findall(r"<script(?![^>]*\bsrc=)(?![^>]*application/json)[^>]*>", body)
        assert inline == [], url


def test_downloads_neutralise_formulas_and_keep_the_text(hostile_school):
    w = hostile_school
    client = login_as(Client(), w.head.user)
    for query in (f"living={w.living.livingid}", "start=2026-03-01&end=2026-03-31"):
        url = reverse("dashboard:class_export", args=[w.class_one.wecom_id, "csv"])
        text = client.get(f"{url}?{query}").content.decode("utf-8-sig")
        cells = [cell for line in text.splitlines() for cell in line.split(",")]
        assert not [cell for cell in cells if cell.lstrip('"').startswith(FORMULA_STARTS)], query
        assert "'=HYPERLINK" in text

        url = reverse("dashboard:class_export", args=[w.class_one.wecom_id, "xlsx"])
        workbook = openpyxl.load_workbook(io.BytesIO(client.get(f"{url}?{query}").content))
        values = assert_no_formula(workbook)
        assert f"'{FORMULA_STUDENT}" in values


def assert_no_formula(workbook) -> list:
    values = []
    for sheet in workbook.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                assert cell.data_type != "f", (sheet.title, cell.coordinate, cell.value)
                if isinstance(cell.value, str):
                    assert not cell.value.startswith(FORMULA_STARTS), cell.value
                values.append(cell.value)
    return values


@pytest.fixture
def email_outbox(settings):
    settings.WECOM_AGENT_ID = None
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.SITE_URL = "https://school.example"


def test_hostile_wecom_text_is_escaped_in_every_email_and_card(hostile_school, email_outbox):
    w = hostile_school
    ReportPreference.objects.create(school=default_school(), teacher=w.head, xlsx_attachment=True)
    living_report_send(living=w.living)
    period = week_period(START.date())
    teacher_digest_send(teacher=w.head, period=period)
    admin_digests_send(period=period)
    assert len(mail.outbox) >= 3, [m.subject for m in mail.outbox]
    for message in mail.outbox:
        assert "\n" not in message.subject and "\r" not in message.subject
        [(html, mimetype)] = message.alternatives
        assert mimetype == "text/html"
        assert markup_in(html) == [], message.subject
        for _name, content, _type in message.attachments:
            assert_no_formula(openpyxl.load_workbook(io.BytesIO(content)))
    lesson = next(m for m in mail.outbox if m.attachments)
    html = lesson.alternatives[0][0]
    assert "&lt;img src=x onerror=alert(1)&gt;数学课" in html
    assert "&lt;script&gt;alert(&quot;nick&quot;)&lt;/script&gt;" in html

    report = living_report_build(living=w.living, departments=[w.class_one])
    card = living_textcard(report=report, language="zh-hans")["textcard"]
    assert markup_in(card["description"]) == []
    assert "一年级一班&lt;img src=y onerror=alert(5)&gt;" in card["description"]


# --- secrets and tokens ----------------------------------------------------------------------


def secrets_of(sandbox, settings, *extra: str) -> list[str]:
    values = {settings.WECOM_SECRET, sandbox.state.secret, *extra}
    values.update(sandbox.state._tokens)
    return [value for value in values if value]


def assert_no_secret(text: str, secrets: list[str], where: str) -> None:
    found = [secret for secret in secrets if secret in text]
    assert found == [], f"{where} shows a secret"
    assert not re.search(r"(access_token|corpsecret)=(?!\[redacted\])[^&\s]", text), where


def break_sync(case: str, sandbox, settings) -> tuple[str, list[str]]:
    """Arrange a failing sync; returns the livingid and extra secrets to look for."""
    state = sandbox.state
    livingid = ended_livingid(state)
    if case == "wrong_secret":
        settings.WECOM_SECRET = "wrong-secret-0123456789abcdef"
        return livingid, [settings.WECOM_SECRET]
    if case == "40014":
        state.fail_living(livingid, errcode=40014)
    elif case == "92008":
        livingid = foreign_livingid(state)
    elif case == "http502":
        state.inject(livingid, kind="http502")
    elif case == "echo":
        # WeCom (or a proxy) answering with the credentials in its message.
        with WeComClient.from_settings() as client:
            token = client.get_access_token()
        state.script_watch_pages(
            livingid,
            [
                {
                    "errcode": 40058,
                    "errmsg": f"bad request access_token={token} corpsecret={state.secret} "
                    f"{token} {{'access_token': '{token}'}}",
                }
            ],
        )
    return livingid, []


@pytest.mark.parametrize("case", ["wrong_secret", "40014", "92008", "http502", "echo"])
def test_a_failed_sync_shows_no_secret_anywhere(
    hostile_school, wecom_settings, wecom_sandbox, caplog, case
):
    caplog.set_level(logging.DEBUG)
    livingid, extra = break_sync(case, wecom_sandbox, wecom_settings)
    out, err = io.StringIO(), io.StringIO()
    with pytest.raises(SystemExit):
        call_command("sync_living", livingid, verbosity=2, stdout=out, stderr=err)
    secrets = secrets_of(wecom_sandbox, wecom_settings, *extra)
    assert len(secrets) >= 2 or case == "wrong_secret"
    run = SyncRun.objects.filter(livingid=livingid).latest("pk")
    assert run.status == SyncRun.Status.FAILED and run.error
    assert_no_secret(run.error, secrets, "SyncRun.error")
    assert_no_secret(err.getvalue() + out.getvalue(), secrets, "sync_living output")
    for record in caplog.records:
        assert_no_secret(record.getMessage(), secrets, f"log record {record.name}")
    assert_no_secret(caplog.text, secrets, "the captured logs")
    admin = login_as(Client(), hostile_school.admin)
    for url in (
        reverse("sync:run", args=[run.pk]),
        reverse("admin:school_syncrun_change", args=[run.pk]),
        reverse("admin:school_syncrun_changelist"),
    ):
        assert_no_secret(admin.get(url).content.decode(), secrets, url)


def test_a_failed_report_delivery_records_no_token(db):
    delivery = ReportDelivery.objects.create(
        school=default_school(),
        report=ReportDelivery.Report.choices[0][0],
        period="2026-W10",
        channel=ReportDelivery.Channel.choices[0][0],
        recipient="teacher:wangli",
        claimed_at=timezone.now(),
    )
    token = "tok-0123456789abcdefghij"

    def send():
        raise RuntimeError(f"GET https://qyapi.example/cgi-bin/x?access_token={token}&debug=1")

    delivery_run(delivery=delivery, send=send)
    delivery.refresh_from_db()
    assert delivery.status == ReportDelivery.Status.FAILED
    assert "RuntimeError" in delivery.error and token not in delivery.error


def test_the_console_log_handler_redacts_secrets(hostile_school, wecom_settings, wecom_sandbox):
    root = logging.getLogger()
    assert any(
        isinstance(f, RedactSecretsFilter) for handler in root.handlers for f in handler.filters
    ), "settings.LOGGING's console handler lost its redaction filter"
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactSecretsFilter())
    root.addHandler(handler)
    previous = root.level
    root.setLevel(logging.DEBUG)
    try:
        livingid, _extra = break_sync("echo", wecom_sandbox, wecom_settings)
        with pytest.raises(SystemExit):
            call_command("sync_living", livingid, verbosity=2, stdout=io.StringIO())
        logging.getLogger("school_live.elsewhere").warning(
            "GET /cgi-bin/gettoken?corpid=x&corpsecret=%s", wecom_settings.WECOM_SECRET
        )
    finally:
        root.removeHandler(handler)
        root.setLevel(previous)
    text = stream.getvalue()
    assert "gettoken" in text  # urllib3 logged the URL, redacted
    assert_no_secret(text, secrets_of(wecom_sandbox, wecom_settings), "the console log")


def test_the_sync_living_command_prints_no_secret_even_at_debug(wecom_sandbox, tmp_path):
    """The real command in its own process, logging at DEBUG (urllib3 logs every URL)."""
    state = wecom_sandbox.state
    good = ended_livingid(state)
    broken = sorted(
        lv.livingid for lv in state.school.livings.values() if not lv.foreign and lv.viewers
    )[-1]
    state.fail_living(broken, errcode=40014)
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "school_live.settings",
        "SCHOOL_LIVE_VAR_DIR": str(tmp_path),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "WECOM_API_BASE": wecom_sandbox.url,
        "WECOM_CORP_ID": state.corp_id,
        "WECOM_SECRET": state.secret,
        "LOG_LEVEL": "DEBUG",
        "PYTHONPATH": str(ROOT),
    }
    env.pop("CACHE_URL", None)
    command = [sys.executable, "manage.py", "sync_living", "-v", "2", good, broken, "lv-none"]
    result = subprocess.run(
        command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 1, result.stderr[-2000:]
    assert "/cgi-bin/gettoken" in result.stderr  # the DEBUG log really ran
    secrets = [state.secret, *state._tokens]
    assert len(secrets) >= 3
    assert_no_secret(result.stdout + result.stderr, secrets, "sync_living -v 2 at DEBUG")

    env["WECOM_SECRET"] = "wrong-secret-0123456789abcdef"
    result = subprocess.run(
        [sys.executable, "manage.py", "sync_living", "-v", "2", good],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 1
    assert_no_secret(result.stdout + result.stderr, [env["WECOM_SECRET"], *secrets], "wrong secret")


def test_celery_takes_json_ids_and_logs_through_the_redacting_handler():
    assert celery_app.conf.accept_content == ["json"]
    assert celery_app.conf.task_serializer == "json"
    celery_app.loader.import_default_modules()
    tasks = {
        name: task for name, task in celery_app.tasks.items() if not name.startswith("celery.")
    }
    assert tasks
    suspicious = re.compile(r"secret|token|password|corp|code|key", re.IGNORECASE)
    for name, task in tasks.items():
        params = inspect.signature(task.run).parameters
        assert not [p for p in params if suspicious.search(p)], name
    # Celery gives the "celery.task" logger its own handler, without the redaction filter:
    # project code logs through logging.getLogger(__name__) instead.
    offenders = [
        str(path.relative_to(ROOT))
        for path in (ROOT / "school_live").rglob("*.py")
        if "get_task_logger" in path.read_text(encoding="utf-8")
    ]
    assert offenders == []


# --- CSRF, redirects, OAuth state ------------------------------------------------------------


def test_every_state_changing_request_needs_a_csrf_token(hostile_school):
    w = hostile_school
    post_urls = [
        (w.head.user, reverse("sync:living", args=[w.living.livingid]), {}),
        (w.head.user, reverse("reports:preferences"), {"language": "en"}),
        (
            w.head.user,
            reverse("dashboard:excuse_add", args=[w.student.student_userid]),
            {"start": "2026-03-02", "kind": "sick"},
        ),
        (w.head.user, reverse("dashboard:excuse_revoke", kwargs=excuse_of(w.student)), {}),
        (
            w.head.user,
            reverse("dashboard:nickname_claim", args=[w.living.livingid, w.class_one.wecom_id]),
            {"nickname": HOSTILE_NICKNAME, "student": w.absent.student_userid},
        ),
        (
            w.head.user,
            reverse("dashboard:nickname_remove", kwargs=claim_of(w.living, w.class_one, w.student)),
            {},
        ),
        (w.head.user, reverse("logout"), {}),
        (w.head.user, reverse("set_language"), {"language": "en"}),
        (w.admin, reverse("sync:school"), {}),
        (
            w.admin,
            reverse("admin:school_living_changelist"),
            {"action": "sync_livings_now", "_selected_action": [w.living.pk]},
        ),
        (None, reverse("login"), {"username": w.head.user.username, "password": PASSWORD}),
        (w.head.user, reverse("lessons:new"), {"theme": "x"}),
        (w.head.user, reverse("lessons:cancel", args=[w.living.livingid]), {"confirm": "yes"}),
        (w.head.user, reverse("lessons:started", args=[w.living.livingid]), {}),
        (
            w.head.user,
            reverse("lessons:class_started", args=[w.class_one.wecom_id]),
            {"livingid": "x"},
        ),
    ]
    covered = {name for name, spec in SPECS.items() if spec.method == "post" or name == "login"} | {
        "reports:preferences"
    }
    assert covered <= {get_resolver().resolve(url).view_name for _u, url, _d in post_urls}
    runs = SyncRun.objects.count()
    for user, url, data in post_urls:
        client = Client(enforce_csrf_checks=True)
        if user is not None:
            client.force_login(user)
        assert client.post(url, data).status_code == 403, url
        if user is not None:
            assert "_auth_user_id" in client.session, url  # logout without a token did nothing
    assert SyncRun.objects.count() == runs
    assert not ReportPreference.objects.filter(teacher=w.head).exists()
    # Neither a new excuse nor a revoked one (the one there is, excuse_of made it).
    assert list(Excuse.objects.values_list("revoked_at", flat=True)) == [None]
    # Neither a new nickname claim nor a removed one.
    assert list(NicknameClaim.objects.values_list("revoked_at", flat=True)) == [None]

    # With the token the same request goes through.
    client = Client(enforce_csrf_checks=True)
    client.force_login(w.head.user)
    page = client.get(reverse("dashboard:living", args=[w.living.livingid]))
    token = page.cookies["csrftoken"].value
    response = client.post(reverse("sync:living", args=[w.living.livingid]), HTTP_X_CSRFTOKEN=token)
    assert response.status_code in (200, 202)


@pytest.mark.parametrize(
    "target", ["https://evil.example/x", "//evil.example/x", "/\\evil.example", "http:evil.example"]
)
def test_redirects_stay_on_this_site(hostile_school, wecom_settings, wecom_sandbox, target):
    w = hostile_school
    client = Client()
    response = client.post(
        reverse("login"), {"username": "wangli", "password": PASSWORD, "next": target}
    )
    assert response.status_code == 302 and response["Location"] == "/"
    response = client.post(reverse("set_language"), {"language": "en", "next": target})
    assert response.status_code == 302 and "evil.example" not in response["Location"]

    client = Client()
    start = client.get(reverse("wecom_login"), {"next": target})
    assert start.status_code == 302 and "evil.example" not in start["Location"]
    state = client.session["wecom_oauth_state"]
    code = wecom_sandbox.state.issue_oauth_code(w.head.userid)
    done = client.get(reverse("wecom_login_callback"), {"code": code, "state": state})
    assert done.status_code == 302 and done["Location"] == "/"
    assert int(client.session["_auth_user_id"]) == w.head.user.pk


def test_a_wecom_callback_needs_the_state_of_its_own_session(
    hostile_school, wecom_settings, wecom_sandbox
):
    w = hostile_school
    victim, attacker = Client(), Client()
    victim.get(reverse("wecom_login"))
    attacker.get(reverse("wecom_login"))
    code = wecom_sandbox.state.issue_oauth_code(w.head.userid)
    # The attacker's own state, or none, in the victim's browser: nobody is logged in.
    stolen = attacker.session["wecom_oauth_state"]
    response = victim.get(reverse("wecom_login_callback"), {"code": code, "state": stolen})
    assert response.status_code == 302 and response["Location"] == LOGIN
    assert "_auth_user_id" not in victim.session
    fresh = Client()
    response = fresh.get(reverse("wecom_login_callback"), {"code": code, "state": ""})
    assert "_auth_user_id" not in fresh.session
    # The start URL carries the corp id, never the secret.
    start = Client().get(reverse("wecom_login"))
    assert wecom_settings.WECOM_SECRET not in start["Location"]


def test_a_404_page_shows_no_debug_details(hostile_school, settings):
    settings.DEBUG = False
    client = login_as(Client(), hostile_school.other.user)
    response = client.get(reverse("dashboard:living", args=["lv-own"]))
    assert response.status_code == 404
    assert b"Traceback" not in response.content and b"lv-own" not in response.content


def test_celery_worker_log_handlers_redact_tokens_and_secrets():
    import io
    import logging

    from school_live.celery import redact_worker_logs

    stream = io.StringIO()
    logger = logging.getLogger("celery.task.redaction-check")
    handler = logging.StreamHandler(stream)
    logger.addHandler(handler)
    logger.propagate = False
    try:
        redact_worker_logs(logger=logger)  # what Celery's after_setup_task_logger signal calls
        logger.error("GET /cgi-bin/gettoken?corpid=ww1&corpsecret=S3CRET&access_token=T0KEN")
    finally:
        logger.removeHandler(handler)
    assert "S3CRET" not in stream.getvalue() and "T0KEN" not in stream.getvalue()
    assert "corpsecret=" in stream.getvalue()
