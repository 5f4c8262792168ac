"""Early warnings with their evidence (issue #13 item 4): the rules, the thresholds per class in
the admin, the class page, and the weekly digest that opens with them. The class and its
students: tests/fixtures/warnings.py (``warned``)."""

import dataclasses
import datetime as dt
import re

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from school_live.alerts.models import DEFAULTS, WarningRules, warning_thresholds
from school_live.attendance.queries import WarningKind, class_warnings
from school_live.corrections.models import Excuse
from school_live.reports.dispatch import teacher_digest_send
from school_live.reports.models import ReportDelivery, ReportPreference
from school_live.reports.weekly import teacher_digest_build
from school_live.school.models import AttendancePolicy, Living
from school_live.school.tenancy import default_school
from school_live.wecom_sandbox.model import Teacher as SandboxTeacher
from tests.fixtures.attendance import make_living
from tests.fixtures.warnings import HOSTILE, NOW, SHANGHAI, build_class

pytestmark = pytest.mark.usefixtures("english")


def by_name(warnings) -> dict[str, dict[str, str]]:
    return {
        student.name: {warning.kind: warning.text for warning in student.warnings}
        for student in warnings
    }


# The four rules ---------------------------------------------------------------------------


def test_each_rule_fires_with_its_evidence(warned, school):
    found = by_name(class_warnings(department=school["class_one"], now=NOW))

    assert found == {
        "李四": {WarningKind.ABSENT: "absent 3 of the last 5 lessons (03-18, 03-20, 03-24)"},
        "赵六": {WarningKind.FALLING: "watch share falling: 90% → 40% over 14 days"},
        "孙七": {WarningKind.LATE: "late 4 times this month"},
        "王五": {
            WarningKind.UNREACHABLE: (
                "family unreachable for 6 lessons: ask them to follow 学校通知"
            )
        },
    }


def test_students_are_listed_by_name_with_their_evidence_numbers(warned, school):
    warnings = class_warnings(department=school["class_one"], now=NOW)
    assert [student.name for student in warnings] == sorted(["李四", "赵六", "孙七", "王五"])
    [li] = [student for student in warnings if student.student_userid == "s_li"]
    [absent] = li.warnings
    assert (absent.count, absent.lessons) == (3, 5)
    assert absent.dates == (dt.date(2026, 3, 18), dt.date(2026, 3, 20), dt.date(2026, 3, 24))


def test_excused_lessons_count_toward_no_warning(warned, school):
    """周八 missed the same lessons as 李四 (and more of the recent ones): excused, no warning."""
    names = {student.name for student in class_warnings(department=school["class_one"], now=NOW)}
    assert "周八" not in names
    # Revoked, the excuses no longer hide anything: the same absences now warn, with the dates.
    Excuse.objects.update(revoked_at=NOW)
    found = by_name(class_warnings(department=school["class_one"], now=NOW))
    assert found["周八"][WarningKind.ABSENT] == (
        "absent 3 of the last 5 lessons (03-18, 03-20, 03-24)"
    )


def test_an_excused_lesson_neither_breaks_nor_lengthens_a_run_of_unreachable_lessons(
    warned, school
):
    Excuse.objects.create(
        school=default_school(), student=warned.people.wang, living=warned.lessons[6], kind="sick"
    )
    found = by_name(class_warnings(department=school["class_one"], now=NOW))
    assert found["王五"] == {
        WarningKind.UNREACHABLE: "family unreachable for 5 lessons: ask them to follow 学校通知"
    }


def test_excused_lateness_and_watch_share_do_not_count(warned, school):
    # An excuse never hides attendance: 孙七's 3000 s (83%) would stay present. At a 90%
    # threshold they are partial, and excused: his two latest late lessons leave 2 times late.
    policy = AttendancePolicy.current(default_school())
    policy.present_threshold = 90
    policy.save()
    for living in warned.lessons[5::2]:
        Excuse.objects.create(
            school=default_school(), student=warned.people.sun, living=living, kind="sick"
        )
    # 赵六's recent lessons excused: no recent watch share to compare.
    for living in warned.lessons[5:]:
        Excuse.objects.create(
            school=default_school(), student=warned.people.zhao, living=living, kind="sick"
        )

    found = by_name(class_warnings(department=school["class_one"], now=NOW))
    assert "孙七" not in found
    assert "赵六" not in found


def test_nothing_fires_just_below_each_threshold(warned, school):
    just_above = dataclasses.replace(
        DEFAULTS,
        absent_count=4,
        falling_drop=51,
        late_count=5,
        unreachable_lessons=7,
    )
    assert class_warnings(department=school["class_one"], now=NOW, thresholds=just_above) == []
    at = dataclasses.replace(
        DEFAULTS, absent_count=3, falling_drop=50, late_count=4, unreachable_lessons=6
    )
    assert len(class_warnings(department=school["class_one"], now=NOW, thresholds=at)) == 4


def test_zero_turns_a_rule_off(warned, school):
    off = dataclasses.replace(DEFAULTS, absent_count=0, late_count=0)
    names = {
        s.name for s in class_warnings(department=school["class_one"], now=NOW, thresholds=off)
    }
    assert names == {"赵六", "王五"}
    all_off = dataclasses.replace(
        DEFAULTS, absent_count=0, falling_drop=0, late_count=0, unreachable_lessons=0
    )
    assert class_warnings(department=school["class_one"], now=NOW, thresholds=all_off) == []


def test_late_counts_only_this_month(warned, school):
    """On 1 April, March's lateness is last month's: no warning; the rest still stands."""
    april = dt.datetime(2026, 4, 1, 9, 0, tzinfo=SHANGHAI)
    found = by_name(class_warnings(department=school["class_one"], now=april))
    assert WarningKind.LATE not in found.get("孙七", {})
    assert WarningKind.ABSENT in found["李四"] and WarningKind.UNREACHABLE in found["王五"]


def test_lessons_under_way_cancelled_or_ahead_never_count(warned, school):
    """At the clock's time the 03-25 11:50 lesson is under way; a minute after its end it has
    ended and nobody watched it: it counts then, and 李四's last five lessons change."""
    after_the_end = NOW + dt.timedelta(minutes=60)
    found = by_name(class_warnings(department=school["class_one"], now=after_the_end))
    assert found["李四"][WarningKind.ABSENT] == (
        "absent 4 of the last 5 lessons (03-18, 03-20, 03-24, 03-25)"
    )
    # The cancelled one (03-23) is never among the dates.
    assert all("03-23" not in text for texts in found.values() for text in texts.values())


# Thresholds per class in the admin, audited -----------------------------------------------


def test_thresholds_per_class_from_the_admin_take_effect_and_are_audited(
    warned, school, client, admin_user
):
    client.force_login(admin_user)
    add = reverse("admin:alerts_warningrules_add")
    response = client.post(
        add,
        {
            "department": school["class_one"].pk,
            "absent_count": "4",
            "absent_window": "",
            "falling_drop": "",
            "falling_days": "",
            "late_count": "",
            "unreachable_lessons": "7",
            "change_reason": "一年级一班: fewer warnings",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    rules = WarningRules.objects.get(department=school["class_one"])
    assert [h.history_change_reason for h in rules.history.all()] == ["一年级一班: fewer warnings"]
    assert rules.history.get().history_user == admin_user
    history = client.get(reverse("admin:alerts_warningrules_history", args=[rules.pk]))
    assert "一年级一班: fewer warnings" in history.content.decode()
    listed = client.get(reverse("admin:alerts_warningrules_changelist")).content.decode()
    assert "一年级一班" in listed

    found = by_name(class_warnings(department=school["class_one"], now=NOW))
    assert set(found) == {"赵六", "孙七"}  # 李四 and 王五 are below the class's thresholds

    # The school's row changes every class without its own value; the class keeps its own.
    WarningRules.objects.create(
        school=default_school(), department=None, **dataclasses.asdict(DEFAULTS) | {"late_count": 5}
    )
    thresholds = warning_thresholds(school["class_one"])
    assert (thresholds.absent_count, thresholds.late_count) == (4, 5)
    assert warning_thresholds(school["class_two"]).absent_count == DEFAULTS.absent_count


def test_the_admin_refuses_a_second_row_for_a_class_and_impossible_numbers(
    school, client, admin_user
):
    client.force_login(admin_user)
    add = reverse("admin:alerts_warningrules_add")
    WarningRules.objects.create(
        school=default_school(), department=school["class_one"], absent_count=2
    )
    blank = dict.fromkeys(
        ["absent_window", "falling_drop", "falling_days", "late_count", "unreachable_lessons"],
        "",
    )
    again = client.post(add, {"department": school["class_one"].pk, "absent_count": "3", **blank})
    assert again.status_code == 200 and "already" in again.content.decode()
    impossible = client.post(
        add,
        {"department": school["class_two"].pk, **blank, "absent_count": "6", "absent_window": "5"},
    )
    assert impossible.status_code == 200
    assert "cannot miss more lessons" in impossible.content.decode()
    school_row = client.post(add, {"department": "", "absent_count": "3", **blank})
    assert "need a value" in school_row.content.decode()
    assert WarningRules.objects.count() == 1


# The class page ---------------------------------------------------------------------------


@pytest.fixture
def warned_now(school, clock_at):
    """The same class, the process's clock at NOW (the page reads the time: a rule that counts
    this calendar month would find other lessons on another day)."""
    clock_at(NOW)
    AttendancePolicy.current(default_school())
    return build_class(school["class_one"], now=NOW)


def warnings_section(html: str) -> str:
    match = re.search(r'<section class="[^"]*" id="warnings".*?</section>', html, re.S)
    assert match, "no #warnings"
    return match[0]


def test_class_page_lists_each_student_with_their_evidence(client, warned_now, head_teacher):
    client.force_login(head_teacher.user)
    html = client.get(reverse("dashboard:class", args=[3])).content.decode()
    section = warnings_section(html)
    dates = ", ".join(
        timezone.localtime(warned_now.lessons[index].living_start).strftime("%m-%d")
        for index in (4, 5, 7)
    )
    assert f"absent 3 of the last 5 lessons ({dates})" in section
    assert "watch share falling: 90% → 40% over 14 days" in section
    assert "family unreachable for 6 lessons: ask them to follow 学校通知" in section
    assert re.search(r'data-student="s_li".*?href="/students/s_li/"', section, re.S)
    for quiet in ("张三", "周八"):
        assert quiet not in section
    # Whatever lesson or period the page shows, the warnings stay.
    period = client.get(reverse("dashboard:class", args=[3]) + "?start=2020-01-01&end=2020-01-31")
    assert "absent 3 of the last 5 lessons" in warnings_section(period.content.decode())


def test_a_class_without_warnings_says_so(client, school, head_teacher):
    client.force_login(head_teacher.user)
    html = client.get(reverse("dashboard:class", args=[3])).content.decode()
    assert 'id="no-warnings"' in warnings_section(html)


def test_a_teacher_of_another_class_gets_404_and_sees_none_of_its_warnings(
    client, warned_now, other_teacher
):
    client.force_login(other_teacher.user)
    assert client.get(reverse("dashboard:class", args=[3])).status_code == 404
    own = client.get(reverse("dashboard:class", args=[4])).content.decode()
    section = warnings_section(own)
    assert "李四" not in section and "王五" not in section and 'id="no-warnings"' in section


def test_student_names_are_escaped_on_the_page(client, warned_now, head_teacher):
    warned_now.people.li.name = HOSTILE
    warned_now.people.li.save(update_fields=["name"])
    client.force_login(head_teacher.user)
    html = client.get(reverse("dashboard:class", args=[3])).content.decode()
    section = warnings_section(html)
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;小明" in section
    assert "<script>alert" not in html


# A fixed number of queries ----------------------------------------------------------------


def test_warnings_take_the_same_two_queries_at_any_size(school):
    AttendancePolicy.current(default_school())
    small = build_class(school["class_one"])
    counts = []
    with CaptureQueriesContext(connection) as captured:
        assert len(class_warnings(department=school["class_one"], now=NOW)) == 4
    counts.append(len(captured))

    # Another class: 40 more students, twice the lessons, every rule firing.
    class_two = school["class_two"]
    build_class(class_two, prefix="two-", extra_students=40)
    for index, living in enumerate(small.lessons):
        start = living.living_start - dt.timedelta(days=30)
        make_living(f"lv-more-{index}", classes=[class_two], start=start)
    with CaptureQueriesContext(connection) as captured:
        assert len(class_warnings(department=class_two, now=NOW)) >= 4
    counts.append(len(captured))
    assert counts == [2, 2]


# The weekly digest opens with the warnings ------------------------------------------------

WEEK = "2026-W13"  # Monday 23 March – Sunday 29 March 2026: the lessons of 03-24 and 03-25


@pytest.fixture
def digest_teacher(warned, head_teacher):
    # By the end of the week the lesson under way at NOW has ended: the digest's warnings
    # would count it. These tests read the lessons up to 03-24.
    Living.objects.filter(livingid="lv-live-now").delete()
    head_teacher.email = "wangli@school.example"
    head_teacher.save(update_fields=["email"])
    ReportPreference.objects.create(school=default_school(), teacher=head_teacher, language="en")
    return head_teacher


def test_weekly_digest_opens_with_the_warnings(warned, digest_teacher, settings):
    settings.SITE_URL = "https://school.example"
    teacher_digest_send(teacher=digest_teacher, period=WEEK)

    [message] = mail.outbox
    [(html, _mimetype)] = message.alternatives
    for body, class_section in (
        (message.body, "== 一年级一班 =="),
        (html, '<h2 style="margin:18px'),
    ):
        opening = body.index("Students who need attention")
        assert opening < body.index(class_section)
        assert opening < body.index("Live lessons")
        assert body.index("absent 3 of the last 5 lessons (03-18, 03-20, 03-24)") < body.index(
            "Live lessons"
        )
        assert "family unreachable for 6 lessons" in body
        assert "周八" not in body and "张三" not in body
    assert "- 一年级一班 · 李四: absent 3 of the last 5 lessons (03-18, 03-20, 03-24)" in (
        message.body
    )
    assert 'href="https://school.example/classes/3/"' in html


def test_weekly_digest_escapes_names_in_the_html_and_keeps_them_in_the_text(warned, digest_teacher):
    warned.people.li.name = HOSTILE
    warned.people.li.save(update_fields=["name"])
    teacher_digest_send(teacher=digest_teacher, period=WEEK)

    [message] = mail.outbox
    [(html, _mimetype)] = message.alternatives
    assert "<script>" not in html
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;小明" in html
    assert f"{HOSTILE}: absent 3 of the last 5 lessons" in message.body


def test_weekly_digest_of_another_teacher_has_none_of_the_class_warnings(
    warned, school, other_teacher
):
    make_living("lv-two", classes=[school["class_two"]], start=NOW - dt.timedelta(days=1))

    digest = teacher_digest_build(
        teacher=other_teacher,
        start=dt.datetime(2026, 3, 23, tzinfo=SHANGHAI),
        end=dt.datetime(2026, 3, 30, tzinfo=SHANGHAI),
    )
    assert [item.department.name for item in digest.classes] == ["一年级二班"]
    assert digest.warnings == []


@pytest.fixture
def sandbox_wangli(wecom_settings, wecom_sandbox):
    teachers = wecom_sandbox.state.school.teachers
    added = "wangli" not in teachers
    if added:
        teachers["wangli"] = SandboxTeacher(userid="wangli", name="王丽")
    yield wecom_sandbox
    if added:
        teachers.pop("wangli", None)


def test_weekly_wecom_card_opens_with_the_warnings_escaped(warned, digest_teacher, sandbox_wangli):
    warned.people.li.name = HOSTILE
    warned.people.li.save(update_fields=["name"])

    teacher_digest_send(teacher=digest_teacher, period=WEEK)
    teacher_digest_send(teacher=digest_teacher, period=WEEK)

    [sent] = sandbox_wangli.state.sent_messages
    assert sent["recipients"] == ["wangli"]
    card = sent["body"]["textcard"]
    assert card["title"] == "Attendance this week (03-23 – 03-29)"
    description = card["description"]
    assert len(description.encode()) <= 512
    assert description.startswith('<div class="highlight">一年级一班 · ')
    assert "&lt;script&gt;" in description and "<script>" not in description
    assert "absent 3 of the last 5 lessons (03-18, 03-20, 03-24)" in description
    assert card["url"].endswith("/classes/3/")
    channels = set(ReportDelivery.objects.values_list("channel", "status"))
    assert channels == {
        (ReportDelivery.Channel.EMAIL, ReportDelivery.Status.SENT),
        (ReportDelivery.Channel.WECOM, ReportDelivery.Status.SENT),
    }
