"""Scheduling lessons through school_live: living/create, modify and cancel against the sandbox,
each weekly occurrence created exactly once, even when a first attempt failed half-way."""

import datetime as dt

import pytest
from django.utils import timezone

from school_live.lessons.models import LessonOccurrence, LessonSeries
from school_live.lessons.services import (
    LessonError,
    LessonPlan,
    lesson_cancel,
    lesson_modify,
    lesson_plan_check,
    lesson_schedule,
)
from school_live.school.models import ClassAssignment, Department, Living, Teacher
from school_live.school.tenancy import default_school
from school_live.sync.roster import roster_sync
from school_live.wecom.client import WeComClient
from school_live.wecom.errors import WeComTransientError
from tests.fixtures.people import make_department

# These tests pin English wording; the site speaks zh-hans first.
pytestmark = pytest.mark.usefixtures("english")


@pytest.fixture
def roster(sync_sandbox, sync_client):
    roster_sync(school=default_school(), client=sync_client)
    # A head teacher of one class only (the sandbox's 数学 teacher teaches both classes and
    # already has a "数学：认识钟表" living): the tests below rely on both.
    assignment = (
        ClassAssignment.objects.select_related("teacher", "department")
        .filter(role=ClassAssignment.Role.HEAD)
        .order_by("department_id")
        .first()
    )
    return assignment.teacher, assignment.department


def plan(teacher, klass, *, weeks=1, theme="测试：认识钟表课", hours=24, **extra) -> LessonPlan:
    start = (timezone.now() + dt.timedelta(hours=hours)).replace(second=0, microsecond=0)
    return LessonPlan(
        teacher=teacher,
        classes=(klass,),
        start=start,
        minutes=40,
        theme=theme,
        weeks=weeks,
        **extra,
    )


def sandbox_livings(sandbox, teacher: Teacher, theme: str):
    return [
        lv
        for lv in sandbox.state.school.livings.values()
        if lv.anchor_userid == teacher.userid and lv.theme == theme
    ]


def test_a_weekly_lesson_is_created_once_per_week_in_wecom_and_here(
    sync_sandbox, sync_client, roster
):
    teacher, klass = roster
    series = lesson_schedule(client=sync_client, plan=plan(teacher, klass, weeks=3), source="web")
    created = sandbox_livings(sync_sandbox, teacher, "测试：认识钟表课")
    assert len(created) == 3
    starts = sorted(lv.living_start for lv in created)
    assert [b - a for a, b in zip(starts, starts[1:], strict=False)] == [7 * 24 * 3600] * 2
    assert all(lv.status(sync_sandbox.state.clock()) == 0 for lv in created)
    livings = Living.objects.filter(occurrence__series=series)
    assert livings.count() == 3
    for living in livings:
        assert living.status == Living.Status.RESERVED
        assert list(living.planned_classes.all()) == [klass]
        assert list(living.classes.all()) == [klass]
    assert {lv.livingid for lv in created} == set(livings.values_list("livingid", flat=True))


def test_the_same_plan_again_creates_nothing(sync_sandbox, sync_client, roster):
    teacher, klass = roster
    the_plan = plan(teacher, klass, weeks=2)
    lesson_schedule(client=sync_client, plan=the_plan, source="command")
    lesson_schedule(client=sync_client, plan=the_plan, source="command")
    assert len(sandbox_livings(sync_sandbox, teacher, the_plan.theme)) == 2
    assert LessonOccurrence.objects.count() == 2
    assert LessonSeries.objects.count() == 1


class LosesTheSecondReply(WeComClient):
    """WeCom creates the second living, but its reply never reaches us (a dropped connection)."""

    creates = 0

    def create_living(self, **fields):
        livingid = super().create_living(**fields)
        type(self).creates += 1
        if type(self).creates == 2:
            raise WeComTransientError(-2, "connection reset", "living/create")
        return livingid


def test_a_retry_after_a_lost_reply_finds_the_living_instead_of_creating_it_again(
    sync_sandbox, sync_client, roster
):
    teacher, klass = roster
    the_plan = plan(teacher, klass, weeks=3)
    flaky = LosesTheSecondReply(base_url=sync_sandbox.url, retry_base_delay=0.01)
    with flaky, pytest.raises(WeComTransientError):
        lesson_schedule(client=flaky, plan=the_plan, source="timetable")
    assert len(sandbox_livings(sync_sandbox, teacher, the_plan.theme)) == 2
    assert LessonOccurrence.objects.filter(state=LessonOccurrence.State.CREATED).count() == 1
    lesson_schedule(client=sync_client, plan=the_plan, source="timetable")
    created = sandbox_livings(sync_sandbox, teacher, the_plan.theme)
    assert len(created) == 3
    occurrences = LessonOccurrence.objects.all()
    assert [o.state for o in occurrences] == [LessonOccurrence.State.CREATED] * 3
    assert {o.living.livingid for o in occurrences} == {lv.livingid for lv in created}


def test_plan_check_refuses_what_wecom_or_the_school_would_refuse(sync_sandbox, roster):
    teacher, klass = roster
    other = make_department(9901, "三年级九班", Department.Type.CLASS)
    problems = lesson_plan_check(plan(teacher, other, theme="x" * 21, hours=-1))
    text = " ".join(problems)
    assert "21" in text and "20" in text  # the theme's length and WeCom's limit
    assert "does not teach" in text
    assert "future" in text


def test_an_overlap_with_the_teachers_own_lesson_is_refused(sync_sandbox, sync_client, roster):
    teacher, klass = roster
    lesson_schedule(client=sync_client, plan=plan(teacher, klass), source="web")
    clash = plan(teacher, klass, theme="测试：古诗课")
    with pytest.raises(LessonError, match="overlaps"):
        lesson_schedule(client=sync_client, plan=clash, source="web")
    assert not sandbox_livings(sync_sandbox, teacher, "测试：古诗课")


def test_modify_and_cancel_a_reserved_lesson(sync_sandbox, sync_client, roster):
    teacher, klass = roster
    series = lesson_schedule(client=sync_client, plan=plan(teacher, klass), source="web")
    living = series.occurrences.get().living
    later = living.living_start + dt.timedelta(hours=2)
    lesson_modify(client=sync_client, living=living, theme="数学：复习", start=later, minutes=30)
    wecom = sync_sandbox.state.living(living.livingid)
    assert (wecom.theme, wecom.living_start, wecom.living_duration) == (
        "数学：复习",
        int(later.timestamp()),
        1800,
    )
    lesson_cancel(client=sync_client, living=living)
    assert sync_sandbox.state.living(living.livingid).status(sync_sandbox.state.clock()) == 4
    living.refresh_from_db()
    assert living.status == Living.Status.CANCELLED
    with pytest.raises(LessonError, match="already started or was cancelled"):
        lesson_cancel(client=sync_client, living=living)


def test_wecom_says_92006_for_a_lesson_that_started_meanwhile(sync_sandbox, sync_client, roster):
    teacher, klass = roster
    series = lesson_schedule(client=sync_client, plan=plan(teacher, klass), source="web")
    living = series.occurrences.get().living
    sync_sandbox.state.start_living_now(living.livingid)  # started on the phone; no callback yet
    with pytest.raises(LessonError, match="already started or was cancelled"):
        lesson_cancel(client=sync_client, living=living)
    living.refresh_from_db()
    assert living.status == Living.Status.RESERVED


def test_jsapi_tickets_come_from_the_sandbox_once(sync_sandbox, sync_client, settings):
    from school_live.wecom.jsapi import AGENT, CORP, TicketStore

    store = TicketStore(sync_client)
    first = store.sign("http://testserver/l/1", kind=CORP)
    store.sign("http://testserver/l/2", kind=AGENT)
    store.sign("http://testserver/l/3", kind=AGENT)
    assert first.signature and len(first.signature) == 40
    assert sync_sandbox.state.call_count("/cgi-bin/get_jsapi_ticket") == 1
    assert sync_sandbox.state.call_count("/cgi-bin/ticket/get") == 1
