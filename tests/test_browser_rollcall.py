"""A live lesson's roll call on a phone (375×740) fills up while students arrive in the sandbox: the
page is never reloaded (a marker set on window survives), the counts grow, the reader's place on
the page stays put; once the lesson ends the page turns into the verdicts by itself."""

import pytest
import requests

from school_live.school.models import Living
from school_live.school.tenancy import default_school
from school_live.sync.living_stats import living_stats_sync
from tests.fixtures.browser import TEACHER_PASSWORD, browser_login

pytestmark = pytest.mark.browser

PHONE_740 = {"width": 375, "height": 740}
WAIT = 30_000


def joined_count(page) -> int:
    return int(page.locator("#rollcall-counts [data-total=joined]").inner_text())


def test_the_roll_call_fills_up_without_a_reload_and_keeps_the_place(
    new_page, browser_school, settings, screenshot_dir
):
    settings.ROLLCALL_REFRESH_SECONDS = 5  # the page's poll; 20 s in production
    state = browser_school.sandbox.state
    head = next(
        a.userid
        for d in state.school.departments.values()
        if d.id == browser_school.class_id
        for a in d.admins
        if a.type == 3
    )
    living = state.schedule_demo_living(
        start_in=0, duration=1800, partyids=(browser_school.class_id,), anchor_userid=head
    )
    run = living_stats_sync(school=default_school(), livingid=living.livingid)
    assert run.status == "succeeded", run.error

    page = new_page(viewport=PHONE_740)
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    browser_login(page, username=browser_school.username, password=TEACHER_PASSWORD)
    page.goto(f"/livings/{living.livingid}/")
    page.wait_for_selector("#rollcall")
    assert page.locator("#living-state").get_attribute("data-state") == "live"
    before = joined_count(page)
    waiting = page.locator("[data-list=reachable] [data-student]").evaluate_all(
        "items => items.map(item => item.dataset.student)"
    )
    assert len(waiting) >= 3, "students still to come"

    page.evaluate("window.__rollcallMarker = 'not reloaded'")
    # The teacher reads the list of the unreachable, scrolled down to it: the list of who has
    # not joined is above, the list of who has below.
    place = "document.querySelector('[data-group=unreachable]').getBoundingClientRect().top"
    page.evaluate(f"window.scrollTo(0, {place} + window.scrollY + 5)")
    reading_top = page.evaluate(place)
    assert -10 < reading_top < 0

    # Three students arrive now, in WeCom; the next sync reads them.
    arrived = waiting[:3]
    for userid in arrived:
        state.watcher_arrive(living.livingid, userid)
    living_stats_sync(school=default_school(), livingid=living.livingid)

    page.wait_for_function(
        f"Number(document.querySelector('#rollcall-counts [data-total=joined]').textContent)"
        f" >= {before + 3}",
        timeout=WAIT,
    )
    assert page.evaluate("window.__rollcallMarker") == "not reloaded"
    assert errors == []
    joined = page.locator("[data-list=joined] [data-student]").evaluate_all(
        "items => items.map(item => item.dataset.student)"
    )
    assert set(arrived) <= set(joined)
    still_waiting = page.locator("[data-list=reachable] [data-student]").evaluate_all(
        "items => items.map(item => item.dataset.student)"
    )
    assert not set(arrived) & set(still_waiting)
    # The place the teacher was reading did not move, though rows moved above it.
    assert abs(page.evaluate(place) - reading_top) <= 2, (reading_top, page.evaluate(place))
    assert page.locator("#rollcall-age").inner_text().strip()
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= PHONE_740["width"]
    page.screenshot(path=str(screenshot_dir / "rollcall-phone.png"), full_page=True)

    # The lesson ends in WeCom; once synced, living-state.js reloads the page into verdicts.
    assert requests.post(
        f"{browser_school.sandbox.url}/sandbox/livings/{living.livingid}/end", timeout=5
    ).ok
    living_stats_sync(school=default_school(), livingid=living.livingid)
    assert Living.objects.get(livingid=living.livingid).stats_complete
    page.wait_for_selector("#living-state[data-state=ended]", timeout=WAIT)
    assert page.locator("#rollcall").count() == 0
    assert page.locator("#summary").count() == 1
