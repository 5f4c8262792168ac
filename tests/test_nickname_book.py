"""The nickname book: a teacher of a class says which WeChat visitor is a student's family, and
that nickname's visits to the class's lessons count for the student (when the student did not
watch on their own), on every page, download and report; removing the claim reverses it, its
history stays. Real rows, real SQL, on SQLite and PostgreSQL alike.

Lessons start 2026-03-02 08:00 Beijing (00:00 UTC) or a day later, and last 60 minutes; the
school threshold is 80% (2880 s).
"""

import csv
import datetime as dt
import io
import re
import types

import pytest
from django.core import mail
from django.db import IntegrityError, connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from openpyxl import load_workbook

from school_live.attendance import queries
from school_live.attendance.rules import Verdict
from school_live.corrections.history import student_nickname_claims
from school_live.corrections.models import NicknameClaim
from school_live.corrections.nicknames import (
    NicknameRefused,
    nickname_claim_create,
    nickname_claim_revoke,
)
from school_live.reports.attachments import class_table_xlsx
from school_live.reports.dispatch import living_report_send
from school_live.school.models import AttendancePolicy, Living, VisitorWatch
from school_live.school.tenancy import default_school
from tests.fixtures.attendance import START, make_living, make_student, watch

EN = {"HTTP_ACCEPT_LANGUAGE": "en"}
MUM = "小明妈妈"
HOSTILE = '<script>alert("nick")</script>'
DAY = dt.timedelta(days=1)

# The wording these tests pin is the English source text.
pytestmark = pytest.mark.usefixtures("english")


def visit(living, nickname, *, seconds, enter=0, leave=60, comment=False):
    position = VisitorWatch.objects.filter(living=living).count()
    return VisitorWatch.objects.create(
        school=default_school(),
        living=living,
        position=position,
        nickname=nickname,
        watch_time=seconds,
        enter_time=living.living_start + dt.timedelta(minutes=enter),
        leave_time=living.living_start + dt.timedelta(minutes=leave),
        is_comment=comment,
    )


@pytest.fixture
def book(school, head_teacher, subject_teacher, other_teacher):
    """小明 and 小红 in 一年级一班, 小刚 in 一年级二班; a lesson of each class, the same day, and
    in both a visitor who calls herself 小明妈妈."""
    AttendancePolicy.current(default_school())
    one, two = school["class_one"], school["class_two"]
    ming = make_student("ming", "小明", classes=[one], parents=[("ming_mum", "妈妈", True)])
    hong = make_student("hong", "小红", classes=[one], parents=[("hong_mum", "妈妈", True)])
    gang = make_student("gang", "小刚", classes=[two], parents=[("gang_mum", "妈妈", True)])
    lesson = make_living("lv-one", classes=[one], theme="一班语文")
    lesson.stats_complete = True
    lesson.save(update_fields=["stats_complete"])
    other = make_living("lv-two", classes=[two], theme="二班语文")
    visit(lesson, MUM, seconds=3000, enter=1, leave=58, comment=True)
    visit(other, MUM, seconds=3000)
    return types.SimpleNamespace(
        one=one,
        two=two,
        ming=ming,
        hong=hong,
        gang=gang,
        lesson=lesson,
        other=other,
        head=head_teacher,
        subject=subject_teacher,
        other_teacher=other_teacher,
    )


def claim(b, nickname=MUM, student=None, department=None, by=None):
    return nickname_claim_create(
        department=department or b.one,
        nickname=nickname,
        student=student or b.ming,
        by=by or b.head.user,
        why="家长会上确认",
    )


def rows_of(department, living):
    return {
        row.student_userid: row
        for row in queries.class_attendance(department=department, living=living)
    }


# The verdicts --------------------------------------------------------------------------------


def test_without_a_claim_a_visitor_is_nobody(book):
    rows = rows_of(book.one, book.lesson)
    assert rows["ming"].verdict == Verdict.ABSENT
    assert rows["ming"].via_visitor is False and rows["ming"].via_nickname is None


def test_a_claimed_nickname_counts_for_the_student_at_past_and_future_lessons(book):
    claim(book)
    # A lesson made after the claim, with the same nickname in it.
    later = make_living("lv-one-later", classes=[book.one], start=START + DAY)
    visit(later, MUM, seconds=1200, enter=10, leave=40)

    past = rows_of(book.one, book.lesson)["ming"]
    assert (past.verdict, past.watch_time, past.via_visitor, past.via_nickname) == (
        Verdict.PRESENT,
        3000,
        True,
        MUM,
    )
    assert past.commented is True and past.is_late is False
    assert past.first_enter == START + dt.timedelta(minutes=1)
    future = rows_of(book.one, later)["ming"]
    assert (future.verdict, future.is_late, future.left_early) == (Verdict.PARTIAL, True, True)
    # 小红 has no claim: still absent.
    assert rows_of(book.one, book.lesson)["hong"].verdict == Verdict.ABSENT

    history = {item["living"].livingid: item for item in queries.student_history(student=book.ming)}
    assert history["lv-one"]["verdict"] == Verdict.PRESENT
    assert history["lv-one"]["via_nickname"] == MUM
    assert history["lv-one-later"]["verdict"] == Verdict.PARTIAL


def test_the_same_nickname_at_another_classs_lesson_counts_for_nobody(book):
    claim(book)
    rows = rows_of(book.two, book.other)
    assert rows["gang"].verdict == Verdict.ABSENT and rows["gang"].via_visitor is False
    # A lesson of both classes: the claim is 一年级一班's, 一年级二班's roster is untouched.
    both = make_living("lv-both", classes=[book.one, book.two], start=START + DAY)
    visit(both, MUM, seconds=3600)
    assert rows_of(book.one, both)["ming"].verdict == Verdict.PRESENT
    assert rows_of(book.two, both)["gang"].verdict == Verdict.ABSENT
    # 一年级二班 may claim the same nickname for its own student (a sibling's family).
    claim(book, student=book.gang, department=book.two, by=book.other_teacher.user)
    assert rows_of(book.two, both)["gang"].verdict == Verdict.PRESENT
    assert rows_of(book.one, both)["ming"].verdict == Verdict.PRESENT


def test_several_rows_of_the_nickname_count_the_longest_never_the_sum(book):
    lesson = make_living("lv-twice", classes=[book.one], start=START + DAY)
    visit(lesson, MUM, seconds=2000, enter=5, leave=40)
    visit(lesson, MUM, seconds=2500, enter=2, leave=59, comment=True)
    visit(lesson, "小明爸爸", seconds=2600, enter=3, leave=50)
    claim(book)
    row = rows_of(book.one, lesson)["ming"]
    # 2500 s (69%), not 4500 s: partial; earliest entry, latest exit, a comment from either.
    assert (row.verdict, row.watch_time) == (Verdict.PARTIAL, 2500)
    assert row.first_enter == lesson.living_start + dt.timedelta(minutes=2)
    assert row.last_leave == lesson.living_start + dt.timedelta(minutes=59)
    assert row.commented is True
    # A second nickname for the same family: the longest of all their visits.
    claim(book, nickname="小明爸爸")
    row = rows_of(book.one, lesson)["ming"]
    assert (row.watch_time, row.via_nickname) == (2600, "小明妈妈")  # the first name in order


def test_the_students_own_watching_wins_over_a_claimed_visitor(book):
    watch(book.lesson, "ming", seconds=900, enter=20, leave=35)
    claim(book)
    row = rows_of(book.one, book.lesson)["ming"]
    assert (row.verdict, row.watch_time, row.via_visitor) == (Verdict.PARTIAL, 900, False)
    assert row.own_account is True


def test_an_own_row_of_zero_seconds_leaves_room_for_the_visitor(book):
    watch(book.lesson, "ming", seconds=0, enter=0, leave=0)
    claim(book)
    row = rows_of(book.one, book.lesson)["ming"]
    assert (row.verdict, row.via_nickname) == (Verdict.PRESENT, MUM)


def test_every_shape_of_the_question_agrees(book, head_teacher):
    claim(book)
    later = make_living("lv-one-later", classes=[book.one], start=START + DAY)
    visit(later, MUM, seconds=600)
    summary = queries.class_summary(department=book.one, living=book.lesson)
    assert (summary["present"], summary["absent"]) == (1, 1)
    breakdown = queries.livings_breakdown(livings=[book.lesson, later], user=head_teacher.user)
    assert breakdown[book.lesson.pk][0]["present"] == 1
    assert breakdown[later.pk][0]["partial"] == 1
    points = queries.class_period_summary(department=book.one)
    assert [(p["present"], p["partial"], p["absent"]) for p in points] == [(1, 0, 1), (0, 1, 1)]
    students = {
        row["student_userid"]: row for row in queries.class_period_students(department=book.one)
    }
    assert (students["ming"]["present"], students["ming"]["partial"]) == (1, 1)
    assert students["ming"]["commented"] == 1 and students["hong"]["absent"] == 2
    absentees = queries.students_absent_repeatedly(
        department=book.one, livings=[book.lesson, later]
    )
    assert [row["student"].student_userid for row in absentees] == ["hong"]
    assert queries.coverage_histogram(department=book.one, living=book.lesson)[8] == 1


def test_a_claim_costs_no_query_on_any_attendance_question(book, head_teacher):
    def counts():
        calls = [
            lambda: list(queries.class_attendance(department=book.one, living=book.lesson)),
            lambda: queries.student_history(student=book.ming),
            lambda: list(queries.class_period_students(department=book.one)),
            lambda: queries.class_period_summary(department=book.one),
            lambda: queries.livings_breakdown(livings=[book.lesson], user=head_teacher.user),
        ]
        result = []
        for call in calls:
            with CaptureQueriesContext(connection) as captured:
                call()
            result.append(len(captured))
        return result

    before = counts()
    claim(book)
    claim(book, nickname="小红外婆", student=book.hong)
    assert counts() == before
    assert before == [2, 2, 2, 3, 3]  # the policy, then one query per question (two: livings)


# Claims and removals ------------------------------------------------------------------------


def test_a_nickname_claimed_for_another_student_of_the_class_is_refused(book):
    claim(book)
    with pytest.raises(NicknameRefused, match="小明"):
        claim(book, student=book.hong)
    with pytest.raises(NicknameRefused):
        claim(book)  # the same claim twice
    with pytest.raises(NicknameRefused):
        claim(book, student=book.gang)  # not a student of 一年级一班
    # The database refuses a second active claim too, whatever the code path.
    with pytest.raises(IntegrityError), transaction.atomic():
        NicknameClaim.objects.create(
            school=default_school(), department=book.one, nickname=MUM, student=book.hong
        )
    assert NicknameClaim.objects.count() == 1


def test_removing_a_claim_reverses_the_verdicts_and_keeps_the_history(book):
    made = claim(book)
    assert rows_of(book.one, book.lesson)["ming"].verdict == Verdict.PRESENT
    nickname_claim_revoke(claim=made, by=book.head.user, why="认错人了")
    nickname_claim_revoke(claim=made, by=book.head.user, why="twice changes nothing")

    assert rows_of(book.one, book.lesson)["ming"].verdict == Verdict.ABSENT
    made.refresh_from_db()
    assert made.revoked_by == book.head.user and made.revoked_at is not None
    [entry] = student_nickname_claims(student=book.ming)
    assert [(h.kind, h.why, h.who) for h in entry.history] == [
        ("+", "家长会上确认", book.head.user),
        ("~", "认错人了", book.head.user),
    ]
    assert [change.field for change in entry.history[1].changes] == ["removed at"]
    # Once removed, the nickname may be claimed again, for the right student.
    claim(book, student=book.hong)
    assert rows_of(book.one, book.lesson)["hong"].verdict == Verdict.PRESENT
    assert VisitorWatch.objects.filter(nickname=MUM).count() == 2  # WeCom's rows untouched


# The pages ------------------------------------------------------------------------------------


def living_url(b, department=None):
    return (
        reverse("dashboard:living", args=[b.lesson.livingid])
        + f"?class={(department or b.one).wecom_id}"
    )


def claim_url(b, department=None, living=None):
    return reverse(
        "dashboard:nickname_claim",
        args=[(living or b.lesson).livingid, (department or b.one).wecom_id],
    )


@pytest.mark.parametrize("who", ["head", "subject"])
def test_a_teacher_of_the_class_claims_on_the_lessons_page(client, book, who):
    client.force_login(getattr(book, who).user)
    page = client.get(living_url(book), **EN).content.decode()
    assert 'id="nickname-claim-form"' in page

    response = client.post(
        claim_url(book),
        {"nickname": MUM, "student": "ming", "why": "她在群里说的"},
        follow=True,
        **EN,
    )

    assert response.status_code == 200
    made = NicknameClaim.objects.get()
    assert (made.student, made.department, made.created_by) == (
        book.ming,
        book.one,
        getattr(book, who).user,
    )
    assert made.history.get().history_user == getattr(book, who).user
    html = response.content.decode()
    assert "now counts for 小明" in html
    assert "via WeChat 访客 小明妈妈" in html  # the students table
    assert 'id="nickname-claims"' in html
    visitors = html.split('id="visitors-table"')[1].split("</table>")[0]
    assert "Family of" in visitors and re.search(r"<td[^>]*>\s*小明\s*</td>", visitors)
    student_page = client.get(reverse("dashboard:student", args=["ming"]), **EN).content.decode()
    assert 'id="nickname-claim-list"' in student_page and "她在群里说的" in student_page
    assert 'data-verdict="present"' in student_page and "via WeChat 访客 小明妈妈" in student_page
    class_page = client.get(
        reverse("dashboard:class", args=[book.one.wecom_id]), **EN
    ).content.decode()
    assert "via WeChat 访客 小明妈妈" in class_page and 'data-absent="1"' in class_page


def test_a_refused_claim_says_why_and_saves_nothing(client, book):
    claim(book)
    client.force_login(book.head.user)
    response = client.post(claim_url(book), {"nickname": MUM, "student": "hong"}, follow=True, **EN)
    assert "already claimed for 小明" in response.content.decode()
    # A nickname that is not among the lesson's visitors is no choice either.
    response = client.post(
        claim_url(book), {"nickname": "路人", "student": "hong"}, follow=True, **EN
    )
    assert "Select a valid choice" in response.content.decode()
    assert NicknameClaim.objects.get().student == book.ming


def test_removing_on_the_page_reverses_and_the_student_page_keeps_the_history(client, book):
    made = claim(book)
    client.force_login(book.subject.user)
    url = reverse(
        "dashboard:nickname_remove", args=[book.lesson.livingid, book.one.wecom_id, made.pk]
    )
    response = client.post(url, {"why": "不是小明家"}, **EN)
    assert response.status_code == 302 and response["Location"].endswith("#visitors-title")
    made.refresh_from_db()
    assert made.revoked_by == book.subject.user
    page = client.get(living_url(book), **EN).content.decode()
    assert "via WeChat 访客" not in page and 'data-verdict="absent"' in page
    student_page = client.get(reverse("dashboard:student", args=["ming"]), **EN).content.decode()
    assert 'data-active="false"' in student_page and "不是小明家" in student_page


def test_others_get_404s_and_nothing_changes(client, book, admin_user):
    made = claim(book)
    remove = reverse(
        "dashboard:nickname_remove", args=[book.lesson.livingid, book.one.wecom_id, made.pk]
    )
    data = {"nickname": MUM, "student": "hong"}
    client.force_login(book.other_teacher.user)
    assert client.post(claim_url(book), data).status_code == 404
    assert client.post(remove).status_code == 404
    # Their own class at their own lesson is fine; 一年级一班's student is no choice there.
    response = client.post(claim_url(book, book.two, book.other), data, follow=True, **EN)
    assert response.status_code == 200 and "Select a valid choice" in response.content.decode()
    # A claim id of another class through one's own class's URL is a 404 as well.
    client.force_login(book.head.user)
    theirs = claim(book, student=book.gang, department=book.two, by=book.other_teacher.user)
    other_remove = reverse(
        "dashboard:nickname_remove", args=[book.lesson.livingid, book.one.wecom_id, theirs.pk]
    )
    assert client.post(other_remove).status_code == 404
    assert client.get(claim_url(book)).status_code == 405
    assert Client().post(claim_url(book), data).status_code == 302  # to the login page
    assert NicknameClaim.objects.active().count() == 2
    # The lesson's host who does not teach the class reads it but has no form.
    host = book.lesson
    host.anchor_userid = book.other_teacher.userid
    host.save(update_fields=["anchor_userid"])
    client.force_login(book.other_teacher.user)
    page = client.get(living_url(book), **EN)
    assert page.status_code == 200 and 'id="nickname-claim-form"' not in page.content.decode()
    assert client.post(claim_url(book), data).status_code == 404
    # An admin may claim in any class.
    client.force_login(admin_user)
    made.refresh_from_db()
    assert client.post(remove).status_code == 302
    assert NicknameClaim.objects.get(pk=made.pk).revoked_by == admin_user


def test_hostile_nicknames_are_shown_as_text_everywhere(client, book):
    visit(book.lesson, HOSTILE, seconds=3600)
    client.force_login(book.head.user)
    client.post(claim_url(book), {"nickname": HOSTILE, "student": "hong"}, **EN)
    made = NicknameClaim.objects.get()
    assert made.nickname == HOSTILE  # exactly as WeCom sent it
    escaped = "&lt;script&gt;alert(&quot;nick&quot;)&lt;/script&gt;"
    for url in (
        living_url(book),
        reverse("dashboard:student", args=["hong"]),
        reverse("dashboard:class", args=[book.one.wecom_id]),
    ):
        html = client.get(url, **EN).content.decode()
        assert "<script>alert" not in html, url
        assert escaped in html, url
    follow = client.post(claim_url(book), {"nickname": HOSTILE, "student": "ming"}, follow=True)
    assert "<script>alert" not in follow.content.decode()


# Downloads and reports -----------------------------------------------------------------------


def test_downloads_and_the_lesson_email_say_via_which_visitor(client, book):
    later = make_living("lv-one-later", classes=[book.one], start=START + DAY)
    later.stats_complete = True
    later.save(update_fields=["stats_complete"])
    visit(later, MUM, seconds=1200, enter=10, leave=40)
    claim(book)
    client.force_login(book.head.user)
    export = reverse("dashboard:class_export", args=[book.one.wecom_id, "csv"])
    rows = list(
        csv.reader(
            io.StringIO(client.get(f"{export}?living=lv-one", **EN).content.decode("utf-8-sig"))
        )
    )
    assert rows[0][-1] == "Watched through"
    ming = next(row for row in rows if row[1] == "ming")
    assert ming[2] == "present" and ming[-1] == "via WeChat 访客 小明妈妈"
    xlsx = client.get(
        reverse("dashboard:class_export", args=[book.one.wecom_id, "xlsx"]) + "?living=lv-one", **EN
    )
    sheet = load_workbook(io.BytesIO(xlsx.content)).active
    assert "via WeChat 访客 小明妈妈" in [row[-1] for row in sheet.iter_rows(values_only=True)]
    # The range download counts the lesson as attended.
    rng = list(
        csv.reader(
            io.StringIO(
                client.get(f"{export}?start=2026-03-01&end=2026-03-31", **EN).content.decode(
                    "utf-8-sig"
                )
            )
        )
    )
    ming = next(row for row in rng if row[1] == "ming")
    assert (ming[3], ming[4]) == ("1", "1")  # present at one lesson, partial at the other

    # The report attachment and the email of the later lesson (小明 partial through the visitor).
    workbook = load_workbook(
        io.BytesIO(class_table_xlsx(living=book.lesson, departments=[book.one]))
    )
    assert "via WeChat 访客 小明妈妈" in [
        row[-1] for row in workbook.active.iter_rows(values_only=True)
    ]
    book.head.email = "wangli@school.example"
    book.head.save(update_fields=["email"])
    living_report_send(living=later)
    message = next(m for m in mail.outbox if m.to == ["wangli@school.example"])
    html = message.alternatives[0][0]
    # The email speaks the teacher's language (zh-hans by default): "访客 小明妈妈" in either.
    line = next(line for line in message.body.splitlines() if line.startswith("- 小明"))
    assert "访客 小明妈妈" in line
    assert "访客 小明妈妈" in html


def test_pages_stay_within_the_query_budget_with_claims(
    client, book, django_assert_max_num_queries
):
    from tests.test_dashboard import QUERY_BUDGET

    claim(book)
    claim(book, nickname="小红外婆", student=book.hong)
    client.force_login(book.head.user)
    for url in (
        living_url(book),
        reverse("dashboard:student", args=["ming"]),
        reverse("dashboard:class", args=[book.one.wecom_id]),
        reverse("dashboard:home"),
    ):
        with django_assert_max_num_queries(QUERY_BUDGET):
            assert client.get(url).status_code == 200


def test_the_admin_lists_claims_with_their_history(client, book, admin_user):
    made = claim(book)
    client.force_login(admin_user)
    listing = client.get(reverse("admin:corrections_nicknameclaim_changelist"), **EN)
    assert listing.status_code == 200 and MUM in listing.content.decode()
    history = client.get(reverse("admin:corrections_nicknameclaim_history", args=[made.pk]), **EN)
    assert history.status_code == 200 and "家长会上确认" in history.content.decode()
    assert (
        client.post(reverse("admin:corrections_nicknameclaim_delete", args=[made.pk])).status_code
        == 403
    )
    assert Living.objects.filter(livingid="lv-one").exists()
