"""A hostile id from WeCom is never stored (issue 19: ids are checked before use).

The sync boundary refuses a livingid or userid that does not have WeCom's shape (wecom/ids.py) as
a WeComDataError naming the field, so a value that would break a URL or a page never reaches the
database. The sandbox's own ids all pass (its school syncs whole in tests/test_sync.py).
"""

import dataclasses

import pytest

from school_live.school.models import Living, Student, StudentWatch, Teacher
from school_live.school.tenancy import default_school
from school_live.sync.discovery import DiscoveryIncomplete, livings_discover
from school_live.sync.living_stats import living_stats_sync
from school_live.sync.roster import roster_sync
from school_live.wecom import ids
from school_live.wecom.errors import WeComDataError
from school_live.wecom_sandbox.school import generate_school
from tests.fixtures.sandbox import (
    ended_livingid,
    unwatch_page,
    watch_page,
    watch_row,
)

HOSTILE = "<script>alert(1)</script>"


def test_the_sandbox_generates_ids_of_wecoms_shape():
    school = generate_school()
    assert all(ids.livingid_valid(livingid) for livingid in school.livings)
    userids = list(school.teachers)
    for student in school.students.values():
        userids += [student.userid, *(parent.userid for parent in student.parents)]
    assert userids and all(ids.userid_valid(userid) for userid in userids)


@pytest.mark.parametrize(
    ("row", "field"),
    [
        (watch_row(HOSTILE), "stat_infoes.students[1].student_userid"),
        (watch_row("a/b"), "stat_infoes.students[1].student_userid"),
        (watch_row("ok", "../x"), "stat_infoes.students[1].parent_userid"),
    ],
)
def test_a_watch_row_with_a_hostile_userid_stores_nothing(sync_sandbox, sync_client, row, field):
    state = sync_sandbox.state
    livingid = ended_livingid(state)
    state.script_watch_pages(livingid, [watch_page([watch_row("fine"), row])])
    state.script_unwatch_pages(livingid, [unwatch_page()])
    with pytest.raises(WeComDataError, match=field.replace("[", r"\[").replace("]", r"\]")):
        living_stats_sync(school=default_school(), client=sync_client, livingid=livingid)
    assert not StudentWatch.objects.exists()
    assert not Living.objects.filter(livingid=livingid).exists()


def test_an_unwatch_row_with_a_hostile_userid_stores_nothing(sync_sandbox, sync_client):
    state = sync_sandbox.state
    livingid = ended_livingid(state)
    state.script_watch_pages(livingid, [watch_page([watch_row("fine")])])
    state.script_unwatch_pages(livingid, [unwatch_page([{"student_userid": "a b"}])])
    with pytest.raises(WeComDataError, match=r"stat_info\.students\[0\]\.student_userid"):
        living_stats_sync(school=default_school(), client=sync_client, livingid=livingid)
    assert not StudentWatch.objects.exists()


def test_a_living_whose_host_has_a_hostile_userid_is_not_stored(sync_sandbox, sync_client):
    state = sync_sandbox.state
    livingid = ended_livingid(state)
    state.school.livings[livingid].anchor_userid = HOSTILE
    with pytest.raises(WeComDataError, match="living_info.anchor_userid is not a WeCom userid"):
        living_stats_sync(school=default_school(), client=sync_client, livingid=livingid)
    assert not Living.objects.filter(livingid=livingid).exists()


def test_a_class_with_a_hostile_student_userid_fails_and_stores_none_of_it(
    sync_sandbox, sync_client
):
    school = sync_sandbox.state.school
    dept_id, students = next((d, s) for d, s in school.students_by_dept.items() if s)
    students[0] = dataclasses.replace(students[0], userid="a/b")
    with pytest.raises(Exception, match=r"students\[\d+\]\.student_userid is not a WeCom userid"):
        roster_sync(school=default_school(), client=sync_client)
    assert not Student.objects.filter(student_userid="a/b").exists()


def test_discovery_refuses_a_hostile_livingid_and_stores_the_others(sync_sandbox, sync_client):
    roster_sync(school=default_school(), client=sync_client)
    school = sync_sandbox.state.school
    livingid = ended_livingid(sync_sandbox.state)
    living = school.livings.pop(livingid)
    living.livingid = HOSTILE
    school.livings[HOSTILE] = living
    with pytest.raises(DiscoveryIncomplete, match="livingid_list is not a WeCom livingid"):
        livings_discover(
            school=default_school(), client=sync_client, teachers=[living.anchor_userid]
        )
    assert not Living.objects.filter(livingid=HOSTILE).exists()
    assert Living.objects.filter(anchor_userid=living.anchor_userid).exists()
    assert Teacher.objects.filter(userid=living.anchor_userid).exists()
