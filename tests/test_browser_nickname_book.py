"""The nickname book in a real Chromium on a phone (375 px): a 班主任 claims a WeChat visitor
whose nickname is a <script> for a student of the class who did not watch, and the student is
then counted through that visitor, the nickname shown as text; the page stays readable by
axe-core and never scrolls sideways. The school comes from a real sync of the sandbox
(tests/fixtures/browser.py)."""

import pytest

from tests.fixtures.browser import HOSTILE_NICKNAMES, PHONE, browser_login

pytestmark = pytest.mark.browser


def no_sideways_scroll(page) -> bool:
    widths = page.evaluate(
        "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
    )
    return widths[0] <= widths[1]


def test_a_head_teacher_claims_a_hostile_nickname_on_a_phone(
    new_page, browser_school, screenshot_dir
):
    from axe_playwright_python.sync_playwright import Axe

    from school_live.corrections.models import NicknameClaim

    page = new_page(viewport=PHONE, locale="en-US")
    browser_login(page, username=browser_school.username, password=browser_school.password)
    url = f"/livings/{browser_school.livingid}/?class={browser_school.class_id}"
    page.goto(url)
    form = page.locator("#nickname-claim-form")
    assert form.is_visible() and no_sideways_scroll(page)
    results = Axe().run(page)
    assert not results.violations_count, results.generate_report()

    # A student of the class who did not watch: the table lists them first.
    row = page.locator(
        "#students-table tbody tr[data-verdict=absent], "
        "#students-table tbody tr[data-verdict=unreachable]"
    ).first
    userid = row.locator("a").first.get_attribute("href").rstrip("/").rsplit("/", 1)[-1]
    nickname = HOSTILE_NICKNAMES[0]
    form.locator("select[name=nickname]").select_option(value=nickname)
    form.locator("select[name=student]").select_option(value=userid)
    with page.expect_navigation():
        form.locator("button[type=submit]").click()

    claim = NicknameClaim.objects.get()
    assert (claim.nickname, claim.student.student_userid) == (nickname, userid)
    assert page.evaluate("() => typeof window.__pwned") == "undefined"
    assert page.locator("#nickname-claims li .nickname").all_inner_texts() == [nickname]
    assert f"via WeChat 访客 {nickname}" in page.locator("#students-table").inner_text()
    assert page.locator("#students-table script, #nickname-book script").count() == 0
    # A message quotes the nickname: one long word must not widen the page.
    assert no_sideways_scroll(page)
    page.screenshot(path=str(screenshot_dir / "living-nickname-book-phone.png"), full_page=True)

    with page.expect_navigation():
        page.locator("#nickname-claims button[type=submit]").first.click()
    claim.refresh_from_db()
    assert claim.revoked_at is not None
    assert "via WeChat 访客" not in page.locator("#students-table").inner_text()
