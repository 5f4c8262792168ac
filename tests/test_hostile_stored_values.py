"""No stored value can break a page for someone else (issue 19, finding 2).

A hostile value that reached the database — a livingid ``<script>alert(1)</script>`` stored by a
start report, a student userid with a ``/`` from WeCom, a teacher's name with template syntax —
once made ``GET /`` a 500 (``NoReverseMatch``) for every teacher of the class and every admin.

Here hostile values are written straight into every text and id field that WeCom or a user can
fill (through the ORM, past every check), and every page is loaded as every role: anonymous, the
subject teacher, the 班主任, a teacher whose own userid and name are hostile, and an admin. No page
answers a 5xx, and no payload reaches an HTML page unescaped. A link to a lesson or student whose
id has a hostile shape cannot resolve: following it is a 404, not someone else's page.
"""

import datetime as dt
import io

import openpyxl
import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from school_live.corrections.models import Excuse, NicknameClaim
from school_live.lessons.models import LessonOccurrence, LessonSeries
from school_live.reminders.models import Reminder, ReminderStudent
from school_live.school.models import (
    ClassAssignment,
    Department,
    Parent,
    StudentUnwatch,
    SyncRun,
    Teacher,
    VisitorWatch,
)
from school_live.school.tenancy import default_school
from school_live.wecom import ids
from tests.fixtures.attendance import make_living, make_student, watch
from tests.fixtures.security import markup_in
from tests.test_security import _fast_passwords  # noqa: F401 (an autouse fixture)

SCRIPT = "<script>alert(1)</script>"
# Ids and text of every hostile shape: markup, path tricks, template syntax, bidi marks, quotes,
# spaces and query characters, non-ASCII, a NUL-free oddity, and longer than any column.
HOSTILE = (
    SCRIPT,
    "a/b",
    "../../x",
    "\u202eevil\u202c\u200f",
    "{{ request.user.password }}",
    "{% debug %}",
    "%2F..%2Fadmin",
    "a b?c=1#d",
    "' OR 1=1 --\\",
    "直播课一",
    "!",
    "x" * 400,
)
# What must never reach an HTML page: the script unescaped, or what template syntax in a value
# would show if it were ever rendered as a template (a password hash: the tests hash with MD5).
RAW = (SCRIPT, "md5$")


def clip(value: str, size: int) -> str:
    return value[:size]


@pytest.fixture
def hostile_stored(hostile_school, subject_teacher):
    """hostile_school (WeCom text with markup) plus a hostile value in every id and text field."""
    w = hostile_school
    w.subject = subject_teacher
    now = timezone.now()
    for department, value in ((w.class_one.parent, HOSTILE[3]), (w.class_two, HOSTILE[4])):
        department.name = value
        department.save(update_fields=["name"])
    Department.objects.filter(pk=w.class_one.parent.parent_id).update(name=SCRIPT)

    hostile_user = get_user_model().objects.create_user(username="hostile-teacher")
    w.hostile_teacher = Teacher.objects.create(
        school=default_school(), userid="a/b", name=SCRIPT, user=hostile_user
    )
    ClassAssignment.objects.create(
        school=default_school(),
        teacher=w.hostile_teacher,
        department=w.class_one,
        role=ClassAssignment.Role.SUBJECT,
        subject="{{ x }}<script>alert(1)</script>",
    )
    for value in HOSTILE:
        Teacher.objects.create(
            school=default_school(), userid=clip(value, 63) + "t", name=clip(value, 100)
        )

    w.hostile_livings = []
    w.hostile_students = []
    starts = {1: now - dt.timedelta(minutes=10), 2: now + dt.timedelta(hours=2)}  # live, upcoming
    for index, value in enumerate(HOSTILE):
        student = make_student(
            clip(value, 64),
            clip(value, 100),
            classes=[w.class_one],
            parents=[(clip(value, 63) + "p", clip(value, 32), True)],
        )
        w.hostile_students.append(student)
        living = make_living(
            clip(value, 128),
            classes=[w.class_one],
            start=starts.get(index, w.living.living_start + dt.timedelta(days=index)),
            anchor=clip(value, 64),
            theme=clip(value, 255),
        )
        living.range_group_names = [value]
        living.stats_complete = index not in starts
        living.save(update_fields=["range_group_names", "stats_complete"])
        w.hostile_livings.append(living)
        watch(living, student.student_userid, seconds=600, enter=0, leave=10, parent=value[:64])
        watch(w.living, student.student_userid, seconds=60 * index, enter=1, leave=2)
        StudentUnwatch.objects.create(
            school=default_school(),
            living=living,
            student_userid="s_absent",
            parent_userid=clip(value, 64),
            partyids=[3],
        )
        VisitorWatch.objects.create(
            school=default_school(),
            living=living,
            position=index,
            nickname=value,
            watch_time=60,
            enter_time=living.living_start,
            leave_time=living.living_start + dt.timedelta(minutes=1),
        )
        VisitorWatch.objects.create(
            school=default_school(),
            living=w.living,
            position=index + 1,
            nickname=value,
            watch_time=60,
            enter_time=w.living.living_start,
            leave_time=w.living.living_start + dt.timedelta(minutes=1),
        )
        Excuse.objects.create(
            school=default_school(),
            student=student if index % 2 else w.student,
            living=living if index % 3 else None,
            start_date=None if index % 3 else living.living_start.date(),
            end_date=None if index % 3 else living.living_start.date(),
            kind=Excuse.Kind.OTHER,
            reason=clip(value, 200),
            created_by=w.head.user,
        )
        NicknameClaim.objects.create(
            school=default_school(),
            department=w.class_one,
            nickname=value,
            student=student,
            reason=clip(value, 200),
            created_by=w.head.user,
        )
        reminder = Reminder.objects.create(
            school=default_school(),
            living=living,
            department=w.class_one,
            kind="manual",
            status="sent",
            sent_at=now,
            sender=w.head.user,
            text=value,
            parent_userids=[value],
            invalid_parent_userids=[value],
            invalid_student_userids=[value],
            invalid_parties=[value],
            error=value,
        )
        ReminderStudent.objects.create(
            school=default_school(),
            reminder=reminder,
            living=living,
            student_userid=clip(value, 64),
            name=clip(value, 100),
            parent_userids=[value],
        )
        SyncRun.objects.create(
            school=default_school(),
            kind=SyncRun.Kind.LIVING,
            livingid=clip(value, 128),
            living=living,
            error=value,
        )
        series = LessonSeries.objects.create(
            school=default_school(),
            teacher=w.head,
            theme=clip(value, 20),
            first_start=living.living_start,
            minutes=45,
            source=LessonSeries.Source.WEB,
        )
        series.classes.set([w.class_one])
        LessonOccurrence.objects.create(
            school=default_school(),
            series=series,
            index=0,
            key=f"hostile-{index}",
            start=living.living_start,
            state=LessonOccurrence.State.FAILED,
            living=living,
            error=value,
        )
    Parent.objects.filter(parent_userid="p_hostile").update(
        mobile=SCRIPT[:32], external_userid="a/b"
    )
    # A lesson of a valid id, hosted by the hostile teacher, still ahead: its edit page opens.
    w.ahead = make_living(
        "lv-hostile-ahead",
        classes=[w.class_one],
        start=now + dt.timedelta(days=1),
        anchor="a/b",
        theme=SCRIPT,
        synced=False,
    )
    return w


def roles(w) -> dict[str, object]:
    return {
        "anonymous": None,
        "subject teacher": w.subject.user,
        "班主任": w.head.user,
        "hostile teacher": w.hostile_teacher.user,
        "admin": w.admin,
    }


def site_urls(w) -> list[str]:
    """Every page of the site that shows the hostile values, for one class."""
    class_url = reverse("dashboard:class", args=[w.class_one.wecom_id])
    urls = [
        reverse("dashboard:home"),
        class_url,
        f"{class_url}?start=2026-01-01&end=2026-12-31",
        reverse("lessons:new"),
        reverse("lessons:new") + f"?class={w.class_one.wecom_id}",
        reverse("reports:preferences"),
        reverse("lessons:edit", args=[w.ahead.livingid]),
        reverse("lessons:state", args=[w.ahead.livingid]),
        reverse("dashboard:living", args=[w.ahead.livingid]),
        reverse("reminders:confirm", args=[w.living.livingid, w.class_one.wecom_id]),
        reverse("reminders:confirm", args=[w.ahead.livingid, w.class_one.wecom_id]),
    ]
    for fmt in ("csv", "xlsx"):
        export = reverse("dashboard:class_export", args=[w.class_one.wecom_id, fmt])
        urls += [export, f"{export}?living={w.living.livingid}", f"{export}?start=2026-01-01"]
    living_url = reverse("dashboard:living", args=[w.living.livingid])
    urls += [living_url, f"{living_url}?class={w.class_one.wecom_id}"]
    urls.append(reverse("dashboard:rollcall", args=[w.living.livingid]))
    urls.append(f"{class_url}?living={w.living.livingid}")
    for student in (w.student, w.formula, w.absent):
        urls.append(reverse("dashboard:student", args=[student.student_userid]))
    for reminder in Reminder.objects.order_by("pk"):
        urls.append(reverse("reminders:detail", args=[reminder.pk]))
    # The links to the hostile rows themselves: they reverse, and lead nowhere (a 404).
    for living in w.hostile_livings:
        urls += [
            reverse("dashboard:living", args=[living.livingid]),
            reverse("dashboard:rollcall", args=[living.livingid]),
            reverse("lessons:edit", args=[living.livingid]),
            reverse("lessons:state", args=[living.livingid]),
            reverse("reminders:confirm", args=[living.livingid, w.class_one.wecom_id]),
        ]
    for student in w.hostile_students:
        urls.append(reverse("dashboard:student", args=[student.student_userid]))
    return urls


def admin_urls() -> list[str]:
    urls = []
    for model, model_admin in admin.site._registry.items():
        info = (model._meta.app_label, model._meta.model_name)
        urls.append(reverse("admin:{}_{}_changelist".format(*info)))
        urls.append(reverse("admin:{}_{}_changelist".format(*info)) + "?q=" + "%3Cscript%3E")
        for pk in model.objects.order_by("pk").values_list("pk", flat=True)[:40]:
            urls.append(reverse("admin:{}_{}_change".format(*info), args=[pk]))
            if getattr(model_admin, "object_history_template", None) or hasattr(model, "history"):
                urls.append(reverse("admin:{}_{}_history".format(*info), args=[pk]))
    return urls


def assert_safe(url: str, response) -> None:
    assert response.status_code < 500, (url, response.status_code)
    kind = response.get("Content-Type", "")
    if response.status_code == 200 and kind.startswith("text/html"):
        body = response.content.decode()
        assert [raw for raw in RAW if raw in body] == [], url
        assert markup_in(body) == [], url
    if response.status_code == 200 and "spreadsheetml" in kind:
        openpyxl.load_workbook(io.BytesIO(response.content))  # a valid workbook


def test_every_hostile_value_is_stored(hostile_stored):
    """The fixture really holds what the test claims: ids no check of today would let in."""
    w = hostile_stored
    stored = [living.livingid for living in w.hostile_livings]
    assert SCRIPT in stored and "a/b" in stored and "../../x" in stored
    assert not any(ids.livingid_valid(livingid) for livingid in stored[:-2])
    assert [s for s in w.hostile_students if not ids.userid_valid(s.student_userid)]


@pytest.mark.parametrize("role", ["anonymous", "subject teacher", "班主任", "hostile teacher"])
def test_no_stored_value_breaks_a_page_of_the_site(hostile_stored, role):
    w = hostile_stored
    client = Client(raise_request_exception=False)
    user = roles(w)[role]
    if user is not None:
        client.force_login(user)
    statuses = {}
    for url in site_urls(w):
        response = client.get(url)
        assert_safe(url, response)
        statuses[url] = response.status_code
    if role == "班主任":
        assert statuses[reverse("dashboard:home")] == 200
        assert statuses[reverse("dashboard:class", args=[w.class_one.wecom_id])] == 200
        living_url = reverse("dashboard:living", args=[SCRIPT])
        assert statuses[living_url] == 404, living_url


@pytest.mark.slow
def test_no_stored_value_breaks_a_page_for_the_admin(hostile_stored):
    w = hostile_stored
    client = Client(raise_request_exception=False)
    client.force_login(w.admin)
    for url in site_urls(w) + admin_urls():
        if url == reverse("reports:preferences"):
            continue  # an admin without a Teacher has no preferences: a 404
        assert_safe(url, client.get(url))
    home = client.get(reverse("dashboard:home")).content.decode()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in home


def test_the_home_page_links_a_hostile_lesson_to_a_page_that_does_not_resolve(hostile_stored):
    """The link is there (the lesson exists), but leads to a 404, never to another lesson."""
    w = hostile_stored
    client = Client(raise_request_exception=False)
    client.force_login(w.head.user)
    response = client.get(reverse("dashboard:home"))
    assert response.status_code == 200
    url = reverse("dashboard:living", args=[SCRIPT])
    assert "/" not in url.removeprefix("/livings/").removesuffix("/")
    assert client.get(url).status_code == 404
    assert client.get(reverse("dashboard:student", args=["a/b"])).status_code == 404
