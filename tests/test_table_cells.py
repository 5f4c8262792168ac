"""The dashboard's tables and its lesson picker are written by the libraries' own rendering
(django-tables2's ``row.items`` and ``row.attrs``, Django's ``Select``): what users see of them
is pinned here — one cell per column with the column's attributes, the row's verdict attribute,
every value from WeCom or users escaped, and the picker's choices with the chosen one selected."""

import html
import re

import pytest
from django import forms
from django.urls import reverse

from school_live.dashboard.forms import PeriodForm
from school_live.school.models import Living
from school_live.school.tenancy import default_school

# The django-tables2 tables (dashboard/tables/table.html), not the charts' data tables.
TABLES = re.compile(r'<div class="table-wrap"[^>]*>\s*<table\b.*?</table>', re.S)
HEADERS = re.compile(r"<th\b", re.S)
ROWS = re.compile(r"<tbody>(.*?)</tbody>", re.S)
ROW = re.compile(r"<tr\b([^>]*)>(.*?)</tr>", re.S)
CELL = re.compile(r"<td\b([^>]*)>(.*?)</td>", re.S)


def page_tables(client, url: str) -> list[str]:
    response = client.get(url)
    assert response.status_code == 200, url
    return TABLES.findall(response.content.decode())


@pytest.fixture
def urls(dashboard_small, attendance_living):
    class_one = dashboard_small["class"]
    livings = dashboard_small["livings"]
    student = class_one.students.order_by("student_userid").first()
    upcoming = Living.objects.create(
        school=default_school(), livingid="lv-ahead", theme="明天", living_start=None
    )
    upcoming.classes.add(class_one)
    class_url = reverse("dashboard:class", args=[class_one.wecom_id])
    return [
        class_url,
        f"{class_url}?living=lv-math",
        f"{class_url}?living=lv-math&sort=-coverage",
        f"{class_url}?living=lv-math&per_page=2&page=2",
        f"{class_url}?living=lv-ahead",
        f"{class_url}?start=2020-01-01&end=2030-12-31",
        f"{class_url}?start=2020-01-01&end=2030-12-31&sort=name",
        reverse("dashboard:living", args=[livings[-1].livingid]),
        reverse("dashboard:living", args=["lv-math"]),
        reverse("dashboard:student", args=[student.student_userid]),
        reverse("dashboard:student", args=["late"]),
    ]


def test_every_table_row_has_one_cell_per_column_escaped(client, head_teacher, urls):
    client.force_login(head_teacher.user)
    tables = [table for url in urls for table in page_tables(client, url)]
    assert len(tables) >= len(urls)
    verdicts, numbers, cells = set(), 0, []
    for table in tables:
        columns = len(HEADERS.findall(table.split("</thead>")[0]))
        for attrs, row in ROW.findall(ROWS.search(table).group(1)):
            found = CELL.findall(row)
            if 'colspan="' in row:  # the table's empty text: one cell across every column
                assert found == [(f' colspan="{columns}"', found[0][1])]
                continue
            assert len(found) == columns, row
            verdicts.update(re.findall(r'data-verdict="([a-z_]+)"', attrs))
            numbers += sum(' class="number"' in cell_attrs for cell_attrs, _text in found)
            cells += [text for _attrs, text in found]
    # The row's attributes (ClassAttendanceTable.row_attrs) and the columns' (NUMBER).
    assert "absent" in verdicts
    assert numbers
    # A hostile nickname shows as text: escaped once, never markup, never escaped twice.
    assert any("&lt;script&gt;alert(" in cell for cell in cells)
    assert not any("<script" in cell or "&amp;lt;" in cell for cell in cells)
    assert any(html.unescape(cell.strip()) == "家长<b>粗体</b>" for cell in cells)


@pytest.mark.parametrize(
    "choices",
    [
        [("lv-1", "05-12 08:00 · 数学"), ("lv-2", "05-13 08:00 · <b>语文</b> & 未开始")],
        [("", "—"), ('"quoted"', "=HYPERLINK('x')"), ("lv-3", "")],
    ],
)
def test_the_lesson_picker_writes_every_choice_escaped_the_chosen_one_selected(choices):
    form = PeriodForm(livings=[])
    widget = form.fields["living"].widget
    assert type(widget) is forms.Select  # Django's own widget and templates
    widget.choices = choices
    written = widget.render("living", choices[-1][0], attrs={"id": "id_living"})
    assert written.startswith('<select name="living" id="id_living">')
    options = re.findall(r'<option value="([^"]*)"( selected)?>([^<]*)</option>', written)
    assert [(html.unescape(value), html.unescape(label)) for value, _s, label in options] == [
        (value, label) for value, label in choices
    ]
    assert [bool(selected) for _v, selected, _l in options] == [
        value == choices[-1][0] for value, _label in choices
    ]
    assert "<b>" not in written


def test_the_class_page_picker_lists_the_class_lessons_with_the_shown_one_selected(
    client, head_teacher, urls
):
    client.force_login(head_teacher.user)
    page = client.get(urls[1]).content.decode()
    picker = re.search(r'<select name="living"[^>]*>(.*?)</select>', page, re.S).group(1)
    assert re.search(r'<option value="lv-math" selected>', picker)
    assert picker.count(" selected") == 1
    assert '<option value="lv-ahead">' in picker
