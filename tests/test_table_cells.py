"""What the dashboard writes in Python for speed is what the templates it replaced wrote:
``{% table_cells row %}`` (dashboard/templatetags/dashboard_tables.py) writes every table of
every page as django-tables2's own row loop did (the pages are rendered once with the shipped
table template and once with the loop it replaced, and their tables compared), and the lesson
picker (dashboard/widgets.py) writes what Django's select template writes."""

import re
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.urls import reverse

from school_live.school.models import Living

SHIPPED = Path(django_settings.BASE_DIR) / "templates/dashboard/tables/table.html"
LOOP = """          <tr {{ row.attrs.as_html }}>
            {% for column, cell in row.items %}
              <td {{ column.attrs.td.as_html }}>{{ cell }}</td>
            {% endfor %}
          </tr>"""
TABLES = re.compile(r"<table\b.*?</table>", re.S)


def reference_template(folder: Path) -> Path:
    shipped = SHIPPED.read_text()
    tag = """          <tr {% table_row_attrs row %}>
            {% table_cells row %}
          </tr>"""
    assert tag in shipped
    target = folder / "dashboard/tables/table.html"
    target.parent.mkdir(parents=True)
    target.write_text(shipped.replace(tag, LOOP))
    return folder


def page_tables(client, url: str) -> list[str]:
    response = client.get(url)
    assert response.status_code == 200, url
    return TABLES.findall(response.content.decode())


@pytest.fixture
def urls(dashboard_small, attendance_living):
    class_one = dashboard_small["class"]
    livings = dashboard_small["livings"]
    student = class_one.students.order_by("student_userid").first()
    upcoming = Living.objects.create(livingid="lv-ahead", theme="明天", living_start=None)
    upcoming.classes.add(class_one)
    class_url = reverse("dashboard:class", args=[class_one.pk])
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


def test_every_table_is_written_as_the_row_loop_wrote_it(
    client, head_teacher, urls, settings, tmp_path
):
    client.force_login(head_teacher.user)
    shipped = {url: page_tables(client, url) for url in urls}
    assert sum(len(tables) for tables in shipped.values()) >= len(urls)
    assert any('data-verdict="absent"' in t for tables in shipped.values() for t in tables)
    assert any("&lt;script&gt;" in t for tables in shipped.values() for t in tables)

    settings.TEMPLATES = [
        {
            **settings.TEMPLATES[0],
            "DIRS": [reference_template(tmp_path), *settings.TEMPLATES[0]["DIRS"]],
        }
    ]
    for url in urls:
        assert page_tables(client, url) == shipped[url], url


@pytest.mark.parametrize(
    "choices",
    [
        [("lv-1", "05-12 08:00 · 数学"), ("lv-2", "05-13 08:00 · <b>语文</b> & 未开始")],
        [("", "—"), ('"quoted"', "=HYPERLINK('x')"), ("lv-3", "")],
        [("group <1>", [("a", "A"), ("b", "B")]), ("c", "C")],
        [],
    ],
)
def test_the_lesson_picker_writes_what_djangos_select_template_writes(choices):
    from django import forms

    from school_live.dashboard.widgets import Select

    attrs = {"aria-invalid": "true", "aria-describedby": "living-errors", "hidden": False}
    for value in ("lv-2", "b", None, ""):
        ours = Select(choices=choices, attrs=dict(attrs))
        django = forms.Select(choices=choices, attrs=dict(attrs))
        assert ours.render("living", value, attrs={"id": "id_living"}) == django.render(
            "living", value, attrs={"id": "id_living"}
        )
