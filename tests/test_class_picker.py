"""A class with a term's lessons scheduled ahead: the class page and its downloads still open on
the latest lesson that has started, and the picker offers the latest started and the next few
ahead, not only the newest (which would all be ahead)."""

import datetime as dt
import re

from django.urls import reverse
from django.utils import timezone

from school_live.dashboard.class_views import LIVING_CHOICES, UPCOMING_CHOICES
from school_live.school.models import Living
from school_live.school.tenancy import default_school
from tests.fixtures.attendance import make_living

CLASS_ONE = 3


def option_values(html: str) -> list[str]:
    select = re.search(r'<select name="living"[^>]*>(.*?)</select>', html, re.S)
    assert select, "no lesson picker"
    return re.findall(r'<option value="([^"]+)"', select[1])


def test_a_term_scheduled_ahead_leaves_the_page_on_the_latest_lesson(
    client, attendance_living, head_teacher
):
    class_one = attendance_living.school["class_one"]
    now = timezone.now()
    ahead = Living.objects.bulk_create(
        [
            Living(
                school=default_school(),
                livingid=f"lv-ahead-{day:03d}",
                theme=f"第{day}课",
                living_start=now + dt.timedelta(days=day, hours=1),
                living_duration=2400,
            )
            for day in range(LIVING_CHOICES + UPCOMING_CHOICES + 5)
        ]
    )
    class_one.livings.add(*ahead)
    earlier = make_living("lv-earlier", classes=[class_one], start=now - dt.timedelta(days=400))
    client.force_login(head_teacher.user)

    html = client.get(reverse("dashboard:class", args=[CLASS_ONE])).content.decode()

    assert re.search(r'<option value="lv-math" selected>', html)
    assert 'id="summary"' in html
    offered = option_values(html)
    assert offered[-2:] == ["lv-math", earlier.livingid]
    assert offered[:-2] == [living.livingid for living in reversed(ahead[:UPCOMING_CHOICES])]
    csv_url = reverse("dashboard:class_export", args=[CLASS_ONE, "csv"])
    response = client.get(csv_url)
    assert response.status_code == 200
    assert "陈出勤" in response.content.decode("utf-8-sig")
    # A lesson further ahead than the picker shows can still be asked for by its id.
    far = ahead[-1].livingid
    picked = client.get(reverse("dashboard:class", args=[CLASS_ONE]) + f"?living={far}")
    assert re.search(rf'<option value="{far}" selected>', picked.content.decode())
