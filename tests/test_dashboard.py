"""The teacher's pages: right numbers for the right people, 404 for everyone else, safe text,
downloads that Excel opens, and a fixed number of queries whatever the size."""

import csv
import datetime as dt
import io
import re

import pytest
from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook

from school_live.attendance import queries
from school_live.devtools.roster_builder import build_class
from school_live.school.models import AttendancePolicy, Student
from school_live.school.tenancy import default_school
from tests.fixtures.attendance import make_living, make_student, watch

CLASS_ONE = 3
CLASS_ONE_COUNTS = {"present": 4, "partial": 4, "absent": 1, "unreachable": 3, "total": 12}


def page_urls(*, class_id, livingid, student_userid):
    """Every dashboard page and download for one class, one living and one student."""
    class_url = reverse("dashboard:class", args=[class_id])
    csv_url = reverse("dashboard:class_export", args=[class_id, "csv"])
    xlsx_url = reverse("dashboard:class_export", args=[class_id, "xlsx"])
    period = "?start=2026-03-01&end=2026-03-31"
    return [
        class_url,
        f"{class_url}?living={livingid}",
        f"{class_url}{period}",
        f"{class_url}?living={livingid}&verdict=absent",
        csv_url,
        xlsx_url,
        f"{csv_url}{period}",
        f"{xlsx_url}{period}",
        reverse("dashboard:living", args=[livingid]),
        reverse("dashboard:student", args=[student_userid]),
    ]


def summary_numbers(html: str) -> dict:
    match = re.search(r'<dl class="summary" id="summary"([^>]*)>', html)
    assert match, "no #summary"
    return {key: int(value) for key, value in re.findall(r'data-([a-z-]+)="(\d+)"', match[1])}


# --- who sees what ----------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["head_teacher", "subject_teacher"])
def test_class_page_gives_each_verdict_count_to_the_class_teachers(
    client, attendance_living, request, who
):
    client.force_login(request.getfixturevalue(who).user)
    response = client.get(reverse("dashboard:class", args=[CLASS_ONE]))
    assert response.status_code == 200
    numbers = summary_numbers(response.content.decode())
    assert {key: numbers[key] for key in CLASS_ONE_COUNTS} == CLASS_ONE_COUNTS
    html = response.content.decode()
    for element in ('id="coverage-chart"', 'id="arrival-chart"', 'id="students-table"'):
        assert element in html


def test_admin_sees_every_class_and_the_same_numbers(
    client, attendance_living, other_teacher, admin_user
):
    client.force_login(admin_user)
    home = client.get(reverse("dashboard:home")).content.decode()
    assert "一年级一班" in home and "一年级二班" in home
    html = client.get(reverse("dashboard:class", args=[CLASS_ONE])).content.decode()
    numbers = summary_numbers(html)
    assert {key: numbers[key] for key in CLASS_ONE_COUNTS} == CLASS_ONE_COUNTS


def test_home_lists_only_the_teachers_classes_and_recent_livings(
    client, attendance_living, other_teacher, head_teacher
):
    client.force_login(head_teacher.user)
    html = client.get(reverse("dashboard:home")).content.decode()
    assert reverse("dashboard:class", args=[CLASS_ONE]) in html
    assert reverse("dashboard:class", args=[4]) not in html
    assert "lv-math" in html
    assert "班主任" in html or "head teacher" in html


def test_every_page_and_download_is_a_404_for_a_teacher_of_another_class(
    client, attendance_living, other_teacher, head_teacher
):
    # 刘洋 teaches 一年级二班, which lv-math also covers: give him a living of his own class only.
    urls = page_urls(class_id=CLASS_ONE, livingid="lv-math", student_userid="present")
    outsider_living = build_class(
        attendance_living.school["class_one"], students=2, livings=1, prefix="x"
    )[0]
    urls += page_urls(class_id=CLASS_ONE, livingid=outsider_living.livingid, student_userid="x3_0")
    client.force_login(other_teacher.user)
    for url in urls:
        if "lv-math" in url and url.startswith("/livings/"):
            continue  # lv-math covers his class too: his page of it is tested below
        assert client.get(url).status_code == 404, url


def test_a_shared_living_shows_only_the_teachers_own_class(
    client, attendance_living, other_teacher
):
    client.force_login(other_teacher.user)
    html = client.get(reverse("dashboard:living", args=["lv-math"])).content.decode()
    assert "一年级二班" in html
    assert "陈出勤" not in html  # a student of 一年级一班
    assert client.get(reverse("dashboard:living", args=["lv-math"]) + "?class=3").status_code == 404


def test_anonymous_visitors_are_sent_to_log_in(client, attendance_living):
    urls = [reverse("dashboard:home")] + page_urls(
        class_id=CLASS_ONE, livingid="lv-math", student_userid="present"
    )
    for url in urls:
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith(reverse("login")), url


def test_unknown_ids_are_404_even_for_the_admin(client, attendance_living, admin_user):
    client.force_login(admin_user)
    assert client.get(reverse("dashboard:class", args=[999])).status_code == 404
    assert client.get(reverse("dashboard:living", args=["nope"])).status_code == 404
    assert client.get(reverse("dashboard:student", args=["nope"])).status_code == 404
    assert (
        client.get(reverse("dashboard:class", args=[CLASS_ONE]) + "?living=nope").status_code == 404
    )
    assert client.get(reverse("dashboard:class_export", args=[CLASS_ONE, "pdf"])).status_code == 404


# --- the class page ---------------------------------------------------------------------------


def test_filter_by_verdict_keeps_only_those_students(client, attendance_living, head_teacher):
    client.force_login(head_teacher.user)
    html = client.get(
        reverse("dashboard:class", args=[CLASS_ONE]) + "?verdict=unreachable"
    ).content.decode()
    rows = html.count('data-verdict="unreachable"')
    assert rows == 3
    assert 'data-verdict="present"' not in html


def test_filter_by_flag_and_comment(client, attendance_living, head_teacher):
    client.force_login(head_teacher.user)
    url = reverse("dashboard:class", args=[CLASS_ONE])
    html = client.get(url + "?flag=is_late").content.decode()
    assert "周迟到" in html and "陈出勤" not in html
    html = client.get(url + "?comment=yes").content.decode()
    assert "冯评论" in html and "陈双亲" in html and "陈出勤" not in html


def test_the_table_starts_with_the_exceptions(client, attendance_living, head_teacher):
    client.force_login(head_teacher.user)
    html = client.get(reverse("dashboard:class", args=[CLASS_ONE])).content.decode()
    assert html.index("王缺勤") < html.index("陈出勤")


def test_the_histogram_marks_the_threshold(client, attendance_living, head_teacher):
    client.force_login(head_teacher.user)
    response = client.get(reverse("dashboard:class", args=[CLASS_ONE]))
    chart = response.context["coverage_chart"]
    assert chart["threshold"] == 80
    assert chart["values"] == queries.coverage_histogram(
        department=attendance_living.school["class_one"], living=attendance_living.living
    )
    assert chart["reaches"] == [False] * 8 + [True] * 2
    assert 'id="coverage-data"' in response.content.decode()


def test_a_date_range_gives_per_student_totals_and_a_trend(client, dashboard_small, head_teacher):
    client.force_login(head_teacher.user)
    response = client.get(
        reverse("dashboard:class", args=[CLASS_ONE]) + "?start=2026-03-01&end=2026-03-31"
    )
    html = response.content.decode()
    assert summary_numbers(html)["livings"] == 3
    assert 'id="trend-chart"' in html
    rows = list(response.context["table"].data)
    assert len(rows) == 6
    assert all(row["livings"] == 3 for row in rows)
    assert all(
        row["present"] + row["partial"] + row["absent"] + row["unreachable"] == 3 for row in rows
    )


def test_an_empty_class_says_so(client, school, head_teacher):
    client.force_login(head_teacher.user)
    html = client.get(reverse("dashboard:class", args=[CLASS_ONE])).content.decode()
    assert 'id="no-living"' in html


# --- downloads --------------------------------------------------------------------------------


def _hostile_student(attendance_living):
    make_student(
        "hostile",
        '=HYPERLINK("http://evil.example","点我")',
        classes=[attendance_living.school["class_one"]],
        parents=[("hostile_mum", "妈妈", True)],
    )


def test_csv_has_a_bom_chinese_headers_and_neutral_formulas(
    client, attendance_living, head_teacher
):
    _hostile_student(attendance_living)
    client.force_login(head_teacher.user)
    response = client.get(reverse("dashboard:class_export", args=[CLASS_ONE, "csv"]))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    raw = response.content
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert rows[0][0] == "学生"
    assert "首次进入（北京时间）" in rows[0]
    assert len(rows) - 1 == CLASS_ONE_COUNTS["total"] + 1
    names = [row[0] for row in rows[1:]]
    assert '\'=HYPERLINK("http://evil.example","点我")' in names
    assert not any(cell.startswith(("=", "+", "-", "@")) for row in rows for cell in row)


def test_xlsx_opens_with_the_same_rows(client, attendance_living, head_teacher):
    _hostile_student(attendance_living)
    client.force_login(head_teacher.user)
    csv_rows = list(
        csv.reader(
            io.StringIO(
                client.get(
                    reverse("dashboard:class_export", args=[CLASS_ONE, "csv"])
                ).content.decode("utf-8-sig")
            )
        )
    )
    response = client.get(reverse("dashboard:class_export", args=[CLASS_ONE, "xlsx"]))
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(response.content)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert [str(cell) for cell in rows[0]] == csv_rows[0]
    assert len(rows) == len(csv_rows)
    assert [row[1] for row in rows[1:]] == [row[1] for row in csv_rows[1:]]
    assert all(sheet.cell(row=r, column=1).data_type != "f" for r in range(1, len(rows) + 1))


def test_range_download_has_one_row_per_student(client, dashboard_small, head_teacher):
    client.force_login(head_teacher.user)
    response = client.get(
        reverse("dashboard:class_export", args=[CLASS_ONE, "csv"])
        + "?start=2026-03-01&end=2026-03-31"
    )
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert len(rows) == 1 + 6
    assert rows[0][2] == "直播课次"


# --- the living and student pages -------------------------------------------------------------


def test_hostile_nicknames_show_as_text(client, dashboard_small, head_teacher):
    client.force_login(head_teacher.user)
    living = dashboard_small["livings"][-1]
    html = client.get(reverse("dashboard:living", args=[living.livingid])).content.decode()
    assert "<script>alert" not in html
    assert "&lt;script&gt;alert(&#x27;nickname&#x27;)&lt;/script&gt;" in html
    assert "<b>粗体</b>" not in html and "&lt;b&gt;粗体&lt;/b&gt;" in html
    assert "=HYPERLINK(&quot;http://evil.example&quot;" in html


def test_living_page_has_breakdown_unknown_watchers_and_refresh(
    client, attendance_living, head_teacher
):
    client.force_login(head_teacher.user)
    html = client.get(reverse("dashboard:living", args=["lv-math"])).content.decode()
    assert 'id="refresh-button"' in html and 'id="refresh-status"' in html
    assert f'action="{reverse("sync:living", args=["lv-math"])}"' in html
    assert "csrfmiddlewaretoken" in html
    assert "ghost_child" in html  # a watcher the roster does not know
    assert "<script>" not in html.split("</head>")[1]  # no inline script in the body


def test_student_page_lists_livings_and_parents(client, attendance_living, head_teacher):
    client.force_login(head_teacher.user)
    html = client.get(reverse("dashboard:student", args=["two_parents"])).content.decode()
    assert "lv-math" in html
    assert 'id="history-chart"' in html
    assert html.count("data-follows=") == 2
    assert 'data-follows="false"' in html and 'data-follows="true"' in html


def test_logout_is_a_post_button(client, attendance_living, head_teacher):
    client.force_login(head_teacher.user)
    html = client.get(reverse("dashboard:home")).content.decode()
    assert f'<form method="post" action="{reverse("logout")}"' in html
    client.post(reverse("logout"))
    assert client.get(reverse("dashboard:home")).status_code == 302


def test_login_page_signs_in(client, head_teacher):
    from tests.fixtures.people import PASSWORD

    page = client.get(reverse("login"))
    assert page.status_code == 200
    response = client.post(reverse("login"), {"username": "wangli", "password": PASSWORD})
    assert response.status_code == 302
    assert response["Location"] == reverse("dashboard:home")


# --- words ------------------------------------------------------------------------------------


def test_chinese_by_default_and_english_when_asked(client, attendance_living, head_teacher):
    client.force_login(head_teacher.user)
    zh = client.get(reverse("dashboard:home")).content.decode()
    assert '<html lang="zh-hans">' in zh
    assert "我的班级" in zh
    en = client.get(reverse("dashboard:home"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert '<html lang="en">' in en
    assert "My classes" in en and "我的班级" not in en


# --- speed ------------------------------------------------------------------------------------

# The class page's early warnings (attendance/queries/warnings.py) read two: their thresholds with
# the attendance policy, and every student's warnings in one grouped query.
QUERY_BUDGET = 16


@pytest.mark.parametrize("students,livings", [(4, 2), (40, 25)])
def test_every_page_stays_within_the_query_budget(
    client, school, head_teacher, django_assert_max_num_queries, students, livings
):
    made = build_class(school["class_one"], students=students, livings=livings)
    AttendancePolicy.current(default_school())
    student = Student.objects.filter(enrollments__department=school["class_one"]).first()
    client.force_login(head_teacher.user)
    urls = [reverse("dashboard:home")] + page_urls(
        class_id=CLASS_ONE, livingid=made[0].livingid, student_userid=student.student_userid
    )
    for url in urls:
        with django_assert_max_num_queries(QUERY_BUDGET):
            response = client.get(url)
        assert response.status_code == 200, url


# --- lessons without verdicts yet: not started, never synced, live now -------------------------


def state_of(html: str) -> str:
    match = re.search(r'id="living-state"[^>]*data-state="([a-z]+)"', html)
    assert match, "no #living-state"
    return match[1]


@pytest.fixture
def tomorrow(attendance_living):
    """A lesson of 一年级一班 and 一年级二班 that starts tomorrow: nobody has watched it."""
    return make_living(
        "lv-tomorrow",
        classes=[attendance_living.school["class_one"], attendance_living.school["class_two"]],
        start=timezone.now() + dt.timedelta(days=1),
        theme="明天的课",
        synced=False,
    )


def test_class_page_opens_on_the_latest_started_lesson(client, tomorrow, head_teacher):
    client.force_login(head_teacher.user)
    html = client.get(reverse("dashboard:class", args=[CLASS_ONE])).content.decode()
    assert state_of(html) == "ended"
    assert re.search(r'<option value="lv-math" selected>', html)
    numbers = summary_numbers(html)
    assert {key: numbers[key] for key in CLASS_ONE_COUNTS} == CLASS_ONE_COUNTS
    # The lesson ahead is still offered, marked as not started.
    assert re.search(r'<option value="lv-tomorrow">[^<]*明天的课 · 未开始</option>', html)


def test_upcoming_lesson_shows_no_absences(client, tomorrow, head_teacher):
    client.force_login(head_teacher.user)
    url = reverse("dashboard:class", args=[CLASS_ONE]) + "?living=lv-tomorrow"
    html = client.get(url).content.decode()
    assert state_of(html) == "upcoming"
    assert "直播尚未开始" in html
    for absent in ('id="summary"', 'id="exceptions"', 'id="coverage-chart"', 'id="arrival-chart"'):
        assert absent not in html
    assert "badge--absent" not in html and "summary__absent" not in html
    # The roster is still listed, without verdicts.
    assert 'id="roster-table"' in html and "陈出勤" in html and "data-verdict" not in html
    csv_url = reverse("dashboard:class_export", args=[CLASS_ONE, "csv"]) + "?living=lv-tomorrow"
    assert client.get(csv_url).status_code == 404


def test_a_class_with_only_a_lesson_ahead_opens_on_it_without_numbers(client, school, head_teacher):
    make_living(
        "lv-first", classes=[school["class_one"]], start=timezone.now() + dt.timedelta(hours=3)
    )
    client.force_login(head_teacher.user)
    html = client.get(reverse("dashboard:class", args=[CLASS_ONE])).content.decode()
    assert state_of(html) == "upcoming"
    assert 'id="summary"' not in html


def test_a_started_lesson_never_synced_says_so_instead_of_absences(
    client, attendance_living, head_teacher
):
    living = make_living(
        "lv-unsynced",
        classes=[attendance_living.school["class_one"]],
        start=timezone.now() - dt.timedelta(hours=3),
        synced=False,
    )
    client.force_login(head_teacher.user)
    html = client.get(reverse("dashboard:class", args=[CLASS_ONE])).content.decode()
    assert re.search(r'<option value="lv-unsynced" selected>', html)
    assert state_of(html) == "unsynced"
    assert "尚未同步" in html
    assert 'id="summary"' not in html and 'id="exceptions"' not in html
    living_html = client.get(reverse("dashboard:living", args=[living.livingid])).content.decode()
    assert state_of(living_html) == "unsynced"
    assert 'id="summary"' not in living_html and "陈出勤" in living_html
    assert "data-verdict" not in living_html


def test_living_page_of_an_upcoming_lesson_shows_no_verdicts(client, tomorrow, head_teacher):
    client.force_login(head_teacher.user)
    html = client.get(reverse("dashboard:living", args=["lv-tomorrow"])).content.decode()
    assert state_of(html) == "upcoming"
    assert 'id="summary"' not in html and 'id="breakdown-table"' not in html
    assert 'id="refresh-button"' in html
    assert 'id="roster-table"' in html and "badge--absent" not in html


def test_live_lesson_shows_its_roll_call_so_far(client, school, head_teacher):
    # The roll call itself is pinned by tests/test_rollcall.py.
    start = timezone.now() - dt.timedelta(minutes=20)
    living = make_living("lv-now", classes=[school["class_one"]], start=start)
    living.stats_synced_at = start + dt.timedelta(minutes=15)
    living.save(update_fields=["stats_synced_at"])
    make_student("watching", "在看", classes=[school["class_one"]], parents=[("w_m", "妈妈", True)])
    watch(living, "watching", seconds=900, enter=0, leave=None)
    client.force_login(head_teacher.user)
    html = client.get(reverse("dashboard:class", args=[CLASS_ONE])).content.decode()
    assert state_of(html) == "live"
    assert 'id="rollcall"' in html and 'id="summary"' not in html
    assert re.search(r'<dd data-total="joined">1</dd>', html)
    home = client.get(reverse("dashboard:home")).content.decode()
    assert 'data-state="live"' in home and "直播中" in home


def test_home_lists_only_started_lessons_and_the_upcoming_ones_apart(
    client, tomorrow, head_teacher
):
    client.force_login(head_teacher.user)
    html = client.get(reverse("dashboard:home")).content.decode()
    recent = html.split('id="recent-livings"')[1].split("</ul>")[0]
    assert 'data-livingid="lv-math"' in recent and "lv-tomorrow" not in recent
    upcoming = html.split('id="upcoming-livings"')[1].split("</ul>")[0]
    assert 'data-livingid="lv-tomorrow"' in upcoming
    assert "data-absent" not in upcoming and "%" not in upcoming


def test_home_shows_no_numbers_for_a_started_lesson_never_synced(client, school, head_teacher):
    make_living(
        "lv-unsynced",
        classes=[school["class_one"]],
        start=timezone.now() - dt.timedelta(hours=1),
        synced=False,
    )
    client.force_login(head_teacher.user)
    html = client.get(reverse("dashboard:home")).content.decode()
    card = re.search(r'<li class="card" data-livingid="lv-unsynced"[^>]*>', html)[0]
    assert 'data-state="unsynced"' in card and "data-absent" not in card


def test_a_date_range_counts_only_started_and_synced_lessons(client, dashboard_small, head_teacher):
    department = dashboard_small["class"]
    make_living(
        "lv-range-unsynced",
        classes=[department],
        start=dashboard_small["livings"][-1].living_start + dt.timedelta(days=1),
        synced=False,
    )
    client.force_login(head_teacher.user)
    url = (
        reverse("dashboard:class", args=[department.wecom_id]) + "?start=2026-03-01&end=2026-03-31"
    )
    numbers = summary_numbers(client.get(url).content.decode())
    assert numbers["livings"] == 3
    assert numbers["total"] == 3 * 6


def test_home_shows_ten_recent_started_lessons_within_the_query_budget(
    client, school, head_teacher, django_assert_max_num_queries
):
    build_class(school["class_one"], students=30, livings=12)
    for index in range(3):
        make_living(
            f"lv-ahead{index}",
            classes=[school["class_one"]],
            start=timezone.now() + dt.timedelta(days=index + 1),
        )
    client.force_login(head_teacher.user)
    with django_assert_max_num_queries(QUERY_BUDGET):
        html = client.get(reverse("dashboard:home")).content.decode()
    recent = html.split('id="recent-livings"')[1].split('id="upcoming-livings"')[0]
    cards = re.findall(r'<li class="card" data-livingid="([^"]+)"[^>]*data-total="30"', recent)
    assert cards == [f"lv-s{CLASS_ONE}-{day}" for day in range(11, 1, -1)]
    assert html.count('data-state="upcoming"') == 3


# --- tables -----------------------------------------------------------------------------------


def test_unknown_watchers_table_claims_no_sort_order_until_sorted(
    client, attendance_living, head_teacher
):
    client.force_login(head_teacher.user)
    url = reverse("dashboard:living", args=["lv-math"])
    html = client.get(url).content.decode()
    table = html.split('id="unknown-table"')[1].split("</thead>")[0]
    assert "aria-sort" not in table and 'class="asc' not in table and "asc" not in table
    assert "ghost_child" in html
    sorted_html = client.get(url + "?unknown-sort=-watch_time").content.decode()
    table = sorted_html.split('id="unknown-table"')[1].split("</thead>")[0]
    assert table.count('aria-sort="descending"') == 1
