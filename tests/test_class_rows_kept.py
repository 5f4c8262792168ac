"""The class page keeps a lesson's rows per class (``queries.class_rows_kept`` through
attendance/queries/kept.py) until the class's attendance changes: its table, its counts and its
charts read one list. A sync's store, a correction and the class's threshold from the admin show
at the next request; an edit no version follows (a name in the admin's roster) within
``kept.FRESH_FOR``; a filtered or sorted table and the downloads read the database. Kept, the
page runs no verdict query. The class: 一年级一班 of tests/fixtures/attendance.py."""

import datetime as dt
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from school_live.attendance.queries.kept import FRESH_FOR
from school_live.corrections.services import excuse_revoke
from school_live.school.models import Parent, Student
from tests.fixtures.attendance import START, make_living, make_student, watch
from tests.test_corrections import excuse
from tests.test_dashboard import CLASS_ONE, CLASS_ONE_COUNTS, summary_numbers
from tests.test_warnings_kept import synced_again

NOW = START + dt.timedelta(days=3)


@pytest.fixture
def page(client, attendance_living, head_teacher, clock_at):
    clock_at(NOW)
    client.force_login(head_teacher.user)

    def get(query: str = "") -> str:
        url = reverse("dashboard:class", args=[CLASS_ONE]) + query
        response = client.get(url)
        assert response.status_code == 200, url
        return response.content.decode()

    return get


def verdict_of(html: str, name: str) -> str:
    """The data-verdict of the table row that names the student."""
    for row in re.findall(r"<tr [^>]*data-verdict=.*?</tr>", html, re.S):
        if f">{name}<" in row:
            return re.search(r'data-verdict="([a-z]+)"', row)[1]
    raise AssertionError(f"no row for {name}")


def counts(html: str) -> dict:
    numbers = summary_numbers(html)
    return {key: numbers[key] for key in CLASS_ONE_COUNTS}


def test_a_correction_shows_in_the_table_and_the_counts_at_the_next_request(
    page, attendance_living, head_teacher
):
    assert counts(page()) == CLASS_ONE_COUNTS
    assert verdict_of(page(), "王缺勤") == "absent"
    made = excuse(
        attendance_living.students.absent, living=attendance_living.living, by=head_teacher.user
    )
    html = page()
    assert verdict_of(html, "王缺勤") == "excused"
    assert summary_numbers(html)["absent"] == 0 and summary_numbers(html)["excused"] == 1
    excuse_revoke(excuse=made, by=head_teacher.user)
    assert verdict_of(page(), "王缺勤") == "absent"
    assert counts(page()) == CLASS_ONE_COUNTS


def test_a_sync_of_the_lesson_shows_at_the_next_request(page, attendance_living):
    assert verdict_of(page(), "王缺勤") == "absent"
    # The lesson synced again: 王缺勤 watched it after all, and so did its watchers.
    synced_again(attendance_living.living, also="absent")
    html = page()
    assert verdict_of(html, "王缺勤") == "present"
    assert summary_numbers(html)["absent"] == 0


def test_the_class_threshold_from_the_admin_shows_at_once(page, attendance_living):
    assert verdict_of(page(), "褚两班") == "partial"  # 55% of the lesson, below 80%
    class_one = attendance_living.school["class_one"]
    class_one.present_threshold = 50
    class_one.save()  # as the admin saves it: no version is told
    html = page()
    assert verdict_of(html, "褚两班") == "present"
    # Every partial watcher watched at least half: 李部分 50%, 吴早退 67%, 陈双亲 69%, 褚两班 55%.
    assert (summary_numbers(html)["present"], summary_numbers(html)["partial"]) == (8, 0)


def test_an_edit_no_version_follows_shows_within_a_minute_and_at_once_when_sorted(
    page, client, attendance_living, clock_at
):
    assert "王缺勤" in page()
    Student.objects.filter(student_userid="absent").update(name="王改名")  # the admin's roster
    assert "王改名" not in page()  # kept
    assert "王改名" in page("?sort=name")  # a sorted table is the database's
    assert "王改名" in page("?verdict=absent")  # as is a filtered one
    csv = client.get(reverse("dashboard:class_export", args=[CLASS_ONE, "csv"]))
    assert "王改名" in csv.content.decode("utf-8-sig")  # and a download
    clock_at(NOW + FRESH_FOR + dt.timedelta(seconds=1))
    assert verdict_of(page(), "王改名") == "absent"


def test_kept_rows_spare_the_verdict_query(page):
    first = page()
    with CaptureQueriesContext(connection) as captured:
        again = page()
    assert verdict_of(again, "王缺勤") == verdict_of(first, "王缺勤") == "absent"
    assert counts(again) == counts(first) == CLASS_ONE_COUNTS
    read = [query["sql"] for query in captured if "school_studentwatch" in query["sql"]]
    assert read == []  # the lesson's watch rows were not read again


def test_kept_namesake_marks_follow_the_reader_s_language(client, school, head_teacher, clock_at):
    clock_at(NOW)
    class_one = school["class_one"]
    living = make_living("lv-names", classes=[class_one])
    for userid, number in (("tang_a", "13800001234"), ("tang_b", "13900005678")):
        make_student(userid, "唐睿", classes=[class_one], parents=[(f"{userid}_p", "爸爸", True)])
        Parent.objects.filter(parent_userid=f"{userid}_p").update(mobile=number)
    watch(living, "tang_a", seconds=3600, enter=0, leave=60)
    client.force_login(head_teacher.user)
    url = reverse("dashboard:class", args=[CLASS_ONE])
    zh = client.get(url).content.decode()
    en = client.get(url, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "尾号 1234" in zh and "mobile ending 1234" not in zh
    assert "mobile ending 1234" in en and "尾号 1234" not in en
