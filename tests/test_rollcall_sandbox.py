"""The sandbox's live lessons fill up over time, as a class does: each student of the range gets an
arrival into the lesson (the same for the same seed); get_watch_stat lists those who have come by
the sandbox clock, get_unwatch_stat the subscribed ones still missing; the control API tells each
arrival and lets a test bring a student in now."""

import pytest
import requests

from school_live.wecom_sandbox import SandboxState, generate_school
from tests.test_sandbox import UNWATCH, WATCH, Api, watch_rows

DURATION = 600


@pytest.fixture
def api(wecom_sandbox) -> Api:
    client = Api(wecom_sandbox)
    client.fetch_token()
    return client


def demo(state, **extra):
    return state.schedule_demo_living(start_in=0, duration=DURATION, **extra)


def students_in(api, livingid) -> set[str]:
    students, _visitors = watch_rows(api.pages(WATCH, livingid))
    return {row["student_userid"] for row in students}


def unwatched_in(api, livingid) -> set[str]:
    return {
        row["student_userid"]
        for page in api.pages(UNWATCH, livingid)
        for row in page["stat_info"]["students"]
    }


def test_the_same_seed_gives_the_same_arrivals():
    def arrivals(seed):
        state = SandboxState(generate_school(seed=seed, now=1_767_225_600), seed=seed)
        living = demo(state)
        return [
            (a["student_userid"], a["arrival"] - living.living_start)
            for a in state.arrivals(living.livingid)
        ]

    assert arrivals(1) == arrivals(1)
    assert arrivals(1) != arrivals(2)


def test_students_arrive_over_the_first_part_of_the_lesson(wecom_sandbox):
    state = wecom_sandbox.state
    living = demo(state, spread=0.5)
    first: dict[str, int] = {}
    for entry in state.arrivals(living.livingid):
        if entry["live"]:
            userid = entry["student_userid"]
            first[userid] = min(first.get(userid, entry["arrival"]), entry["arrival"])
    offsets = sorted(arrival - living.living_start for arrival in first.values())
    assert len(offsets) > 10
    assert offsets[0] >= 0 and offsets[-1] <= DURATION * 0.5
    # Not all at once: some in the first minute, some well after it.
    assert offsets[len(offsets) // 4] < 60 and offsets[-1] > 120


def test_watchers_appear_by_the_clock_and_leave_the_unwatched_list(api):
    state = api.state
    living = demo(state)
    roster = {s.userid for s in state.roster(living)}
    subscribed = {s.userid for s in state.roster(living) if s.subscribed_parent}
    first = students_in(api, living.livingid)
    state.advance(DURATION // 4)
    later = students_in(api, living.livingid)
    assert first < later <= roster
    assert unwatched_in(api, living.livingid) == subscribed - later
    # watch_time grows for who is in the room.
    before = {
        r["student_userid"]: r["watch_time"]
        for r in watch_rows(api.pages(WATCH, living.livingid))[0]
    }
    state.advance(30)
    after = {
        r["student_userid"]: r["watch_time"]
        for r in watch_rows(api.pages(WATCH, living.livingid))[0]
    }
    assert any(after[userid] > seconds for userid, seconds in before.items())


def test_control_api_tells_arrivals_and_brings_a_student_in_now(api):
    state = api.state
    living = demo(state)
    control = f"{api.url}/sandbox/livings/{living.livingid}"
    answer = requests.get(control + "/watchers", timeout=5).json()
    assert answer["living_start"] == living.living_start
    waiting = [w for w in answer["watchers"] if w["live"] and w["arrival"] > answer["now"] + 60]
    assert waiting, "somebody arrives later"
    late = waiting[-1]
    assert late["student_userid"] not in students_in(api, living.livingid)
    moved = requests.post(
        control + "/arrive",
        json={
            "student_userid": late["student_userid"],
            "parent_userid": late["parent_userid"] or None,
        },
        timeout=5,
    ).json()
    assert moved["arrival"] <= state.clock()
    assert late["student_userid"] in students_in(api, living.livingid)
    assert late["student_userid"] not in unwatched_in(api, living.livingid)
    again = requests.get(control + "/watchers", timeout=5).json()["watchers"]
    mine = [
        w
        for w in again
        if w["student_userid"] == late["student_userid"]
        and w["parent_userid"] == late["parent_userid"]
    ]
    assert mine[0]["arrival"] == moved["arrival"]


def test_a_student_who_never_watches_can_be_brought_in(api):
    state = api.state
    living = demo(state)
    coming = {a["student_userid"] for a in state.arrivals(living.livingid)}
    absent = next(s for s in state.roster(living) if s.userid not in coming)
    arrival = state.watcher_arrive(
        living.livingid, absent.userid, parent_userid=absent.parents[0].userid
    )
    rows = [
        r
        for r in watch_rows(api.pages(WATCH, living.livingid))[0]
        if r["student_userid"] == absent.userid
    ]
    assert rows[0]["enter_time"] == arrival and rows[0]["parent_userid"] == absent.parents[0].userid
    assert (
        requests.post(
            f"{api.url}/sandbox/livings/{living.livingid}/arrive", json={}, timeout=5
        ).status_code
        == 400
    )


def test_whether_unwatch_lists_a_created_lesson_is_a_switch(api):
    """get_unwatch_stat for a lesson created through living/create (no class range) is
    undocumented (api.md §12): "empty" by default, "list" on the control API's word."""
    state = api.state
    anchor = next(
        a.userid
        for d in state.school.departments.values()
        if d.type == 1
        for a in d.admins
        if a.type == 3
    )
    living = state.living_create(
        anchor_userid=anchor,
        partyids=(),
        theme="创建的课",
        living_start=state.clock(),
        living_duration=DURATION,
    )
    classes = state.created_classes(living)
    assert classes, "the anchor teaches classes"
    state.advance(DURATION // 4)
    joined = students_in(api, living.livingid)
    subscribed = {s.userid for s in state.school.roster(classes) if s.subscribed_parent}
    control = f"{api.url}/sandbox/unwatch"
    assert requests.get(control, timeout=5).json()["unwatch_for_created"] == "empty"
    assert unwatched_in(api, living.livingid) == set()

    answer = requests.post(control, json={"unwatch_for_created": "list"}, timeout=5)
    assert answer.json()["unwatch_for_created"] == "list"
    listed = unwatched_in(api, living.livingid)
    assert listed == subscribed - joined and listed

    for bad in ({"unwatch_for_created": "some"}, {}, {"unwatch_for_created": "list", "x": 1}):
        assert requests.post(control, json=bad, timeout=5).status_code == 400
    assert requests.get(control, timeout=5).json()["unwatch_for_created"] == "list"
    # A lesson with classes is listed whatever the switch says.
    demo_living = demo(state)
    requests.post(control, json={"unwatch_for_created": "empty"}, timeout=5)
    assert unwatched_in(api, demo_living.livingid)
    state.set_unwatch_for_created("list")
    state.reset()
    assert state.unwatch_for_created == "empty"
