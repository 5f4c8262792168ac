"""A teacher acts only on what WeCom confirms is theirs (issue 19, findings 1, 3 and 7).

- A lesson the phone reports as started counts only once WeCom's get_living_info says it exists,
  this app can read it, this teacher hosts it and it has not ended. A made-up, foreign or hostile
  id is refused with nothing live; when WeCom cannot be asked, the report waits (and is not a
  lesson) until a task confirms it.
- Only the host and the school's admins change or cancel a lesson; anyone else who sees it gets a
  404, GET and POST alike, and no link to it.
- No integer a browser sends to the lessons pages is a 500.

Against the sandbox as a real server (tests/fixtures/sandbox.py), with its roster synced: two
classes (3 and 4), a 班主任 each, and two subject teachers who teach both.
"""

import datetime as dt

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from school_live.attendance import state
from school_live.lessons.services import LessonPlan, lesson_schedule
from school_live.school.models import ClassAssignment, Department, Living, SyncRun, Teacher
from school_live.school.tenancy import default_school
from school_live.sync.roster import roster_sync
from school_live.wecom.errors import WeComError
from tests.fixtures.sandbox import ended_livingid, foreign_livingid

pytestmark = pytest.mark.usefixtures("english")

LIVING_INFO = "/cgi-bin/school/living/get_living_info"
OVERFLOWS = ("99999999999999999999999", "9223372036854775808", "-9223372036854775809")


@pytest.fixture
def staff(sync_sandbox, sync_client, settings):
    """The sandbox's roster: the 班主任 of each class, a teacher of both who hosts the joint
    lesson, another subject teacher of both, and an admin."""
    settings.WECOM_AGENT_ID = sync_sandbox.state.agent_id
    roster_sync(school=default_school(), client=sync_client)
    class_one, class_two = Department.objects.filter(type=Department.Type.CLASS).order_by("pk")
    heads = {
        a.department_id: a.teacher
        for a in ClassAssignment.objects.filter(role=ClassAssignment.Role.HEAD).select_related(
            "teacher__user"
        )
    }
    both = [
        t
        for t in Teacher.objects.select_related("user").order_by("userid")
        if set(t.assignments.values_list("department_id", flat=True))
        >= {class_one.pk, class_two.pk}
    ]
    admin = get_user_model().objects.create_superuser(username="admin", password="x" * 12)
    return {
        "class_one": class_one,
        "class_two": class_two,
        "head_one": heads[class_one.pk],
        "head_two": heads[class_two.pk],
        "host": both[0],
        "subject": both[1],
        "admin": admin,
    }


def reports():
    # Imported here, so that each test fails on its own against the code before issue 19.
    from school_live.lessons.models import LessonStartReport

    return LessonStartReport


def as_user(user) -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(user)
    return client


def class_started(teacher, klass, livingid, theme="现在开课"):
    url = reverse("lessons:class_started", args=[klass.wecom_id])
    return as_user(teacher.user).post(url, {"livingid": livingid, "theme": theme})


def phone_start(sandbox, teacher, klass, theme="数学：认识钟表"):
    """What ww.startLiving does on the teacher's phone: a living WeCom knows, live from now."""
    return sandbox.state.start_by_jssdk(
        userid=teacher.userid,
        params={"liveType": 2, "theme": theme, "departmentIds": [klass.wecom_id]},
    )


# --- finding 1: nothing the browser sends is a WeCom fact -----------------------------------------


def test_a_made_up_livingid_is_refused_and_nothing_is_live(sync_sandbox, staff):
    response = class_started(staff["head_one"], staff["class_one"], "lvProbeFakeLivingId000000001")
    assert response.status_code == 400
    assert "WeCom" in response.json()["error"]
    assert not Living.objects.exists()
    assert not SyncRun.objects.filter(kind=SyncRun.Kind.LIVING).exists()
    # Kept for the admin, with WeCom's reason.
    report = reports().objects.get()
    assert report.state == reports().State.REFUSED and "92008" in report.reason


def test_another_apps_lesson_is_refused(sync_sandbox, staff):
    livingid = foreign_livingid(sync_sandbox.state)
    response = class_started(staff["head_one"], staff["class_one"], livingid)
    assert response.status_code == 400
    assert not Living.objects.filter(livingid=livingid).exists()


def test_another_teachers_real_lesson_is_refused(sync_sandbox, staff):
    theirs = phone_start(sync_sandbox, staff["head_two"], staff["class_two"])
    response = class_started(staff["host"], staff["class_two"], theirs.livingid)
    assert response.status_code == 400
    assert "host" in response.json()["error"]
    assert not Living.objects.filter(livingid=theirs.livingid).exists()
    report = reports().objects.get(livingid=theirs.livingid)
    assert report.state == reports().State.REFUSED


def test_an_ended_lesson_of_the_teacher_is_refused(sync_sandbox, staff):
    livingid = ended_livingid(sync_sandbox.state)
    anchor = Teacher.objects.get(userid=sync_sandbox.state.living(livingid).anchor_userid)
    klass = anchor.assignments.first().department
    response = class_started(anchor, klass, livingid)
    assert response.status_code == 400
    assert "ended" in response.json()["error"]
    assert not Living.objects.filter(livingid=livingid).exists()


def test_a_lesson_the_teacher_just_started_is_live_with_wecoms_facts(sync_sandbox, staff):
    teacher, klass = staff["head_one"], staff["class_one"]
    started = phone_start(sync_sandbox, teacher, klass, theme="数学：认识钟表")
    response = class_started(teacher, klass, started.livingid, theme="the browser's words")
    assert response.status_code == 200
    answer = response.json()
    assert answer["state"] == "live"
    assert answer["url"] == reverse("dashboard:living", args=[started.livingid])
    living = Living.objects.get(livingid=started.livingid)
    assert living.theme == "数学：认识钟表"  # WeCom's, not what the browser said
    assert living.anchor_userid == teacher.userid
    assert int(living.living_start.timestamp()) == started.living_start
    assert list(living.planned_classes.all()) == [klass]
    assert state.living_state(living) == state.LivingState.LIVE
    assert SyncRun.objects.filter(livingid=started.livingid).count() == 1
    report = reports().objects.get()
    assert report.state == reports().State.CONFIRMED
    # Reported again: the same lesson, nothing new.
    again = class_started(teacher, klass, started.livingid)
    assert again.status_code == 200 and Living.objects.count() == 1


def test_a_lesson_whose_length_wecom_does_not_know_yet_is_live(sync_sandbox, staff):
    # api.md §12 leaves unverified what get_living_info says of a lesson started from the phone
    # while it is live: with a living_duration of 0 it is live for now, not ended.
    teacher, klass = staff["head_one"], staff["class_one"]
    started = phone_start(sync_sandbox, teacher, klass)
    sync_sandbox.state.start_living_now(started.livingid, duration=0)
    response = class_started(teacher, klass, started.livingid)
    assert response.status_code == 200 and response.json()["state"] == "live"
    living = Living.objects.get(livingid=started.livingid)
    assert living.living_duration >= 45 * 60


def test_when_wecom_is_busy_the_report_waits_and_is_not_a_lesson_until_confirmed(
    sync_sandbox, staff
):
    teacher, klass = staff["head_one"], staff["class_one"]
    started = phone_start(sync_sandbox, teacher, klass)
    sync_sandbox.state.inject_errcode(LIVING_INFO, 45009, times=1)
    response = class_started(teacher, klass, started.livingid)
    assert response.status_code == 202
    answer = response.json()
    assert answer["state"] == "waiting"
    assert "not confirmed" in answer["message"]
    assert not Living.objects.filter(livingid=started.livingid).exists()
    report = reports().objects.get()
    assert report.state == reports().State.WAITING and report.department == klass

    from school_live.lessons.tasks import start_report_confirm_task

    start_report_confirm_task.apply(args=[report.pk])

    report.refresh_from_db()
    assert report.state == reports().State.CONFIRMED
    living = Living.objects.get(livingid=started.livingid)
    assert state.living_state(living) == state.LivingState.LIVE
    assert list(living.planned_classes.all()) == [klass]


def test_the_sandbox_answers_get_living_info_only_for_this_apps_livings(
    sync_sandbox, sync_client, staff
):
    started = phone_start(sync_sandbox, staff["head_one"], staff["class_one"])
    info = sync_client.get_living_info(started.livingid)
    assert (info.anchor_userid, info.partyids) == (
        staff["head_one"].userid,
        (staff["class_one"].wecom_id,),
    )
    created = sync_client.create_living(
        anchor_userid=staff["host"].userid,
        theme="预约课",
        living_start=sync_sandbox.state.clock() + 3600,
        living_duration=1800,
    )
    assert sync_client.get_living_info(created).living_start > sync_sandbox.state.clock()
    # WeCom does not tell a made-up id from another app's: 92008 for both (api.md §0, §12).
    for livingid in ("lvMadeUp0001", foreign_livingid(sync_sandbox.state)):
        with pytest.raises(WeComError) as refused:
            sync_client.get_living_info(livingid)
        assert refused.value.errcode == 92008 and not refused.value.transient


def test_a_hostile_livingid_is_a_400_and_the_home_page_still_loads(sync_sandbox, staff):
    teacher = staff["head_one"]
    for livingid in ("<script>alert(1)</script>", "a/b", "x" * 129, "lv 1"):
        response = class_started(teacher, staff["class_one"], livingid)
        assert response.status_code == 400, livingid
    assert not Living.objects.exists()
    assert not reports().objects.exists()
    assert as_user(teacher.user).get(reverse("dashboard:home")).status_code == 200


@pytest.fixture
def reserved(sync_sandbox, sync_client, staff):
    """A joint lesson of both classes, hosted by a teacher of both, the day after tomorrow."""
    start = (
        timezone.localtime(timezone.now(), timezone.get_default_timezone()) + dt.timedelta(days=2)
    ).replace(hour=9, minute=30, second=0, microsecond=0)
    plan = LessonPlan(
        teacher=staff["host"],
        classes=(staff["class_one"], staff["class_two"]),
        start=start,
        minutes=40,
        theme="联合课：认识钟表",
    )
    series = lesson_schedule(client=sync_client, plan=plan, source="web")
    return series.occurrences.get().living


def test_a_reserved_lesson_reported_started_is_not_live_until_wecom_says_so(
    sync_sandbox, staff, reserved
):
    client = as_user(staff["host"].user)
    url = reverse("lessons:started", args=[reserved.livingid])
    # Not started in WeCom: the browser's word changes nothing.
    answer = client.post(url).json()
    assert answer["state"] == "upcoming" and answer["changed"] is False
    reserved.refresh_from_db()
    assert reserved.status == Living.Status.RESERVED
    assert state.living_state(reserved) == state.LivingState.UPCOMING
    # Started on the phone: WeCom's start time makes it live.
    sync_sandbox.state.start_by_jssdk(
        userid=staff["host"].userid, params={"livingId": reserved.livingid}
    )
    answer = client.post(url).json()
    assert answer["state"] == "live" and answer["changed"] is True
    reserved.refresh_from_db()
    assert reserved.status == Living.Status.RESERVED  # only WeCom's callback sets a status
    assert state.living_state(reserved) == state.LivingState.LIVE


def test_a_reserved_lesson_reported_while_wecom_is_busy_waits_for_the_sync(
    sync_sandbox, staff, reserved
):
    sync_sandbox.state.start_by_jssdk(
        userid=staff["host"].userid, params={"livingId": reserved.livingid}
    )
    sync_sandbox.state.inject_errcode(LIVING_INFO, 45009, times=1)
    response = as_user(staff["host"].user).post(
        reverse("lessons:started", args=[reserved.livingid])
    )
    assert response.status_code == 202
    assert response.json()["state"] == "waiting"
    reserved.refresh_from_db()
    assert state.living_state(reserved) == state.LivingState.UPCOMING
    assert SyncRun.objects.filter(livingid=reserved.livingid).exists()


def test_the_admin_lists_refused_reports_read_only(sync_sandbox, staff):
    class_started(staff["head_one"], staff["class_one"], "lvMadeUp0001")
    client = as_user(staff["admin"])
    listing = client.get(reverse("admin:lessons_lessonstartreport_changelist"))
    assert listing.status_code == 200 and "lvMadeUp0001" in listing.content.decode()
    report = reports().objects.get()
    assert client.get(reverse("admin:lessons_lessonstartreport_add")).status_code == 403
    change = reverse("admin:lessons_lessonstartreport_change", args=[report.pk])
    client.post(change, {"state": "confirmed"})
    report.refresh_from_db()
    assert report.state == reports().State.REFUSED


# --- finding 3: only the host and admins change a lesson ------------------------------------------


def _edit_data(living, theme="改过的主题"):
    start = timezone.localtime(living.living_start, timezone.get_default_timezone()) + dt.timedelta(
        hours=1
    )
    return {
        "theme": theme,
        "date": start.date().isoformat(),
        "time": start.strftime("%H:%M"),
        "minutes": "30",
        "living_type": "2",
        "remind_minutes": "0",
    }


@pytest.mark.parametrize("who", ["head_two", "subject"])
def test_a_teacher_who_only_sees_a_lesson_cannot_change_or_cancel_it(
    sync_sandbox, staff, reserved, who
):
    client = as_user(staff[who].user)
    page = client.get(reverse("dashboard:living", args=[reserved.livingid]))
    assert page.status_code == 200  # they see it …
    assert 'id="edit-lesson-link"' not in page.content.decode()  # … with no way to change it
    edit = reverse("lessons:edit", args=[reserved.livingid])
    assert client.get(edit).status_code == 404
    assert client.post(edit, _edit_data(reserved)).status_code == 404
    cancel = reverse("lessons:cancel", args=[reserved.livingid])
    assert client.post(cancel, {"confirm": "yes"}).status_code == 404
    wecom = sync_sandbox.state.living(reserved.livingid)
    assert wecom.theme == "联合课：认识钟表" and not wecom.cancelled


@pytest.mark.parametrize("who", ["host", "admin"])
def test_the_host_and_the_admin_change_and_cancel_a_lesson(sync_sandbox, staff, reserved, who):
    user = staff[who] if who == "admin" else staff[who].user
    client = as_user(user)
    page = client.get(reverse("dashboard:living", args=[reserved.livingid])).content.decode()
    assert 'id="edit-lesson-link"' in page
    edit = reverse("lessons:edit", args=[reserved.livingid])
    assert client.get(edit).status_code == 200
    assert client.post(edit, _edit_data(reserved)).status_code == 302
    assert sync_sandbox.state.living(reserved.livingid).theme == "改过的主题"
    cancel = reverse("lessons:cancel", args=[reserved.livingid])
    assert client.post(cancel, {"confirm": "yes"}).status_code == 302
    assert sync_sandbox.state.living(reserved.livingid).cancelled


# --- finding 7: no integer from the browser is a 500 ----------------------------------------------


@pytest.mark.parametrize("value", OVERFLOWS)
def test_a_huge_or_negative_class_id_is_a_form_error_or_a_404(sync_sandbox, staff, value):
    teacher, admin = as_user(staff["head_one"].user), as_user(staff["admin"])
    form = {
        "theme": "测试",
        "date": "2031-01-06",
        "time": "09:00",
        "minutes": "40",
        "living_type": "2",
        "remind_minutes": "0",
        "classes": [value],
    }
    for client in (teacher, admin):
        response = client.post(reverse("lessons:new"), {**form, "teacher": value})
        assert response.status_code == 200
        assert "errorlist" in response.content.decode()
        assert client.get(f"{reverse('lessons:new')}?class={value}").status_code == 404
    if not value.startswith("-"):
        url = f"/lessons/classes/{value}/started/"
        assert teacher.post(url, {"livingid": "lvAny"}).status_code == 404
    assert not Living.objects.exists()
