"""提醒未进入的家长 in a real Chromium at phone size: the 班主任 presses the button on the live
lesson's page, confirms, and the sandbox records one 学校通知 to exactly the families of the
students not in the room; pressing again within 10 minutes sends nothing and says so."""

import pytest

from school_live.reminders.models import Reminder
from school_live.school.models import Department
from school_live.school.tenancy import default_school
from school_live.sync.living_stats import living_stats_sync
from tests.fixtures.browser import TEACHER_PASSWORD, browser_login
from tests.fixtures.sandbox import live_livingid

pytestmark = pytest.mark.browser

PHONE_SMALL = {"width": 375, "height": 740}
SEND = "/cgi-bin/externalcontact/message/send"


def no_sideways_scroll(page) -> None:
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= PHONE_SMALL["width"], page.url


def live_lesson_of(state, class_id: int) -> tuple[str, list[str]]:
    """The sandbox's live lesson, made this class's alone, started five minutes ago, with two
    students in the room; returns its id and who joined."""
    livingid = live_livingid(state)
    living = state.start_living_now(livingid, duration=3600)
    students = sorted(state.school.students_by_dept[class_id], key=lambda s: s.userid)
    with state.lock:
        living.living_start -= 300
        living.partyids = (class_id,)
        living.viewers = []
        living.sort_viewers()
    joined = [students[0].userid, students[1].userid]
    for userid in joined:
        state.add_watcher(
            livingid,
            userid,
            enter_time=living.living_start + 30,
            leave_time=living.living_start + 200,
            watch_time=170,
        )
    return livingid, joined


def test_a_teacher_reminds_the_families_once_and_a_second_press_sends_nothing(
    new_page, browser_school, screenshot_dir
):
    state = browser_school.sandbox.state
    class_id = browser_school.class_id
    livingid, joined = live_lesson_of(state, class_id)
    run = living_stats_sync(school=default_school(), livingid=livingid)
    assert run.status == "succeeded", run.error
    expected = {
        parent.userid
        for student in state.school.students_by_dept[class_id]
        if student.userid not in joined
        for parent in student.parents
        if parent.is_subscribe
    }

    page = new_page(viewport=PHONE_SMALL)
    browser_login(page, username=browser_school.username, password=TEACHER_PASSWORD)
    page.goto(f"/livings/{livingid}/?class={class_id}")
    assert page.locator("#living-state").get_attribute("data-state") == "live"
    no_sideways_scroll(page)
    with page.expect_navigation():
        page.click("#remind-button")

    # The confirmation: how many families, and the text they will read.
    preview = page.locator("#reminder-preview")
    families = int(preview.get_attribute("data-families"))
    assert families > 0
    assert (
        Department.objects.get(wecom_id=class_id).name
        in page.locator("#reminder-text").inner_text()
    )
    assert state.call_count(SEND) == 0
    no_sideways_scroll(page)
    page.screenshot(path=str(screenshot_dir / "reminder-confirm-phone.png"), full_page=True)
    with page.expect_navigation():
        page.click("#reminder-send")

    reminder = Reminder.objects.get()
    assert page.url.endswith(f"/reminders/{reminder.pk}/")
    assert page.locator(".message--success").count() == 1
    assert page.locator("#reminder-record").get_attribute("data-status") == "sent"
    assert page.locator(".reminder-students tbody tr").count() == families
    no_sideways_scroll(page)
    [notice] = state.notice_log()
    assert set(notice["delivered_parents"]) == expected
    assert set(notice["body"]["to_parent_userid"]) == expected
    assert notice["duplicate"] is False

    # Again within 10 minutes, from the lesson's page: nothing is sent, and the page says so.
    page.goto(f"/livings/{livingid}/?class={class_id}")
    with page.expect_navigation():
        page.click("#remind-button")
    assert page.locator("#reminder-none").count() == 1
    assert page.locator("#reminder-preview").get_attribute("data-recent") == str(families)
    with page.expect_navigation():
        page.click("#reminder-send")
    assert page.locator(".message--info").count() == 1
    page.screenshot(path=str(screenshot_dir / "reminder-again-phone.png"), full_page=True)
    assert state.call_count(SEND) == 1 and len(state.notice_log()) == 1
    assert Reminder.objects.count() == 1
