"""A live lesson tells one story (issue 20), on a phone (375 px), through a lesson a 班主任 schedules
in school_live (living/create in the sandbox: no class range) and starts, under both answers WeCom
may give to get_unwatch_stat for such a lesson (undocumented, api.md §12; the sandbox's switch):

- at each refresh of the roll call, its 未进入 count is the number of families the reminder's
  confirmation names;
- the 学校通知 the sandbox records goes to exactly the following parents of the 未进入 students;
- once the lesson has ended, a student who never joined is 缺勤 if the roll call had them under
  未进入 and 未触达 if under 未触达;
- the home card shows the roll call while the lesson is live, never verdicts.
"""

import datetime as dt

import pytest
from django.utils import timezone

from school_live.attendance.queries import class_attendance
from school_live.attendance.queries.rollcall import living_rollcall
from school_live.attendance.rules import Verdict
from school_live.lessons.models import LessonSeries
from school_live.lessons.services import LessonPlan, lesson_plan_check, lesson_schedule
from school_live.school.models import Department, Living, StudentWatch, Teacher
from school_live.school.tenancy import default_school
from school_live.sync.living_stats import living_stats_sync
from school_live.wecom.client import WeComClient
from tests.fixtures.browser import TEACHER_PASSWORD, browser_login

pytestmark = pytest.mark.browser

PHONE = {"width": 375, "height": 740}
WAIT = 30_000
DURATION = 900  # the sandbox's class arrives over its first half
SHOTS = "/work/wt"


def schedule_and_start(browser_school) -> Living:
    """The class's 班主任 schedules a lesson of their class in school_live, then starts it now."""
    department = Department.objects.get(wecom_id=browser_school.class_id)
    teacher = Teacher.objects.get(user__username=browser_school.username)
    later = timezone.now().replace(microsecond=0) + dt.timedelta(hours=2)
    plans = [
        LessonPlan(
            teacher=teacher,
            classes=(department,),
            start=later + dt.timedelta(hours=hours),
            minutes=DURATION // 60,
            theme="认识钟表",
        )
        for hours in range(0, 48, 2)
    ]
    plan = next(plan for plan in plans if not lesson_plan_check(plan))
    with WeComClient.from_settings() as client:
        series = lesson_schedule(
            client=client, plan=plan, source=LessonSeries.Source.WEB, requested_by=teacher.user
        )
    living = Living.objects.get(occurrence__series=series)
    browser_school.sandbox.state.start_living_now(living.livingid, duration=DURATION)
    return living


def rewind(state, livingid: str, seconds: int) -> None:
    """The lesson started ``seconds`` earlier than it did: its arrivals that much earlier too."""
    with state.lock:
        living = state.living(livingid)
        living.living_start -= seconds
        living.viewers = [viewer.shifted(-seconds) for viewer in living.viewers]
        living.sort_viewers()


def sync(living: Living) -> Living:
    run = living_stats_sync(school=default_school(), livingid=living.livingid)
    assert run.status == "succeeded", run.error
    return Living.objects.get(pk=living.pk)


def listed(page, group: str) -> set[str]:
    return set(
        page.locator(f"[data-list={group}] [data-student]").evaluate_all(
            "items => items.map(item => item.dataset.student)"
        )
    )


def shown(page, name: str) -> int:
    return int(page.locator(f"#rollcall-counts [data-total={name}]").inner_text())


def no_sideways_scroll(page) -> None:
    assert page.evaluate("() => document.documentElement.scrollWidth") <= PHONE["width"], page.url


@pytest.mark.parametrize("unwatch", ["empty", "list"])
def test_the_roll_call_the_reminder_the_home_card_and_the_verdicts_agree(
    new_page, browser_school, settings, unwatch
):
    settings.ROLLCALL_REFRESH_SECONDS = 5  # the page's poll; 20 s in production
    state = browser_school.sandbox.state
    state.set_unwatch_for_created(unwatch)
    living = schedule_and_start(browser_school)
    assert state.living(living.livingid).partyids == ()  # living/create: no class range
    department = Department.objects.get(wecom_id=browser_school.class_id)
    living = sync(living)

    page = new_page(viewport=PHONE)
    browser_login(page, username=browser_school.username, password=TEACHER_PASSWORD)
    other = page.context.new_page()  # the confirmation and the home page, beside the roll call
    page.goto(f"/livings/{living.livingid}/?class={department.wecom_id}")
    page.wait_for_selector("#rollcall")
    assert page.locator("#living-state").get_attribute("data-state") == "live"
    page.evaluate("window.__marker = 'not reloaded'")

    confirm = f"/reminders/livings/{living.livingid}/classes/{department.wecom_id}/"
    for step in range(4):
        if step:
            # Time passes for the lesson (its start moves back, as the sandbox's clock would
            # move on, but the site's clock agrees): students arrive; the last step is past
            # every arrival (the class comes over the first half).
            rewind(state, living.livingid, DURATION // 2 if step == 3 else 60)
            living = sync(living)
        expected = living_rollcall(
            living=living, classes=Department.objects.filter(pk=department.pk)
        ).totals
        page.wait_for_function(
            "([joined, reachable]) => Number(document.querySelector("
            "'#rollcall-counts [data-total=joined]').textContent) === joined && Number("
            "document.querySelector('#rollcall-counts [data-total=reachable]').textContent)"
            " === reachable",
            arg=[expected.joined, expected.reachable],
            timeout=WAIT,
        )
        assert page.evaluate("window.__marker") == "not reloaded"
        reachable = shown(page, "reachable")
        assert reachable == len(listed(page, "reachable")) > 0
        other.goto(confirm)
        families = int(other.locator("#reminder-preview").get_attribute("data-families"))
        assert families == reachable, (step, unwatch)
        named = set(
            other.locator("#reminder-families [data-student]").evaluate_all(
                "items => items.map(item => item.dataset.student)"
            )
        )
        assert named == listed(page, "reachable")

    # The header's WeCom numbers came with the roll call.
    numbers = page.locator("#living-numbers").inner_text()
    assert f"{living.viewer_num} 人观看" in numbers
    no_sideways_scroll(page)
    if unwatch == "empty":
        page.screenshot(path=f"{SHOTS}/h20-live-page.png", full_page=True)

    # The home card: the roll call, never verdicts.
    other.goto("/")
    card = other.locator(f'.card[data-livingid="{living.livingid}"]')
    assert card.get_attribute("data-state") == "live"
    assert int(card.get_attribute("data-reachable")) == shown(page, "reachable")
    assert int(card.get_attribute("data-joined")) == shown(page, "joined")
    assert int(card.get_attribute("data-unreachable")) == shown(page, "unreachable")
    assert "出勤率" not in card.inner_text() and "缺勤" not in card.inner_text()
    no_sideways_scroll(other)
    if unwatch == "empty":
        other.screenshot(path=f"{SHOTS}/h20-live-home.png", full_page=True)

    # The reminder goes to exactly the following parents of the 未进入 students.
    waiting, cut_off = listed(page, "reachable"), listed(page, "unreachable")
    following = {
        parent.userid
        for student in state.school.roster((department.wecom_id,))
        if student.userid in waiting
        for parent in student.parents
        if parent.is_subscribe
    }
    other.goto(confirm)
    with other.expect_navigation():
        other.click("#reminder-send")
    assert other.locator(".message--success").count() == 1
    [notice] = state.notice_log()
    assert set(notice["body"]["to_parent_userid"]) == following
    assert set(notice["delivered_parents"]) == following

    # The end: who never joined is 缺勤 if the roll call could remind them, else 未触达.
    assert state.end_living_now(living.livingid)
    living = sync(living)
    assert living.stats_complete
    page.wait_for_selector("#living-state[data-state=ended]", timeout=WAIT)
    came = {
        userid.lower()
        for userid in StudentWatch.objects.filter(living=living).values_list(
            "student_userid", flat=True
        )
    }
    verdicts = {
        row.student_userid: row.verdict
        for row in class_attendance(department=department, living=living)
        if row.student_userid.lower() not in came
    }
    assert verdicts and set(verdicts) <= waiting | cut_off
    assert {u for u, v in verdicts.items() if v == Verdict.ABSENT} == waiting & set(verdicts)
    assert {u for u, v in verdicts.items() if v == Verdict.UNREACHABLE} == cut_off & set(verdicts)
