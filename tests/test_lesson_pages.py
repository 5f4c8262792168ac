"""Lessons on the web, against the sandbox as a real server: a teacher schedules for their own
classes only, edits and cancels while the lesson is reserved, and the phone's reports of a start
are accepted only within the teacher's scope. The sandbox's stand-in ww and its checks live here
too (the browser test drives them end to end: tests/test_browser_lessons.py)."""

import datetime as dt
import re

import pytest
import requests
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from school_live.lessons.models import LessonOccurrence, LessonSeries
from school_live.school.models import ClassAssignment, Department, Living, SyncRun, Teacher
from school_live.school.tenancy import default_school
from school_live.sync.roster import roster_sync
from school_live.wecom.client import WeComClient
from school_live.wecom.jsapi import AGENT, CORP, TicketStore, jsapi_signature

# These tests pin English wording; the site speaks zh-hans first.
pytestmark = pytest.mark.usefixtures("english")

THEME = "网页安排：认识钟表"


@pytest.fixture
def people(sync_sandbox, sync_client, settings):
    """The sandbox's roster synced: a teacher with their class, a teacher of another class only,
    and an admin."""
    settings.WECOM_AGENT_ID = sync_sandbox.state.agent_id
    roster_sync(school=default_school(), client=sync_client)
    teaches = {}
    for assignment in ClassAssignment.objects.filter(
        department__type=Department.Type.CLASS, teacher__user__isnull=False
    ).order_by("pk"):
        teaches.setdefault(assignment.teacher_id, set()).add(assignment.department_id)
    # A teacher of one class, and a teacher of another class who does not teach the first.
    teacher_id, klass_id, other_id, other_class_id = next(
        (mine, klass, theirs, their_class)
        for mine, classes in teaches.items()
        for klass in sorted(classes)
        for theirs, other_classes in teaches.items()
        if klass not in other_classes
        for their_class in sorted(other_classes - classes)
    )
    teacher = Teacher.objects.select_related("user").get(pk=teacher_id)
    klass = Department.objects.get(pk=klass_id)
    other = Teacher.objects.select_related("user").get(pk=other_id)
    other_class = Department.objects.get(pk=other_class_id)
    admin = get_user_model().objects.create_superuser(username="admin", password="x" * 12)
    return {
        "teacher": teacher,
        "class": klass,
        "other": other,
        "other_class": other_class,
        "admin": admin,
    }


def as_user(user) -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(user)
    return client


def lesson_form(klass, *, theme=THEME, days=2, at="09:30", **extra) -> dict:
    day = (
        timezone.localtime(timezone.now(), timezone.get_default_timezone())
        + dt.timedelta(days=days)
    ).date()
    data = {
        "theme": theme,
        "date": day.isoformat(),
        "time": at,
        "minutes": "40",
        "living_type": "2",
        "remind_minutes": "15",
        "classes": [str(klass.pk)],
        "weeks": "2",
    }
    data.update(extra)
    return data


def sandbox_livings(sandbox, theme=THEME):
    return [lv for lv in sandbox.state.school.livings.values() if lv.theme == theme]


def schedule(client, klass, **extra):
    return client.post(
        f"{reverse('lessons:new')}?class={klass.wecom_id}", lesson_form(klass, **extra)
    )


# --- scheduling -------------------------------------------------------------------------------


def test_a_teacher_schedules_a_lesson_for_their_class_and_wecom_has_it(sync_sandbox, people):
    client = as_user(people["teacher"].user)
    page = client.get(f"{reverse('lessons:new')}?class={people['class'].wecom_id}")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'maxlength="20"' in html
    assert re.search(rf'value="{people["class"].pk}"[^>]*checked', html)

    response = schedule(client, people["class"])

    created = sandbox_livings(sync_sandbox)
    assert len(created) == 1
    assert created[0].anchor_userid == people["teacher"].userid
    assert created[0].living_type == LessonSeries.Type.BIG_CLASS
    assert created[0].living_duration == 40 * 60 and created[0].remind_time == 15 * 60
    living = Living.objects.get(livingid=created[0].livingid)
    assert response.status_code == 302
    assert response["Location"] == reverse("dashboard:living", args=[living.livingid])
    start = timezone.localtime(living.living_start, timezone.get_default_timezone())
    assert (start.hour, start.minute) == (9, 30)
    assert created[0].living_start == int(living.living_start.timestamp())
    assert living.status == Living.Status.RESERVED
    assert list(living.planned_classes.all()) == [people["class"]]
    assert LessonSeries.objects.get().requested_by == people["teacher"].user

    home = client.get(reverse("dashboard:home")).content.decode()
    upcoming = home.split('id="upcoming-livings"')[1]
    assert f'data-livingid="{living.livingid}"' in upcoming
    page = client.get(response["Location"]).content.decode()
    assert 'id="wecom-status"' in page and 'id="start-living-button"' in page


def test_a_weekly_repeat_creates_one_lesson_per_week(sync_sandbox, people):
    schedule(as_user(people["teacher"].user), people["class"], repeat="on", weeks="3")
    starts = sorted(lv.living_start for lv in sandbox_livings(sync_sandbox))
    assert [b - a for a, b in zip(starts, starts[1:], strict=False)] == [7 * 24 * 3600] * 2
    assert LessonOccurrence.objects.filter(state=LessonOccurrence.State.CREATED).count() == 3


def test_without_repeat_the_weeks_field_is_ignored(sync_sandbox, people):
    schedule(as_user(people["teacher"].user), people["class"], weeks="5")
    assert len(sandbox_livings(sync_sandbox)) == 1


def test_another_class_is_a_404_when_scheduling_and_creates_nothing(sync_sandbox, people):
    client = as_user(people["other"].user)
    url = f"{reverse('lessons:new')}?class={people['class'].wecom_id}"
    assert client.get(url).status_code == 404
    assert client.post(url, lesson_form(people["class"])).status_code == 404
    # Without ?class= the form offers only their own classes: a forged choice is refused.
    response = client.post(reverse("lessons:new"), lesson_form(people["class"]))
    assert response.status_code == 200
    assert "errorlist" in response.content.decode()
    assert sandbox_livings(sync_sandbox) == []
    assert not LessonSeries.objects.exists()


def test_a_theme_over_20_characters_is_refused_before_wecom_is_called(sync_sandbox, people):
    response = schedule(as_user(people["teacher"].user), people["class"], theme="长" * 21)
    assert response.status_code == 200
    body = response.content.decode()
    assert "21" in body and "20" in body
    assert sandbox_livings(sync_sandbox, "长" * 21) == []
    assert not LessonSeries.objects.exists()
    assert "/cgi-bin/living/create" not in [call.path for call in sync_sandbox.state.calls]


def test_a_start_in_the_past_is_refused_with_the_form_kept(sync_sandbox, people):
    response = schedule(as_user(people["teacher"].user), people["class"], days=-1)
    assert response.status_code == 200
    assert 'value="网页安排：认识钟表"' in response.content.decode()
    assert not Living.objects.filter(status=Living.Status.RESERVED).exists()


def test_a_wecom_refusal_shows_the_form_again_with_what_to_do(sync_sandbox, people):
    # WeCom no longer knows the teacher (60111): the form comes back, nothing is stored as made.
    sync_sandbox.state.school.teachers.pop(people["teacher"].userid.lower())
    response = schedule(as_user(people["teacher"].user), people["class"])
    assert response.status_code == 200
    assert "administrator" in response.content.decode()
    assert not Living.objects.filter(status=Living.Status.RESERVED).exists()


def test_staff_schedule_for_a_teacher_they_pick(sync_sandbox, people):
    client = as_user(people["admin"])
    page = client.get(f"{reverse('lessons:new')}?class={people['class'].wecom_id}").content.decode()
    assert 'name="teacher"' in page
    data = lesson_form(people["class"], teacher=str(people["teacher"].pk))
    response = client.post(reverse("lessons:new"), data)
    assert response.status_code == 302
    (created,) = sandbox_livings(sync_sandbox)
    assert created.anchor_userid == people["teacher"].userid
    # A teacher who does not teach the class is refused with the reason.
    data = lesson_form(people["class"], teacher=str(people["other"].pk), theme="另一节")
    response = client.post(reverse("lessons:new"), data)
    assert response.status_code == 200 and sandbox_livings(sync_sandbox, "另一节") == []


def test_a_login_without_a_teacher_cannot_schedule(sync_sandbox, people):
    nobody = get_user_model().objects.create_user(username="nobody", password="x" * 12)
    assert as_user(nobody).get(reverse("lessons:new")).status_code == 404


# --- edit and cancel --------------------------------------------------------------------------


@pytest.fixture
def reserved(sync_sandbox, people):
    schedule(as_user(people["teacher"].user), people["class"])
    return Living.objects.get(status=Living.Status.RESERVED)


def test_the_host_changes_a_reserved_lesson_in_wecom(sync_sandbox, people, reserved):
    client = as_user(people["teacher"].user)
    url = reverse("lessons:edit", args=[reserved.livingid])
    assert 'value="网页安排：认识钟表"' in client.get(url).content.decode()
    response = client.post(url, lesson_form(people["class"], theme="数学：认识时间", at="10:00"))
    assert response.status_code == 302
    wecom = sync_sandbox.state.school.livings[reserved.livingid]
    reserved.refresh_from_db()
    assert wecom.theme == reserved.theme == "数学：认识时间"
    assert timezone.localtime(reserved.living_start, timezone.get_default_timezone()).hour == 10
    assert wecom.living_start == int(reserved.living_start.timestamp())


def test_an_edit_with_a_long_theme_changes_nothing(sync_sandbox, people, reserved):
    url = reverse("lessons:edit", args=[reserved.livingid])
    response = as_user(people["teacher"].user).post(
        url, lesson_form(people["class"], theme="长" * 21)
    )
    assert response.status_code == 200
    assert sync_sandbox.state.school.livings[reserved.livingid].theme == THEME


def test_cancel_needs_the_confirmation_then_cancels_in_wecom(sync_sandbox, people, reserved):
    client = as_user(people["teacher"].user)
    url = reverse("lessons:cancel", args=[reserved.livingid])
    assert client.get(url).status_code == 405
    client.post(url)
    assert not sync_sandbox.state.school.livings[reserved.livingid].cancelled
    response = client.post(url, {"confirm": "yes"})
    assert response.status_code == 302
    assert sync_sandbox.state.school.livings[reserved.livingid].cancelled
    reserved.refresh_from_db()
    assert reserved.status == Living.Status.CANCELLED
    home = client.get(reverse("dashboard:home")).content.decode()
    assert reserved.livingid not in home
    page = client.get(reverse("dashboard:living", args=[reserved.livingid])).content.decode()
    assert 'data-state="cancelled"' in page and 'id="edit-lesson-link"' not in page
    # Once cancelled, the edit page sends the teacher back to the lesson.
    assert client.get(reverse("lessons:edit", args=[reserved.livingid])).status_code == 302


def test_cancelling_a_lesson_wecom_already_started_says_so(sync_sandbox, people, reserved):
    sync_sandbox.state.start_living_now(reserved.livingid)
    client = as_user(people["teacher"].user)
    response = client.post(
        reverse("lessons:cancel", args=[reserved.livingid]), {"confirm": "yes"}, follow=True
    )
    assert "already started or was cancelled" in response.content.decode()
    reserved.refresh_from_db()
    assert reserved.status == Living.Status.RESERVED


def test_a_teacher_of_another_class_cannot_edit_cancel_or_start(sync_sandbox, people, reserved):
    client = as_user(people["other"].user)
    for name, method in (
        ("lessons:edit", "get"),
        ("lessons:edit", "post"),
        ("lessons:cancel", "post"),
        ("lessons:started", "post"),
        ("lessons:state", "get"),
    ):
        url = reverse(name, args=[reserved.livingid])
        assert getattr(client, method)(url, {"confirm": "yes"}).status_code == 404, name
    assert not sync_sandbox.state.school.livings[reserved.livingid].cancelled


# --- starting from the phone ------------------------------------------------------------------


def test_the_host_reports_a_start_and_wecoms_start_makes_it_live(sync_sandbox, people, reserved):
    client = as_user(people["teacher"].user)
    state_url = reverse("lessons:state", args=[reserved.livingid])
    assert client.get(state_url).json() == {
        "state": "upcoming",
        "display": "upcoming",
        "status": Living.Status.RESERVED,
        "synced_at": None,
    }
    sync_sandbox.state.start_by_jssdk(
        userid=people["teacher"].userid, params={"livingId": reserved.livingid}
    )
    answer = client.post(reverse("lessons:started", args=[reserved.livingid])).json()
    assert answer["changed"] is True and answer["state"] == "live"
    # Live by WeCom's start time, read from WeCom; only WeCom's callback changes the status.
    assert answer["status"] == Living.Status.RESERVED
    assert SyncRun.objects.filter(livingid=reserved.livingid, kind=SyncRun.Kind.LIVING).exists()
    assert client.get(state_url).json()["state"] == "live"
    # Reported twice: nothing changes the second time.
    again = client.post(reverse("lessons:started", args=[reserved.livingid])).json()
    assert again["changed"] is False


def test_only_the_host_reports_a_start(sync_sandbox, people, reserved):
    teacher = Teacher.objects.create(school=default_school(), userid="colleague", name="同事")
    teacher.user = get_user_model().objects.create_user(username="colleague")
    teacher.save()
    ClassAssignment.objects.create(
        school=default_school(),
        teacher=teacher,
        department=people["class"],
        role=ClassAssignment.Role.SUBJECT,
    )
    response = as_user(teacher.user).post(reverse("lessons:started", args=[reserved.livingid]))
    assert response.status_code == 400
    reserved.refresh_from_db()
    assert reserved.status == Living.Status.RESERVED


def test_start_now_records_the_new_lesson_with_its_class(sync_sandbox, people):
    teacher, klass = people["teacher"], people["class"]
    started = sync_sandbox.state.start_by_jssdk(
        userid=teacher.userid,
        params={"liveType": 2, "theme": "现在开课", "departmentIds": [klass.wecom_id]},
    )
    url = reverse("lessons:class_started", args=[klass.wecom_id])
    data = {"livingid": started.livingid, "theme": "现在开课"}
    assert as_user(people["other"].user).post(url, data).status_code == 404
    assert not Living.objects.filter(livingid=started.livingid).exists()

    answer = as_user(teacher.user).post(url, data).json()
    assert answer["url"] == reverse("dashboard:living", args=[started.livingid])
    living = Living.objects.get(livingid=started.livingid)
    # Confirmed with WeCom (tests/test_lessons_trust.py): live by WeCom's start time.
    assert answer["state"] == "live" and living.anchor_userid == teacher.userid
    assert living.status is None  # no callback yet
    assert list(living.classes.all()) == [klass] == list(living.planned_classes.all())
    assert SyncRun.objects.filter(livingid=started.livingid).count() == 1


def test_start_now_cannot_claim_a_lesson_of_another_class(sync_sandbox, people):
    theirs = Living.objects.create(school=default_school(), livingid="lv-theirs", theme="二班")
    theirs.classes.set([people["other_class"]])
    url = reverse("lessons:class_started", args=[people["class"].wecom_id])
    response = as_user(people["teacher"].user).post(url, {"livingid": "lv-theirs"})
    assert response.status_code == 404
    assert list(theirs.classes.all()) == [people["other_class"]]
    assert not theirs.planned_classes.exists()


def test_the_class_page_offers_start_now_and_scheduling(sync_sandbox, people, settings):
    settings.WECOM_JSSDK_URL = f"{sync_sandbox.url}/sandbox/ww.js"
    client = as_user(people["teacher"].user)
    page = client.get(reverse("dashboard:class", args=[people["class"].wecom_id])).content.decode()
    assert f'href="/lessons/new/?class={people["class"].wecom_id}"' in page
    assert 'id="start-class-button"' in page and 'maxlength="20"' in page
    assert f'src="{settings.WECOM_JSSDK_URL}"' in page
    assert f'data-wecom-userid="{people["teacher"].userid}"' in page
    settings.WECOM_JSSDK_URL = ""
    page = client.get(reverse("dashboard:class", args=[people["class"].wecom_id])).content.decode()
    assert "vendor/wecom-jssdk/wecom.global.prod.js" in page


def test_the_living_page_names_planned_classes_that_differ_from_wecoms_range(
    sync_sandbox, people, reserved
):
    reserved.classes.set([people["other_class"]])
    page = as_user(people["teacher"].user).get(
        reverse("dashboard:living", args=[reserved.livingid])
    )
    note = page.content.decode().split('id="plan-note"')[1].split("</p>")[0]
    assert people["class"].name in note and people["other_class"].name in note


# --- the sandbox's stand-in ww ----------------------------------------------------------------


def test_the_sandbox_serves_the_stand_in_ww_with_cors(sync_sandbox):
    script = requests.get(f"{sync_sandbox.url}/sandbox/ww.js", timeout=5)
    assert script.status_code == 200 and "startLiving" in script.text
    assert script.headers["Access-Control-Allow-Origin"] == "*"
    for path in ("/sandbox/jssdk/verify", "/sandbox/jssdk/startLiving"):
        preflight = requests.options(
            f"{sync_sandbox.url}{path}",
            headers={
                "Origin": "http://127.0.0.1:8000",
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "content-type",
            },
            timeout=5,
        )
        assert preflight.status_code == 204, path
        assert "POST" in preflight.headers["Access-Control-Allow-Methods"]
        assert "Content-Type" in preflight.headers["Access-Control-Allow-Headers"]


def test_the_sandbox_verifies_signatures_against_the_tickets_it_issued(sync_sandbox, people):
    url = "http://127.0.0.1:8000/livings/lv1/?x=1"
    with WeComClient.from_settings() as client:
        store = TicketStore(client)
        signed = {kind: store.sign(url, kind=kind).as_json() for kind in (CORP, AGENT)}

    def verify(kind, **change):
        body = {"kind": kind, "url": url, **signed[kind], **change}
        return requests.post(f"{sync_sandbox.url}/sandbox/jssdk/verify", json=body, timeout=5)

    assert verify("corp").json()["ok"] is True
    assert verify("agent").json()["ok"] is True
    assert verify("agent").headers["Access-Control-Allow-Origin"] == "*"
    # The corp signature is not the app's, another URL is another signature, and a forgery fails.
    assert verify("agent", signature=signed["corp"]["signature"]).json()["ok"] is False
    assert verify("corp", url="http://127.0.0.1:8000/elsewhere/").json()["ok"] is False
    forged = jsapi_signature(ticket="guess", noncestr="n", timestamp=1, url=url)
    assert verify("corp", signature=forged).json()["ok"] is False


def test_the_pages_load_no_inline_script(sync_sandbox, people, reserved):
    client = as_user(people["teacher"].user)
    for url in (
        reverse("dashboard:living", args=[reserved.livingid]),
        reverse("dashboard:class", args=[people["class"].wecom_id]),
        reverse("lessons:new"),
        reverse("lessons:edit", args=[reserved.livingid]),
    ):
        body = client.get(url).content.decode()
        inline = re.findall(r"<script(?![^>]*\bsrc=)(?![^>]*application/json)[^>]*>", body)
        assert inline == [], url


def test_departments_named_in_wecom_are_escaped_on_the_schedule_form(sync_sandbox, people):
    Department.objects.filter(pk=people["class"].pk).update(name="<b>一班</b>")
    page = as_user(people["teacher"].user).get(reverse("lessons:new")).content.decode()
    assert "<b>一班" not in page and "&lt;b&gt;一班" in page


def test_reserved_is_said_only_until_the_clock_has_the_lesson_started(
    sync_sandbox, people, reserved, clock_at
):
    """WeCom's school living info has no status: "reserved" from our creation goes stale at the
    start, and a live page must not say 预约中 beside its roll call."""
    from school_live.lessons.pages import lesson_side

    host = people["teacher"].user
    assert lesson_side(host, reserved).wecom_status_label != ""
    clock_at(reserved.living_start + dt.timedelta(minutes=1))
    side = lesson_side(host, reserved)
    assert side.wecom_status == Living.Status.RESERVED
    assert side.wecom_status_label == ""
