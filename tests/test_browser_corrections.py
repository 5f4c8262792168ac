"""请假 in a real Chromium on a phone (375 px): a 班主任 marks a student excused for a date range
and the class and student pages change; a subject teacher of the class gets no form, and their
direct POST is a 404. The school comes from a real sync of the sandbox (tests/fixtures/browser.py).
"""

import pytest
from django.utils import timezone

from tests.fixtures.browser import PHONE, TEACHER_PASSWORD, browser_login

pytestmark = pytest.mark.browser


def summary_of(page) -> dict[str, int]:
    summary = page.locator("#summary")
    return {
        key: int(summary.get_attribute(f"data-{key}"))
        for key in ("present", "partial", "absent", "unreachable", "excused")
    }


def no_sideways_scroll(page) -> bool:
    widths = page.evaluate(
        "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
    )
    return widths[0] <= widths[1]


def test_a_head_teacher_excuses_a_date_range_and_both_pages_change(
    new_page, browser_school, screenshot_dir
):
    from school_live.school.models import Living

    living = Living.objects.get(livingid=browser_school.livingid)
    day = timezone.localdate(living.living_start)
    page = new_page(viewport=PHONE)
    browser_login(page, username=browser_school.username, password=browser_school.password)
    class_url = f"/classes/{browser_school.class_id}/?living={browser_school.livingid}"
    page.goto(class_url)
    before = summary_of(page)
    assert before["excused"] == 0
    # A student who did not fully attend: the table lists them first.
    row = page.locator(
        "#students-table tbody tr[data-verdict=absent], "
        "#students-table tbody tr[data-verdict=unreachable], "
        "#students-table tbody tr[data-verdict=partial]"
    ).first
    was = row.get_attribute("data-verdict")
    with page.expect_navigation():
        row.locator("a").first.click()
    student_url = page.url

    form = page.locator("#excuse-form")
    assert form.is_visible() and no_sideways_scroll(page)
    form.locator("input[name=start]").fill(day.replace(day=max(1, day.day - 1)).isoformat())
    form.locator("input[name=end]").fill(day.isoformat())
    form.locator("select[name=kind]").select_option("sick")
    with page.expect_navigation():
        form.locator("button[type=submit]").click()

    assert page.url == student_url
    assert page.locator("#excuse-list li[data-active=true]").count() == 1
    assert summary_of(page)["excused"] >= 1
    assert no_sideways_scroll(page)
    page.screenshot(path=str(screenshot_dir / "student-excused-phone.png"), full_page=True)
    page.goto(class_url)
    after = summary_of(page)
    assert after["excused"] == 1
    assert after[was] == before[was] - 1
    assert page.locator("#students-table tbody tr[data-verdict=excused]").count() == 1


def test_a_subject_teacher_gets_no_form_and_a_direct_post_is_a_404(new_page, browser_school):
    from school_live.corrections.models import Excuse
    from school_live.school.models import ClassAssignment

    in_class = ClassAssignment.objects.filter(department__wecom_id=browser_school.class_id)
    heads = in_class.filter(role=ClassAssignment.Role.HEAD).values("teacher_id")
    subject = (
        in_class.filter(role=ClassAssignment.Role.SUBJECT)
        .exclude(teacher_id__in=heads)
        .select_related("teacher__user")
        .first()
    )
    assert subject is not None, "the sandbox's class has a subject teacher"
    user = subject.teacher.user
    user.set_password(TEACHER_PASSWORD)
    user.save()
    page = new_page(viewport=PHONE)
    browser_login(page, username=user.username, password=TEACHER_PASSWORD)
    page.goto(f"/students/{browser_school.student_userid}/")
    assert page.locator("#excuses").is_visible()
    assert page.locator("#excuse-form").count() == 0

    token = next(c["value"] for c in page.context.cookies() if c["name"] == "csrftoken")
    response = page.request.post(
        f"/students/{browser_school.student_userid}/excuses/",
        form={"start": "2026-03-01", "end": "2026-03-02", "kind": "sick"},
        headers={"X-CSRFToken": token, "Referer": page.url},
    )
    assert response.status == 404
    assert not Excuse.objects.exists()
