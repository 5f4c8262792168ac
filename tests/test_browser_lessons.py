"""A teacher's lesson from scheduling to its end, in a real Chromium at phone size: scheduled on the
site, created in the sandbox, started with 开始直播 through the sandbox's stand-in ww (the page code
is the one that runs with WeCom's SDK), then live and ended on a page nobody reloads by hand."""

import datetime as dt
import time

import pytest
import requests
from django.core.cache import cache
from django.utils import timezone

from school_live.lessons.services import LessonPlan, lesson_plan_check
from school_live.school.models import ClassAssignment, Department, Living, Teacher
from school_live.school.tenancy import default_school
from school_live.sync.triggers import living_sync_request
from tests.fixtures.browser import PHONE, TEACHER_PASSWORD, browser_login

pytestmark = pytest.mark.browser

THEME = "科学：影子的秘密"
LIVE_TIMEOUT = 60_000


def free_slot(teacher: Teacher, department: Department) -> dt.datetime:
    """The first start, a few minutes ahead, at which a two-week lesson clashes with none of the
    teacher's lessons in the sandbox's school (the form would refuse an overlap)."""
    now = timezone.localtime(timezone.now(), timezone.get_default_timezone()).replace(
        second=0, microsecond=0
    )
    for minutes in range(5, 7 * 24 * 60, 15):
        start = now + dt.timedelta(minutes=minutes)
        plan = LessonPlan(
            teacher=teacher, classes=(department,), start=start, minutes=30, theme=THEME, weeks=2
        )
        if not lesson_plan_check(plan):
            return start
    raise AssertionError("the teacher has no free half hour this week")


def no_sideways_scroll(page) -> None:
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= PHONE["width"], page.url


@pytest.mark.worker
def test_a_teacher_schedules_starts_and_watches_a_lesson_go_live_and_end(
    new_page, browser_school, celery_worker_factory, settings, screenshot_dir
):
    sandbox = browser_school.sandbox
    settings.WECOM_JSSDK_URL = f"{sandbox.url}/sandbox/ww.js"
    cache.clear()  # no JS-SDK ticket from an earlier test: the sandbox issued new ones since
    celery_worker_factory(sandbox)
    department = Department.objects.get(wecom_id=browser_school.class_id)
    teacher = Teacher.objects.get(user__username=browser_school.username)
    start = free_slot(teacher, department)

    page = new_page(viewport=PHONE)
    browser_login(page, username=browser_school.username, password=TEACHER_PASSWORD)

    # From the home page, as a new user would: the scheduling link, then the form.
    page.click("#schedule-link")
    page.wait_for_selector("#schedule-form")
    no_sideways_scroll(page)
    assert page.locator("#id_theme").get_attribute("maxlength") == "20"
    page.fill("#id_theme", THEME)
    page.fill("#id_date", start.date().isoformat())
    page.fill("#id_time", start.strftime("%H:%M"))
    page.fill("#id_minutes", "30")
    assert page.locator("#lesson-type input[value='2']").is_checked()  # 大班课 by default
    page.fill("#id_remind_minutes", "5")
    page.get_by_label(department.name, exact=True).check()
    page.check("#id_repeat")
    page.fill("#id_weeks", "2")
    page.screenshot(path=str(screenshot_dir / "schedule-phone.png"), full_page=True)
    with page.expect_navigation():
        page.click("#schedule-button")

    created = [lv for lv in sandbox.state.school.livings.values() if lv.theme == THEME]
    assert len(created) == 2, page.locator("#form-errors").all_inner_texts()
    first = min(created, key=lambda lv: lv.living_start)
    assert first.living_start == int(start.timestamp())
    assert page.url.endswith(f"/livings/{first.livingid}/")
    assert page.locator("#wecom-status").get_attribute("data-status") == "0"

    # Upcoming on the home page; the teacher opens it from there.
    page.click(".brand")
    upcoming = page.locator(f"#upcoming-livings li[data-livingid='{first.livingid}']")
    assert upcoming.count() == 1
    assert THEME in upcoming.inner_text()
    no_sideways_scroll(page)
    with page.expect_navigation():
        upcoming.locator("a").click()
    assert page.locator("#living-state").get_attribute("data-state") == "upcoming"

    # 开始直播: the stand-in ww registers with the site's signatures, the sandbox starts the
    # lesson, the site asks WeCom (get_living_info) and the page shows the lesson live by
    # WeCom's start time. Its WeCom status stays as it was: only WeCom's callback changes it.
    button = page.locator("#start-living-button")
    page.wait_for_selector("#start-living-button:enabled")
    assert page.locator("#wecom-start-outside").is_hidden()
    no_sideways_scroll(page)
    with page.expect_navigation():
        button.click()
    assert sandbox.state.school.livings[first.livingid].status(sandbox.state.clock()) == 1
    assert page.locator("#wecom-status").get_attribute("data-status") == "0"
    assert page.locator("#living-state").get_attribute("data-state") in ("unsynced", "live")
    # The page shows it live at once (its roll call); the worker syncs the started lesson.
    page.wait_for_selector("#living-state[data-state=live]", timeout=LIVE_TIMEOUT)
    synced = Living.objects.filter(livingid=first.livingid, stats_synced_at__isnull=False)
    deadline = time.monotonic() + LIVE_TIMEOUT / 1000
    while not synced.exists() and time.monotonic() < deadline:
        time.sleep(0.5)
    assert synced.exists(), "the worker never synced the started lesson"
    # Ended in the second it started, it would end a second later than now (the sandbox keeps
    # a lesson at least 1 s long): let that second pass first.
    while sandbox.state.clock() <= sandbox.state.school.livings[first.livingid].living_start + 1:
        time.sleep(0.2)
    page.screenshot(path=str(screenshot_dir / "living-live-phone.png"), full_page=True)

    # The teacher ends the lesson in WeCom; a sync (the sweep's or the callback's) reads it.
    ended = requests.post(f"{sandbox.url}/sandbox/livings/{first.livingid}/end", timeout=5)
    assert ended.json()["living"]["status"] == "ended"
    living_sync_request(school=default_school(), livingid=first.livingid)
    page.wait_for_selector("#living-state[data-state=ended]", timeout=LIVE_TIMEOUT)
    living = Living.objects.get(livingid=first.livingid)
    assert living.living_end <= timezone.now()
    assert page.locator("#start-living-button").count() == 0


def test_a_teacher_of_another_class_gets_a_404_when_scheduling_for_it(new_page, browser_school):
    other = (
        ClassAssignment.objects.exclude(department__wecom_id=browser_school.class_id)
        .exclude(teacher__assignments__department__wecom_id=browser_school.class_id)
        .select_related("teacher__user")
        .first()
    )
    user = other.teacher.user
    user.set_password(TEACHER_PASSWORD)
    user.save()
    page = new_page(viewport=PHONE)
    browser_login(page, username=user.username, password=TEACHER_PASSWORD)
    response = page.goto(f"/lessons/new/?class={browser_school.class_id}")
    assert response.status == 404
    # Their own class's form works, and does not offer the other class.
    page.goto(f"/lessons/new/?class={other.department.wecom_id}")
    assert page.locator("#schedule-form").count() == 1
    hidden = Department.objects.get(wecom_id=browser_school.class_id).pk  # the form's values
    assert page.locator(f"#lesson-classes input[value='{hidden}']").count() == 0
