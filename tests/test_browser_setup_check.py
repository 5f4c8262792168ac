"""The 企业微信连接检查 page and its banner in Chromium, at a desk and on a phone: an admin sees
the failure, reads what to change, fixes it in WeCom and checks again."""

import pytest
from django.contrib.auth import get_user_model

from school_live.setup_check.models import SetupCheck
from school_live.setup_check.schools import default_school
from school_live.setup_check.services import setup_check_run
from tests.fixtures.browser import DESKTOP, PHONE

pytestmark = pytest.mark.browser

PASSWORD = "setup-check-admin-7e2b"
WIDTH = "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]"


@pytest.fixture
def failing_school(transactional_db, wecom_settings, wecom_sandbox):
    get_user_model().objects.create_superuser(
        username="jiaowu", password=PASSWORD, email="jiaowu@school.example"
    )
    school = default_school()
    wecom_sandbox.state.set_setup(untrusted_ip="203.0.113.9")
    setup_check_run(school=school, trigger=SetupCheck.Trigger.SCHEDULE)
    return school


def admin_login(page) -> None:
    page.goto("/admin/login/?next=/admin/")
    page.fill("input[name=username]", "jiaowu")
    page.fill("input[name=password]", PASSWORD)
    with page.expect_navigation():
        page.click("input[type=submit]")


@pytest.mark.parametrize("size_name,viewport", [("desktop", DESKTOP), ("phone", PHONE)])
def test_an_admin_sees_the_failure_fixes_it_and_checks_again(
    new_page, failing_school, wecom_sandbox, screenshot_dir, size_name, viewport
):
    page = new_page(viewport=viewport)
    admin_login(page)
    banner = page.locator("#setup-check-banner")
    assert banner.is_visible() and "企业微信连接检查未通过" in banner.inner_text()
    with page.expect_navigation():
        banner.get_by_role("link").click()
    line = page.locator('tr[data-key="agent"]')
    assert line.get_attribute("data-status") == "failed"
    assert "203.0.113.9" in line.inner_text() and "企业可信IP" in line.inner_text()
    page.screenshot(path=str(screenshot_dir / f"setup-check-{size_name}.png"), full_page=True)
    width, visible = page.evaluate(WIDTH)
    assert width <= visible, (width, visible)

    wecom_sandbox.state.reset()  # the admin added the address in WeCom's console
    with page.expect_navigation():
        page.get_by_role("button", name="立即检查").click()
    assert (
        page.locator(".setup-check section, section[data-ok]").first.get_attribute("data-ok") == "1"
    )
    assert page.locator('tr[data-status="failed"]').count() == 0
    assert "全部检查通过" in page.inner_text("body")
    page.goto("/admin/")
    assert page.locator("#setup-check-banner").count() == 0
