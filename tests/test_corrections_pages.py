"""请假 on the pages, downloads and reports: who may mark a student excused (a 班主任 or an
admin; anyone else gets a 404), what the class and student pages, the CSV and XLSX, the lesson
email and the weekly digests say once a student is excused."""

import csv
import datetime as dt
import io
import re

import pytest
from django.core import mail
from django.urls import reverse
from openpyxl import load_workbook

from school_live.corrections.models import Excuse
from school_live.corrections.services import ExcuseRequest, excuse_create
from school_live.devtools.roster_builder import build_class
from school_live.reports.dispatch import (
    admin_digests_send,
    living_report_send,
    teacher_digest_send,
)
from school_live.school.models import AttendancePolicy, Student
from school_live.school.tenancy import default_school
from tests.fixtures.attendance import watch
from tests.fixtures.reports import lesson_of, roster_one
from tests.test_dashboard import QUERY_BUDGET

CLASS_ONE = 3
EN = {"HTTP_ACCEPT_LANGUAGE": "en"}


def add_url(userid):
    return reverse("dashboard:excuse_add", args=[userid])


def mark(client, userid, *, follow=False, **data):
    payload = {"living": "", "start": "2026-03-01", "end": "2026-03-03", "kind": "sick"}
    payload.update(data)
    return client.post(add_url(userid), payload, follow=follow, **EN)


# Who may mark ---------------------------------------------------------------------------------


def test_a_head_teacher_marks_a_date_range_and_both_pages_change(
    client, attendance_living, head_teacher
):
    client.force_login(head_teacher.user)
    student_url = reverse("dashboard:student", args=["absent"])
    before = client.get(student_url, **EN).content.decode()
    assert 'id="excuse-form"' in before and 'data-excused="0"' in before

    response = mark(client, "absent", kind="other", reason="市级比赛")

    assert response.status_code == 302 and response["Location"] == student_url
    made = Excuse.objects.get()
    assert (made.start_date, made.end_date, made.created_by) == (
        dt.date(2026, 3, 1),
        dt.date(2026, 3, 3),
        head_teacher.user,
    )
    assert made.history.get().history_user == head_teacher.user  # the middleware said who
    after = client.get(student_url, **EN).content.decode()
    assert 'data-excused="1"' in after and "市级比赛" in after
    assert 'data-verdict="excused"' in after
    class_page = client.get(reverse("dashboard:class", args=[CLASS_ONE]), **EN).content.decode()
    assert 'data-excused="1"' in class_page and 'data-absent="0"' in class_page


def test_one_lesson_can_be_excused_from_the_form(client, attendance_living, head_teacher):
    client.force_login(head_teacher.user)
    mark(client, "absent", living="lv-math", start="", end="")
    assert Excuse.objects.get().living == attendance_living.living


def test_a_bad_form_says_what_to_fix_and_saves_nothing(client, attendance_living, head_teacher):
    client.force_login(head_teacher.user)
    response = mark(client, "absent", start="2026-03-05", end="2026-03-01", follow=True)
    assert response.status_code == 200
    assert "must not be after" in response.content.decode()
    assert not Excuse.objects.exists()


def test_a_subject_teacher_sees_no_form_and_their_post_is_a_404(
    client, attendance_living, subject_teacher
):
    client.force_login(subject_teacher.user)
    page = client.get(reverse("dashboard:student", args=["absent"]), **EN)
    assert page.status_code == 200 and 'id="excuse-form"' not in page.content.decode()
    assert mark(client, "absent").status_code == 404
    assert not Excuse.objects.exists()


def test_a_teacher_of_another_class_and_a_stranger_get_404s(
    client, attendance_living, other_teacher, head_teacher
):
    client.force_login(other_teacher.user)
    assert mark(client, "absent").status_code == 404
    # 蒋二班 is in 一年级二班 only: its 班主任 may, 一年级一班's may not.
    assert mark(client, "second_class").status_code == 302
    client.force_login(head_teacher.user)
    assert mark(client, "second_class").status_code == 404
    assert Excuse.objects.count() == 1


def test_a_get_is_not_a_way_to_mark(client, attendance_living, head_teacher):
    client.force_login(head_teacher.user)
    assert client.get(add_url("absent")).status_code == 405


def test_revoking_keeps_the_excuse_and_shows_its_history(
    client, attendance_living, head_teacher, subject_teacher
):
    client.force_login(head_teacher.user)
    mark(client, "absent")
    made = Excuse.objects.get()
    revoke_url = reverse("dashboard:excuse_revoke", args=["absent", made.pk])

    client.force_login(subject_teacher.user)
    assert client.post(revoke_url, {"why": "x"}).status_code == 404
    client.force_login(head_teacher.user)
    client.post(revoke_url, {"why": "家长记错日期"})

    made.refresh_from_db()
    assert made.revoked_by == head_teacher.user
    page = client.get(reverse("dashboard:student", args=["absent"]), **EN).content.decode()
    assert 'data-active="false"' in page and "家长记错日期" in page
    assert 'data-excused="0"' in page and 'data-absent="1"' in page


def test_an_admin_may_mark_any_student(client, attendance_living, admin_user):
    client.force_login(admin_user)
    assert mark(client, "second_class").status_code == 302


def test_the_student_page_stays_within_the_query_budget_with_excuses(
    client, school, head_teacher, django_assert_max_num_queries
):
    build_class(school["class_one"], students=10, livings=8)
    AttendancePolicy.current(default_school())
    student = Student.objects.filter(enrollments__department=school["class_one"]).first()
    for day in range(3):
        excuse_create(
            request=ExcuseRequest(
                student=student,
                kind=Excuse.Kind.SICK,
                start=dt.date(2026, 3, 1 + day),
                end=dt.date(2026, 3, 1 + day),
            )
        )
    client.force_login(head_teacher.user)
    with django_assert_max_num_queries(QUERY_BUDGET):
        response = client.get(reverse("dashboard:student", args=[student.student_userid]))
    assert response.status_code == 200


# Downloads ------------------------------------------------------------------------------------


def test_csv_and_xlsx_carry_the_excused(client, attendance_living, head_teacher):
    client.force_login(head_teacher.user)
    mark(client, "absent")
    url = reverse("dashboard:class_export", args=[CLASS_ONE, "csv"])
    rows = list(csv.reader(io.StringIO(client.get(url, **EN).content.decode("utf-8-sig"))))
    verdicts = {row[1]: row[2] for row in rows[1:]}
    assert verdicts["absent"] == "excused"
    period = "?start=2026-03-01&end=2026-03-31"
    rows = list(csv.reader(io.StringIO(client.get(url + period, **EN).content.decode("utf-8-sig"))))
    column = rows[0].index("Excused")
    assert {row[1]: row[column] for row in rows[1:]}["absent"] == "1"
    xlsx = reverse("dashboard:class_export", args=[CLASS_ONE, "xlsx"])
    sheet = load_workbook(io.BytesIO(client.get(xlsx + period, **EN).content)).active
    values = list(sheet.values)
    column = list(values[0]).index("Excused")
    assert {row[1]: row[column] for row in values[1:]}["absent"] == 1


# Reports --------------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def email_only(settings):
    settings.WECOM_AGENT_ID = None
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.SITE_URL = "https://school.example"


def excused_count(body: str) -> list[str]:
    return re.findall(r"(?:excused|请假)\D{0,3}(\d+)", body)


def test_the_lesson_email_counts_the_excused_outside_the_rate(report_living):
    # 李四 was absent; 赵六 watched 20 minutes and left early: both excused, the flag kept.
    for userid in ("s_li", "s_zhao"):
        excuse_create(
            request=ExcuseRequest(
                student=report_living.students[userid],
                kind=Excuse.Kind.SICK,
                living=report_living.living,
            )
        )
    living_report_send(living=report_living.living)

    message = next(m for m in mail.outbox if m.to == ["wangli@school.example"])
    [(html, _mime)] = message.alternatives
    for body in (message.body, html):
        assert "75%" in body  # 3 present of the 4 not excused (50% before)
        assert "2" in excused_count(body)
        assert "赵六" in body  # still named: they left early
        assert "李四" not in body  # excused, nothing else to say


def test_the_weekly_digests_count_the_excused(school, report_teachers, admin_user):
    class_one = school["class_one"]
    students = roster_one(class_one)
    shanghai = dt.timezone(dt.timedelta(hours=8))
    for day in range(2):
        living = lesson_of(
            class_one, f"wk-{day}", start=dt.datetime(2026, 3, 2 + day, 8, 0, tzinfo=shanghai)
        )
        for userid in ("s_zhang", "s_zhao", "s_sun", "s_zhou"):
            watch(living, userid, seconds=3600, enter=0, leave=60)
    excuse_create(
        request=ExcuseRequest(
            student=students["s_li"],
            kind=Excuse.Kind.PERSONAL,
            start=dt.date(2026, 3, 2),
            end=dt.date(2026, 3, 3),
        )
    )
    teacher_digest_send(teacher=report_teachers.head, period="2026-W10")
    admin_digests_send(period="2026-W10")

    by_to = {message.to[0]: message for message in mail.outbox}
    teacher, admin = by_to["wangli@school.example"], by_to["admin@school.example"]
    assert "李四" not in teacher.body  # excused twice: not a repeat absentee
    assert excused_count(teacher.body).count("1") == 2  # one excused at each lesson
    assert "2" in excused_count(admin.body)  # the class's week: two excused lessons
    assert "80%" in admin.body  # 8 present of the 10 expected (12 on the rosters)
