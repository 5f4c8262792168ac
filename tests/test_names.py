"""People by their names (issue 20): teachers by name, or words saying WeCom gave none; parents as
their child's relation; two students of the same name told apart wherever they are listed or
picked; verdicts in one order and percents rounded one way on every page, download and email."""

import csv
import datetime as dt
import io
import re

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse
from django.utils import timezone

from school_live.attendance.namesakes import namesake_marks
from school_live.attendance.percents import percent_text
from school_live.attendance.queries import class_warnings
from school_live.corrections.models import Excuse
from school_live.lessons.plan_input import LessonPlan
from school_live.lessons.services import lesson_plan_check
from school_live.reminders.models import Reminder, ReminderStudent
from school_live.reports.emails import email_render
from school_live.reports.living import living_email_context, living_report_build
from school_live.school.models import (
    AttendancePolicy,
    ClassAssignment,
    Parent,
    Student,
    Teacher,
)
from school_live.school.tenancy import default_school
from tests.fixtures.attendance import make_living, make_student, watch
from tests.fixtures.dashboard import add_visitors
from tests.fixtures.warnings import NOW, build_class

CLASS_ONE = 3
NO_NAME = "老师（企业微信未提供姓名）"


@pytest.fixture
def nameless(school):
    """A 班主任 of 一年级一班 whom WeCom lists by userid only (the roster sync stores no name)."""
    user = get_user_model().objects.create_user(username="liujiabo", password="x" * 20)
    teacher = Teacher.objects.create(school=default_school(), userid="liujiabo", user=user)
    ClassAssignment.objects.create(
        school=default_school(),
        teacher=teacher,
        department=school["class_one"],
        role=ClassAssignment.Role.HEAD,
        subject="语文",
    )
    return teacher


def mobile(parent_userid: str, number: str) -> None:
    Parent.objects.filter(parent_userid=parent_userid).update(mobile=number)


@pytest.fixture
def namesakes(school):
    """Two 唐睿 in 一年级一班 (one present, one absent) and a 何诺文, at one ended lesson."""
    class_one = school["class_one"]
    AttendancePolicy.current(default_school())
    living = make_living("lv-names", classes=[class_one])
    make_student("tang_a", "唐睿", classes=[class_one], parents=[("tang_a_f", "爸爸", True)])
    make_student("tang_b", "唐睿", classes=[class_one], parents=[("tang_b_m", "妈妈", True)])
    make_student("he", "何诺文", classes=[class_one], parents=[("he_f", "爸爸", True)])
    mobile("tang_a_f", "13800001234")
    mobile("tang_b_m", "13900005678")
    watch(living, "tang_a", seconds=3600, enter=0, leave=60)
    watch(living, "he", seconds=3600, enter=0, leave=60)
    return living


# --- teachers ---------------------------------------------------------------------------------


def test_a_teacher_without_a_name_is_said_to_have_none_in_the_header(client, nameless):
    client.force_login(nameless.user)
    html = client.get(reverse("dashboard:home")).content.decode()
    header = re.search(r'<li class="site-nav__user">(.*?)</li>', html, re.S)[1]
    assert NO_NAME in header
    assert '<small class="userid">liujiabo</small>' in header


def test_a_teacher_with_a_name_is_shown_by_it(client, head_teacher):
    client.force_login(head_teacher.user)
    html = client.get(reverse("dashboard:home")).content.decode()
    assert '<li class="site-nav__user">王丽</li>' in html


def test_the_overlap_error_names_the_teacher_in_words_not_by_login_id(nameless, school):
    start = timezone.now() + dt.timedelta(days=2)
    make_living("lv-mine", classes=[school["class_one"]], start=start, anchor="liujiabo")
    plan = LessonPlan(
        teacher=nameless,
        classes=(school["class_one"],),
        start=start + dt.timedelta(minutes=10),
        minutes=40,
        theme="另一节课",
    )
    problems = " ".join(str(problem) for problem in lesson_plan_check(plan))
    assert NO_NAME in problems
    assert "liujiabo" not in problems


def test_the_admin_lists_teachers_by_name_or_says_there_is_none(client, admin_user, nameless):
    Teacher.objects.create(school=default_school(), userid="linjing", name="林静")
    client.force_login(admin_user)
    html = client.get(reverse("admin:school_teacher_changelist")).content.decode()
    assert "林静" in html and NO_NAME in html
    assert str(nameless) == f"{NO_NAME} · liujiabo"


@pytest.fixture
def reminder(namesakes, nameless, school):
    sent = Reminder.objects.create(
        school=default_school(),
        living=namesakes,
        department=school["class_one"],
        kind=Reminder.Kind.MANUAL,
        status=Reminder.Status.SENT,
        sender=nameless.user,
        sent_at=namesakes.living_start + dt.timedelta(minutes=5),
        text="请进入直播",
        parent_userids=["he_f"],
    )
    ReminderStudent.objects.create(
        school=default_school(),
        reminder=sent,
        living=namesakes,
        student_userid="he",
        name="何诺文",
        parent_userids=["he_f"],
    )
    return sent


def test_the_reminder_names_its_sender_and_the_parents_by_relation(client, reminder, nameless):
    client.force_login(nameless.user)
    html = client.get(reverse("reminders:detail", args=[reminder.pk])).content.decode()
    sender = re.search(r'<dd id="reminder-sender">(.*?)</dd>', html, re.S)[1]
    assert NO_NAME in sender and "liujiabo" in sender  # the userid as a small detail
    assert "何诺文的爸爸" in html
    assert '<small class="muted userid">he_f</small>' in html
    page = client.get(reverse("dashboard:living", args=[reminder.living.livingid]))
    assert f'<span class="reminder-sender">{NO_NAME}</span>' in page.content.decode()


def test_the_student_page_names_a_parent_by_relation(client, namesakes, head_teacher):
    client.force_login(head_teacher.user)
    html = client.get(reverse("dashboard:student", args=["he"])).content.decode()
    assert "何诺文的爸爸" in html


# --- two students of the same name ------------------------------------------------------------


TANG_A = "唐睿（爸爸 尾号 1234）"
TANG_B = "唐睿（妈妈 尾号 5678）"


def test_namesakes_get_the_relation_and_mobile_tail_of_a_parent(namesakes, school):
    assert namesake_marks(departments=[school["class_one"]]) == {
        "tang_a": "爸爸 尾号 1234",
        "tang_b": "妈妈 尾号 5678",
    }


def test_namesakes_without_a_mobile_or_with_the_same_mark_get_their_userid(namesakes, school):
    mobile("tang_b_m", "")
    marks = namesake_marks(departments=[school["class_one"]])
    assert marks["tang_b"] == "tang_b" and marks["tang_a"] == "爸爸 尾号 1234"
    mobile("tang_b_m", "13800001234")
    Parent.objects.filter(parent_userid="tang_b_m").get().guardianships.update(relation="爸爸")
    assert namesake_marks(departments=[school["class_one"]]) == {
        "tang_a": "tang_a",
        "tang_b": "tang_b",
    }


def visible(html: str) -> str:
    return re.sub(r"<[^>]+>", "", html)


def test_the_class_table_tells_namesakes_apart(client, namesakes, head_teacher):
    client.force_login(head_teacher.user)
    html = client.get(reverse("dashboard:class", args=[CLASS_ONE])).content.decode()
    table = visible(html.split('id="students-table"')[1].split("</table>")[0])
    assert TANG_A in table and TANG_B in table
    assert "何诺文（" not in table  # a name of one's own gets no mark


def test_the_range_table_tells_namesakes_apart(client, namesakes, head_teacher):
    client.force_login(head_teacher.user)
    url = reverse("dashboard:class", args=[CLASS_ONE]) + "?start=2026-03-01&end=2026-03-31"
    table = visible(client.get(url).content.decode().split('id="students-table"')[1])
    assert TANG_A in table and TANG_B in table


def test_the_csv_tells_namesakes_apart(client, namesakes, head_teacher):
    client.force_login(head_teacher.user)
    response = client.get(reverse("dashboard:class_export", args=[CLASS_ONE, "csv"]))
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    names = {row[1]: row[0] for row in rows[1:]}
    assert names == {"tang_a": TANG_A, "tang_b": TANG_B, "he": "何诺文"}


def test_the_roll_call_tells_namesakes_apart(client, school, head_teacher):
    class_one = school["class_one"]
    now = timezone.now()
    live = make_living(
        "lv-live", classes=[class_one], start=now - dt.timedelta(minutes=5), synced=False
    )
    live.stats_synced_at = now - dt.timedelta(seconds=10)
    live.save(update_fields=["stats_synced_at"])
    make_student("tang_a", "唐睿", classes=[class_one], parents=[("tang_a_f", "爸爸", True)])
    make_student("tang_b", "唐睿", classes=[class_one], parents=[("tang_b_m", "妈妈", True)])
    mobile("tang_a_f", "13800001234")
    mobile("tang_b_m", "13900005678")
    client.force_login(head_teacher.user)
    answer = client.get(reverse("dashboard:rollcall", args=[live.livingid])).json()
    marks = {s["userid"]: s["name"] + s["mark"] for s in answer["class"]["students"]}
    assert marks == {"tang_a": TANG_A, "tang_b": TANG_B}
    page = client.get(reverse("dashboard:living", args=[live.livingid])).content.decode()
    assert TANG_A in visible(page) and TANG_B in visible(page)


def test_the_warnings_tell_namesakes_apart(client, school, head_teacher, clock_at):
    clock_at(NOW)
    AttendancePolicy.current(default_school())
    made = build_class(school["class_one"])
    # 李四 (absent repeatedly) and 王五 (unreachable) are both 唐睿 here.
    for student in (made.people.li, made.people.wang):
        student.name = "唐睿"
        student.save()
    mobile("s_li_mum", "13800001234")
    warned = {w.student_userid: w.namesake for w in class_warnings(department=school["class_one"])}
    assert warned["s_li"] == "妈妈 尾号 1234" and warned["s_wang"] == "s_wang"
    client.force_login(head_teacher.user)
    html = client.get(reverse("dashboard:class", args=[CLASS_ONE])).content.decode()
    section = visible(html.split('id="warnings"')[1].split("</section>")[0])
    assert "唐睿（妈妈 尾号 1234）" in section and "唐睿（s_wang）" in section


def test_the_nickname_book_offers_namesakes_apart(client, namesakes, head_teacher):
    add_visitors(namesakes, ["小唐爸爸"])
    client.force_login(head_teacher.user)
    url = reverse("dashboard:living", args=[namesakes.livingid]) + f"?class={CLASS_ONE}"
    html = client.get(url).content.decode()
    options = re.findall(r'<option value="(tang_[ab])"[^>]*>([^<]*)</option>', html)
    assert dict(options) == {"tang_a": TANG_A, "tang_b": TANG_B}


def test_the_reminder_tells_namesakes_apart(client, reminder, nameless):
    ReminderStudent.objects.create(
        school=default_school(),
        reminder=reminder,
        living=reminder.living,
        student_userid="tang_b",
        name="唐睿",
        parent_userids=["tang_b_m"],
    )
    client.force_login(nameless.user)
    html = client.get(reverse("reminders:detail", args=[reminder.pk])).content.decode()
    assert TANG_B in visible(html) and "唐睿的妈妈" in html


def test_the_lesson_email_tells_namesakes_apart(namesakes, school, head_teacher):
    report = living_report_build(living=namesakes, departments=[school["class_one"]])
    email = email_render(
        report="living", context=living_email_context(report=report, teacher=head_teacher)
    )
    assert TANG_B in email.text  # the absent one is an exception


# --- one order of verdicts, one rounding ------------------------------------------------------


@pytest.fixture
def ordered(school):
    """丙三 and 甲一 present, 乙二 excused between them by name, 丁四 absent; 戊五 watched 62.5%
    and 己六 57.5% of the lesson (partial at the 80% threshold)."""
    class_one = school["class_one"]
    AttendancePolicy.current(default_school())
    living = make_living("lv-order", classes=[class_one])
    for userid, name in [
        ("bing", "丙三"),
        ("yi", "乙二"),
        ("jia", "甲一"),
        ("ding", "丁四"),
        ("wu", "戊五"),
        ("ji", "己六"),
    ]:
        make_student(userid, name, classes=[class_one], parents=[(f"{userid}_m", "妈妈", True)])
    watch(living, "bing", seconds=3600, enter=0, leave=60)
    watch(living, "jia", seconds=3600, enter=0, leave=60)
    watch(living, "wu", seconds=2250, enter=0, leave=60)
    watch(living, "ji", seconds=2070, enter=0, leave=60)
    Excuse.objects.create(
        school=default_school(),
        student=Student.objects.get(student_userid="yi"),
        living=living,
        kind=Excuse.Kind.SICK,
    )
    return living


EXPECTED_ORDER = ["absent", "partial", "partial", "excused", "present", "present"]


def test_sorting_by_verdict_keeps_excused_apart_from_present(client, ordered, head_teacher):
    client.force_login(head_teacher.user)
    url = reverse("dashboard:class", args=[CLASS_ONE])
    for query, expected in [
        ("", EXPECTED_ORDER),
        ("&sort=verdict", EXPECTED_ORDER),
        ("&sort=-verdict", EXPECTED_ORDER[::-1]),
    ]:
        html = client.get(f"{url}?living={ordered.livingid}{query}").content.decode()
        table = html.split('id="students-table"')[1]
        assert re.findall(r'data-verdict="([a-z]+)"', table) == expected, query


def test_the_csv_lists_verdicts_in_the_same_order(client, ordered, head_teacher):
    client.force_login(head_teacher.user)
    response = client.get(reverse("dashboard:class_export", args=[CLASS_ONE, "csv"]))
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert [row[1] for row in rows[1:]] == ["ding", "ji", "wu", "yi", "bing", "jia"]


def test_halves_round_up_the_same_on_the_page_in_the_csv_and_in_the_email(
    client, ordered, head_teacher, school
):
    assert (percent_text(5 / 8), percent_text(23 / 40)) == ("63%", "58%")
    client.force_login(head_teacher.user)
    html = client.get(reverse("dashboard:class", args=[CLASS_ONE])).content.decode()
    cells = r'<tr data-verdict="partial"[^>]*>\s*<td[^>]*><a[^>]*>(戊五|己六)</a>.*?(\d+%)'
    rows = dict(re.findall(cells, html, re.S))
    assert rows == {"戊五": "63%", "己六": "58%"}
    response = client.get(reverse("dashboard:class_export", args=[CLASS_ONE, "csv"]))
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    shares = {row[1]: row[3] for row in rows[1:]}
    assert (shares["wu"], shares["ji"]) == ("63", "58")
    report = living_report_build(living=ordered, departments=[school["class_one"]])
    text = email_render(
        report="living", context=living_email_context(report=report, teacher=head_teacher)
    ).text
    assert "63%" in text and "58%" in text
    assert "62%" not in text and "57%" not in text
