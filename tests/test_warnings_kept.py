"""The class page keeps its warnings per class (attendance/queries/warnings_kept.py) until the
class's attendance changes: a sync's store or a correction shows at the next request, as do the
thresholds from the admin and the clock; kept, the warnings cost one query. The class: the one
of tests/test_warnings.py (tests/fixtures/warnings.py), the clock at its NOW."""

import datetime as dt
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from school_live.alerts.models import DEFAULTS, WarningRules
from school_live.attendance.queries import class_warnings, class_warnings_kept
from school_live.corrections.models import Excuse
from school_live.corrections.services import ExcuseRequest, excuse_create, excuse_revoke
from school_live.school.models import AttendancePolicy, Department, Living
from school_live.school.tenancy import default_school
from school_live.sync.living_stats import LivingSnapshot, living_snapshot_store
from school_live.wecom.records import LivingInfo
from tests.fixtures.warnings import NOW, build_class

pytestmark = pytest.mark.usefixtures("english")

CLASS = 3
UNREACHABLE = "family unreachable for 6 lessons"
ABSENT = "absent 3 of the last 5 lessons"


@pytest.fixture
def warned_now(school, clock_at):
    clock_at(NOW)
    AttendancePolicy.current(default_school())
    return build_class(school["class_one"], now=NOW)


def warnings_box(client) -> str:
    html = client.get(reverse("dashboard:class", args=[CLASS])).content.decode()
    match = re.search(r'<section class="[^"]*" id="warnings".*?</section>', html, re.S)
    assert match, "no #warnings"
    return match[0]


def snapshot_of(living: Living, watchers: list[str]) -> LivingSnapshot:
    """What a sync reads of ``living`` from WeCom: ``watchers`` watched it all."""
    start = int(living.living_start.timestamp())
    info = LivingInfo(
        livingid=living.livingid,
        theme=living.theme,
        living_start=start,
        living_duration=living.living_duration,
        anchor_userid="",
        partyids=(CLASS,),
        group_names=(),
        viewer_num=len(watchers),
        comment_num=0,
        open_replay=False,
        online_count=0,
        subscribe_count=0,
    )
    snapshot = LivingSnapshot(info=info, fetched_at=start + living.living_duration + 300)
    snapshot.watches.extend(
        [
            (userid, "", (CLASS,), living.living_duration, start, start + 60, False)
            for userid in watchers
        ]
    )
    return snapshot


def synced_again(living: Living, *, also: str) -> None:
    """A sync of ``living`` stores it again: its watchers and ``also`` watched it all."""
    watchers = list(living.watches.values_list("student_userid", flat=True)) + [also]
    snapshot = snapshot_of(living, watchers)
    try:
        living_snapshot_store(school=living.school, snapshot=snapshot)
    finally:
        snapshot.close()


def test_a_sync_of_a_lesson_shows_in_the_warnings_at_the_next_request(
    client, warned_now, head_teacher
):
    client.force_login(head_teacher.user)
    assert UNREACHABLE in warnings_box(client)
    # The last lesson synced again: 王五 watched it after all (and so did everyone WeCom lists).
    synced_again(warned_now.lessons[-1], also="s_wang")
    box = warnings_box(client)
    assert "family unreachable" not in box
    assert ABSENT in box  # the rest as before


def test_a_correction_shows_in_the_warnings_at_the_next_request(client, warned_now, head_teacher):
    client.force_login(head_teacher.user)
    assert ABSENT in warnings_box(client)
    li = warned_now.people.li
    excuse = excuse_create(
        request=ExcuseRequest(
            student=li, kind=Excuse.Kind.SICK, living=warned_now.lessons[-1], reason=""
        ),
        by=head_teacher.user,
    )
    assert "absent" not in warnings_box(client)  # 2 of the last 5: below the threshold
    excuse_revoke(excuse=excuse, by=head_teacher.user)
    assert ABSENT in warnings_box(client)


def test_thresholds_from_the_admin_show_at_the_next_request(client, warned_now, head_teacher):
    client.force_login(head_teacher.user)
    assert ABSENT in warnings_box(client)
    WarningRules.objects.create(
        school=default_school(),
        department=Department.objects.get(wecom_id=CLASS),
        **{**DEFAULTS.__dict__, "absent_count": 4},
    )  # as the admin saves it: no version is told
    assert "absent" not in warnings_box(client)


def test_kept_warnings_follow_the_clock(warned_now, school):
    department = school["class_one"]
    at_now = class_warnings_kept(department=department, now=NOW)
    assert at_now == class_warnings(department=department, now=NOW)
    # Another month (孙七's lateness was in March), another span of days: computed again, for a
    # later instant as for an earlier one.
    for when in (NOW + dt.timedelta(days=10), NOW - dt.timedelta(days=3)):
        fresh = class_warnings(department=department, now=when)
        assert fresh != at_now
        assert class_warnings_kept(department=department, now=when) == fresh


def test_kept_warnings_cost_one_query_and_one_read_of_the_shared_cache(warned_now, school):
    department = school["class_one"]
    first = class_warnings_kept(department=department, now=NOW)
    with CaptureQueriesContext(connection) as captured:
        again = class_warnings_kept(department=department, now=NOW)
    assert again == first and len(first) == 4
    # The thresholds with the policy, and the version (the database cache: one SELECT).
    assert len(captured) <= 2
