"""The dashboard in a real Chromium: what a teacher sees, clicks and downloads, on a desktop and a
phone, read by axe-core; the school comes from a real sync of the sandbox (tests/fixtures/browser.py).
"""

import csv
import io
import re

import openpyxl
import pytest

from tests.fixtures.browser import DESKTOP, HOSTILE_NICKNAMES, PHONE, browser_login

pytestmark = pytest.mark.browser

SEVERITY = {"absent": 0, "unreachable": 1, "partial": 2, "present": 3}


def signed_in_page(new_page, school, viewport=None):
    page = new_page(viewport=viewport or DESKTOP)
    browser_login(page, username=school.username, password=school.password)
    assert "/accounts/login/" not in page.url, "the teacher could not sign in"
    return page


def class_url(school) -> str:
    return f"/classes/{school.class_id}/?living={school.livingid}"


def teacher_pages(school) -> dict[str, str]:
    return {
        "home": "/",
        "class": class_url(school),
        "living": f"/livings/{school.livingid}/",
        "student": f"/students/{school.student_userid}/",
    }


def summary_counts(page) -> dict[str, int]:
    summary = page.locator("#summary")
    return {
        key: int(summary.get_attribute(f"data-{key}"))
        for key in ("present", "partial", "absent", "unreachable", "total")
    }


def row_verdicts(page) -> list[str]:
    return page.locator("#students-table tbody tr[data-verdict]").evaluate_all(
        "rows => rows.map(row => row.dataset.verdict)"
    )


def wait_for_chart(page, canvas_id: str) -> None:
    page.wait_for_function(
        "id => window.Chart && Chart.getChart(document.getElementById(id))", arg=canvas_id
    )


def test_teacher_signs_in_and_home_lists_their_class_and_lessons(new_page, browser_school):
    page = signed_in_page(new_page, browser_school)

    assert page.url == f"{browser_school.live_url}/"
    assert page.locator(f"#classes a[href='/classes/{browser_school.class_id}/']").count() == 1
    assert page.locator("#recent-livings .card").count() >= 1
    page.click(f"#classes a[href='/classes/{browser_school.class_id}/']")
    # The class page opens on its latest lesson: its students' verdicts, or, when that lesson
    # is live at the sandbox's hour, its roll call.
    page.wait_for_selector("#students-table, #rollcall")
    assert page.url.endswith(f"/classes/{browser_school.class_id}/")


def test_wrong_password_keeps_the_visitor_on_the_login_page(new_page, browser_school):
    page = new_page()
    browser_login(page, username=browser_school.username, password="not-the-password")

    assert "/accounts/login/" in page.url
    assert page.locator(".errorlist[role=alert]").is_visible()


def test_class_page_draws_its_histograms_from_the_data_and_lists_every_student(
    new_page, browser_school
):
    page = signed_in_page(new_page, browser_school)
    page.goto(class_url(browser_school))
    wait_for_chart(page, "coverage-chart")
    wait_for_chart(page, "arrival-chart")
    counts = summary_counts(page)

    for canvas_id, data_id in (
        ("coverage-chart", "coverage-data"),
        ("arrival-chart", "arrival-data"),
    ):
        drawn = page.evaluate(
            """([canvasId, dataId]) => {
                const canvas = document.getElementById(canvasId);
                const chart = Chart.getChart(canvas);
                const pixels = canvas.getContext("2d")
                    .getImageData(0, 0, canvas.width, canvas.height).data;
                let inked = 0;
                for (let i = 3; i < pixels.length; i += 4) { if (pixels[i] > 0) inked++; }
                const values = chart.data.datasets.flatMap(set => set.data.map(Number));
                return {inked, values, source: JSON.parse(document.getElementById(dataId).textContent)};
            }""",
            [canvas_id, data_id],
        )
        assert drawn["inked"] > 500, f"{canvas_id} looks blank"
        source_counts = [bucket["count"] for bucket in drawn["source"]["buckets"]]
        assert sum(drawn["values"]) == sum(source_counts) > 0, canvas_id

    # Every watcher is in one coverage bucket; the students who did not watch are in none.
    coverage_total = page.evaluate(
        "() => Chart.getChart(document.getElementById('coverage-chart'))"
        ".data.datasets.flatMap(s => s.data).reduce((a, b) => a + Number(b), 0)"
    )
    assert coverage_total <= counts["total"]
    assert counts["total"] == browser_school.student_count
    assert len(row_verdicts(page)) == browser_school.student_count
    assert page.locator("#students-table").is_visible()


def test_students_table_sorts_by_verdict_both_ways(new_page, browser_school):
    page = signed_in_page(new_page, browser_school)
    page.goto(class_url(browser_school))

    header = page.locator("#students-table thead th", has=page.locator("a[href*='sort=verdict']"))
    with page.expect_navigation():
        header.locator("a").click()
    ascending = [SEVERITY[v] for v in row_verdicts(page)]
    assert ascending == sorted(ascending)
    assert "sort=verdict" in page.url

    header = page.locator("#students-table thead th[aria-sort]")
    with page.expect_navigation():
        header.locator("a").click()
    descending = [SEVERITY[v] for v in row_verdicts(page)]
    assert descending == sorted(descending, reverse=True)
    assert page.locator("#students-table thead th[aria-sort=descending]").count() == 1
    assert len(set(descending)) > 1, "the class should mix verdicts for this test to mean much"


def test_filtering_by_verdict_shows_exactly_those_students(new_page, browser_school):
    page = signed_in_page(new_page, browser_school)
    page.goto(class_url(browser_school))
    counts = summary_counts(page)
    verdict = max(("absent", "unreachable", "partial"), key=lambda v: counts[v])
    assert counts[verdict] > 0

    page.select_option("#filter-form select[name=verdict]", verdict)
    with page.expect_navigation():
        page.click("#filter-form button[type=submit]")

    assert row_verdicts(page) == [verdict] * counts[verdict]
    assert f"verdict={verdict}" in page.url
    # The summary describes the lesson, not the filtered table.
    assert summary_counts(page) == counts


def test_csv_and_xlsx_downloads_hold_one_row_per_student(new_page, browser_school, tmp_path):
    page = signed_in_page(new_page, browser_school)
    page.goto(class_url(browser_school))

    with page.expect_download() as csv_download:
        page.click("#download-csv")
    csv_path = tmp_path / csv_download.value.suggested_filename
    csv_download.value.save_as(csv_path)
    rows = list(csv.reader(io.StringIO(csv_path.read_text(encoding="utf-8-sig"))))
    assert csv_path.suffix == ".csv"
    assert len(rows) == 1 + browser_school.student_count
    userids = {row[1] for row in rows[1:]}
    assert browser_school.student_userid in userids

    with page.expect_download() as xlsx_download:
        page.click("#download-xlsx")
    xlsx_path = tmp_path / xlsx_download.value.suggested_filename
    xlsx_download.value.save_as(xlsx_path)
    sheet = openpyxl.load_workbook(xlsx_path, read_only=True).worksheets[0]
    sheet_rows = [row for row in sheet.iter_rows(values_only=True) if any(row)]
    assert xlsx_path.suffix == ".xlsx"
    assert len(sheet_rows) == 1 + browser_school.student_count
    assert list(sheet_rows[0]) == rows[0]


def test_hostile_visitor_nicknames_show_as_text_and_run_nothing(new_page, browser_school):
    page = signed_in_page(new_page, browser_school)
    page.goto(f"/livings/{browser_school.livingid}/")
    page.wait_for_load_state("load")

    assert page.evaluate("() => typeof window.__pwned") == "undefined"
    nicknames = page.locator("#visitors-table td.nickname").all_inner_texts()
    for nickname in HOSTILE_NICKNAMES:
        assert nickname in nicknames
    assert page.locator("#visitors-table img").count() == 0
    assert page.locator("#visitors-table script").count() == 0


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_every_page_passes_axe(new_page, browser_school, viewport):
    from axe_playwright_python.sync_playwright import Axe

    axe = Axe()
    page = new_page(viewport=viewport)
    page.goto("/accounts/login/")
    problems = {}
    results = axe.run(page)
    if results.violations_count:
        problems["login"] = results.generate_report()
    browser_login(page, username=browser_school.username, password=browser_school.password)
    for name, url in teacher_pages(browser_school).items():
        page.goto(url)
        page.wait_for_load_state("load")
        results = axe.run(page)
        if results.violations_count:
            problems[name] = results.generate_report()
    assert not problems, "\n\n".join(f"== {name}\n{report}" for name, report in problems.items())


def test_no_page_scrolls_sideways_on_a_phone(new_page, browser_school):
    page = new_page(viewport=PHONE)
    page.goto("/accounts/login/")
    wide = {}
    widths = page.evaluate(
        "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
    )
    if widths[0] > widths[1]:
        wide["login"] = widths
    browser_login(page, username=browser_school.username, password=browser_school.password)
    for name, url in teacher_pages(browser_school).items():
        page.goto(url)
        page.wait_for_load_state("load")
        widths = page.evaluate(
            "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
        )
        if widths[0] > widths[1]:
            culprits = page.evaluate(
                """() => [...document.querySelectorAll('body *')]
                    .filter(el => el.getBoundingClientRect().right > document.documentElement.clientWidth + 1)
                    .filter(el => !el.closest('.table-wrap'))
                    .slice(0, 5)
                    .map(el => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '')
                        + (el.className && typeof el.className === 'string' ? '.' + el.className.split(' ').join('.') : ''))"""
            )
            wide[name] = (widths, culprits)
    assert not wide, f"pages wider than the phone (scrollWidth, clientWidth, widest): {wide}"


def test_screenshots_of_home_class_and_living_pages(new_page, browser_school, screenshot_dir):
    for size_name, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
        page = signed_in_page(new_page, browser_school, viewport=viewport)
        for name, url in teacher_pages(browser_school).items():
            if name == "student":
                continue
            page.goto(url)
            page.wait_for_load_state("load")
            if name == "class":
                wait_for_chart(page, "coverage-chart")
                wait_for_chart(page, "arrival-chart")
                # Chart.js animates the bars in; the picture should show them at full height.
                page.wait_for_timeout(1200)
            path = screenshot_dir / f"{name}-{size_name}.png"
            page.screenshot(path=str(path), full_page=True)
            assert path.stat().st_size > 10_000
            if name == "class" and viewport is DESKTOP:
                # The top of the class page (numbers, charts, the first rows) for the README.
                top = screenshot_dir / "class-desktop-top.png"
                page.screenshot(
                    path=str(top),
                    full_page=True,
                    clip={"x": 0, "y": 0, "width": 1280, "height": 1100},
                )


@pytest.mark.worker
def test_refresh_button_shows_progress_then_the_new_numbers(
    new_page, browser_school, celery_worker_factory
):
    """A real worker process takes the sync; the sandbox changed meanwhile: three students who
    were present are now nowhere in WeCom's list."""
    from school_live.attendance.queries import class_attendance
    from school_live.school.models import Department, Living

    celery_worker_factory(browser_school.sandbox)
    page = signed_in_page(new_page, browser_school)
    living_url = f"/livings/{browser_school.livingid}/"
    page.goto(living_url)
    before = summary_counts(page)
    present = [
        row.student_userid
        for row in class_attendance(
            department=Department.objects.get(wecom_id=browser_school.class_id),
            living=Living.objects.get(livingid=browser_school.livingid),
        )
        if row.verdict == "present"
    ][:3]
    assert len(present) == 3
    for userid in present:
        browser_school.sandbox.state.remove_watcher(browser_school.livingid, userid)

    status = page.locator("#refresh-status")
    with page.expect_navigation(timeout=60_000):
        page.click("#refresh-button")
        # The click shows progress at once (starting, then queued or running) and the page
        # reloads when the run has finished.
        page.wait_for_function(
            "() => document.getElementById('refresh-status').textContent.trim().length > 0"
        )
        assert status.get_attribute("data-state") in {"starting", "queued", "running", "succeeded"}
        assert (
            page.locator("#refresh-button").is_disabled()
            or status.get_attribute("data-state") == "succeeded"
        )
    page.wait_for_load_state("load")

    after = summary_counts(page)
    assert after["present"] == before["present"] - 3
    assert after["absent"] + after["unreachable"] + after["partial"] > (
        before["absent"] + before["unreachable"] + before["partial"]
    )
    assert re.search(r"\d", page.locator(".freshness").first.inner_text())
