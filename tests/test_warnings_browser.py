"""The early warnings on the class page in a real Chromium: listed with their evidence, hostile
names shown as text, read by axe-core, and no sideways scrolling on a phone."""

import pytest
from django.utils import timezone

from school_live.school.models import AttendancePolicy
from school_live.school.tenancy import default_school
from tests.fixtures.browser import DESKTOP, PHONE, browser_login
from tests.fixtures.people import PASSWORD
from tests.fixtures.warnings import NOW, build_class

pytestmark = pytest.mark.browser

HOSTILE_NAME = '<img src=x onerror="window.__pwned=1">李四'


@pytest.fixture
def class_page(transactional_db, new_page, school, head_teacher, clock_at):
    """The class at the fixture's own clock (the page reads the time: the rules count calendar
    months, so the real date would change what they find)."""
    clock_at(NOW)
    AttendancePolicy.current(default_school())
    made = build_class(school["class_one"], now=NOW)
    made.people.li.name = HOSTILE_NAME
    made.people.li.save(update_fields=["name"])

    def open_page(viewport=DESKTOP):
        page = new_page(viewport=viewport, locale="en-US")
        browser_login(page, username=head_teacher.userid, password=PASSWORD)
        page.goto(f"/classes/{school['class_one'].wecom_id}/")
        page.wait_for_load_state("load")
        return page

    return open_page, made


def test_class_page_shows_each_warning_with_its_evidence(class_page):
    open_page, made = class_page
    page = open_page()

    students = page.locator("#warnings li.warnings__student")
    assert students.count() == 4
    li = page.locator('#warnings li[data-student="s_li"]')
    assert li.locator("a").inner_text() == HOSTILE_NAME
    dates = ", ".join(
        timezone.localtime(made.lessons[index].living_start).strftime("%m-%d")
        for index in (4, 5, 7)
    )
    assert li.locator('[data-kind="absent"]').inner_text() == (
        f"absent 3 of the last 5 lessons ({dates})"
    )
    wang = page.locator('#warnings li[data-student="s_wang"] [data-kind="unreachable"]')
    assert wang.inner_text().startswith("family unreachable for 6 lessons")
    assert page.evaluate("() => typeof window.__pwned") == "undefined"
    assert page.locator("#warnings img").count() == 0
    li.locator("a").click()
    page.wait_for_url("**/students/s_li/")


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_warnings_pass_axe_and_fit_a_phone(class_page, viewport):
    from axe_playwright_python.sync_playwright import Axe

    open_page, _made = class_page
    page = open_page(viewport)
    assert page.locator("#warnings li.warning").count() >= 4
    results = Axe().run(page, context="#warnings")
    assert not results.violations_count, results.generate_report()
    # The section itself never reaches past the phone's width.
    wide = page.evaluate(
        """() => [...document.querySelectorAll('#warnings, #warnings *')]
            .filter(el => el.getBoundingClientRect().right > document.documentElement.clientWidth + 1)
            .map(el => el.tagName.toLowerCase() + (el.id ? '#' + el.id : ''))"""
    )
    assert wide == []
