"""The sandbox calls the site's /wecom/callback/ as WeCom does: a real Django server (live_server)
receives real encrypted living_status_change events when a lesson starts, ends or is cancelled,
and copes with repeated, lost and forged ones."""

import base64
import datetime as dt
import logging
import time

import pytest
import requests
from django.utils import timezone

from school_live.lessons.services import LessonPlan, lesson_plan_check, lesson_schedule
from school_live.school.models import ClassAssignment, Living, SyncRun
from school_live.school.tenancy import default_school
from school_live.sync.roster import roster_sync
from school_live.wecom_sandbox.callback_sender import event_xml, steps
from tests.fixtures.sandbox import sandbox_state
from tests.fixtures.worker import celery_broker
from tests.test_sync_worker import wait_for

TOKEN = "sandbox-callbacks-token"
AES_KEY = base64.b64encode(bytes(range(32))).decode().rstrip("=")
WAIT = 15  # seconds: an upper bound for the pump (it looks every second), never a duration


def until(predicate, *, what: str = "the condition"):
    return wait_for(predicate, timeout=WAIT, what=what)


@pytest.fixture
def site(sync_sandbox, live_server, settings, tmp_path):
    """The sync tests' sandbox, whose app is the live server's (same corp id, token and key);
    the live server's tasks go to a broker folder of this test's own."""
    settings.WECOM_CALLBACK_TOKEN = TOKEN
    settings.WECOM_CALLBACK_AES_KEY = AES_KEY
    folder = tmp_path / "broker"
    folder.mkdir()
    options = {"data_folder_in": str(folder), "data_folder_out": str(folder)}
    options.update(processed_folder=str(folder), control_folder=str(folder))
    with celery_broker("filesystem://", options):
        yield sync_sandbox


@pytest.fixture
def lesson(site, sync_client) -> Living:
    """A lesson the 班主任 scheduled through school_live for an hour from now: reserved here and
    in the sandbox."""
    roster_sync(school=default_school(), client=sync_client)
    head = (
        ClassAssignment.objects.filter(role=ClassAssignment.Role.HEAD)
        .select_related("teacher", "department")
        .order_by("department_id", "teacher__userid")
        .first()
    )
    now = timezone.now().replace(microsecond=0)
    # The first free hour: the generated school has lessons of its own that must not overlap.
    for hours in range(1, 48):
        plan = LessonPlan(
            teacher=head.teacher,
            classes=(head.department,),
            start=now + dt.timedelta(hours=hours),
            minutes=40,
            theme="语文：春晓",
        )
        if not lesson_plan_check(plan):
            break
    series = lesson_schedule(client=sync_client, plan=plan, source="web")
    living = Living.objects.get(occurrence__series=series)
    assert living.status == Living.Status.RESERVED
    return living


def send_to_site(site, live_server, **options):
    options = {"token": TOKEN, "aes_key": AES_KEY, "seed": 5, **options}
    site.state.set_callbacks(url=f"{live_server.url}/wecom/callback/", **options)


def status_of(livingid: str):
    return Living.objects.filter(livingid=livingid).values_list("status", flat=True).first()


def sent(site, livingid: str) -> list[dict]:
    return [entry for entry in site.state.callback_log() if entry["livingid"] == livingid]


def delivered(site, livingid: str, count: int) -> list[dict]:
    """The first ``count`` callbacks for the living, once they have all been answered (the log is
    written after the site's answer, so the site's transaction is over: only then is the
    database, which the live server shares with this thread, looked at)."""
    return until(
        lambda: len(sent(site, livingid)) >= count and sent(site, livingid)[:count],
        what=f"{count} callbacks for {livingid}",
    )


def living_runs(livingid: str):
    return SyncRun.objects.filter(kind=SyncRun.Kind.LIVING, livingid=livingid)


def test_a_scheduled_lesson_goes_live_and_ends_on_the_site_through_callbacks(
    site, live_server, lesson
):
    send_to_site(site, live_server)
    assert living_runs(lesson.livingid).count() == 0
    site.state.start_living_now(lesson.livingid)
    assert [(e["status"], e["http_status"]) for e in delivered(site, lesson.livingid, 1)] == [
        (1, 200)
    ]
    assert status_of(lesson.livingid) == Living.Status.LIVE
    assert living_runs(lesson.livingid).filter(status=SyncRun.Status.QUEUED).count() == 1

    site.state.end_living_now(lesson.livingid)
    log = delivered(site, lesson.livingid, 2)
    assert [(e["status"], e["http_status"]) for e in log] == [(1, 200), (2, 200)]
    assert status_of(lesson.livingid) == Living.Status.ENDED


def test_a_lesson_cancelled_in_wecom_is_cancelled_on_the_site(
    site, live_server, sync_client, lesson
):
    send_to_site(site, live_server)
    sync_client.cancel_living(lesson.livingid)  # living/cancel, as another admin tool would
    assert [(e["status"], e["http_status"]) for e in delivered(site, lesson.livingid, 1)] == [
        (4, 200)
    ]
    assert status_of(lesson.livingid) == Living.Status.CANCELLED
    assert living_runs(lesson.livingid).count() == 0, "a cancelled lesson has nothing to sync"


def test_a_jump_of_the_clock_past_the_whole_lesson_calls_back_live_then_ended(
    site, live_server, lesson
):
    send_to_site(site, live_server)
    site.state.advance(int(lesson.living_end.timestamp() - time.time()) + 60)
    log = delivered(site, lesson.livingid, 2)
    assert [(e["status"], e["http_status"]) for e in log] == [(1, 200), (2, 200)]
    assert status_of(lesson.livingid) == Living.Status.ENDED


def test_callbacks_are_signed_at_the_time_of_sending_whatever_the_sandbox_clock_says(
    site, live_server, lesson
):
    """The sandbox clock three days ahead: the events still carry the real time of sending, which
    the site checks against its own clock (WECOM_CALLBACK_MAX_SKEW_SECONDS, a day)."""
    send_to_site(site, live_server)
    site.state.advance(3 * 24 * 3600)
    log = delivered(site, lesson.livingid, 2)
    assert [(e["status"], e["http_status"]) for e in log] == [(1, 200), (2, 200)]
    assert status_of(lesson.livingid) == Living.Status.ENDED


def test_a_class_lesson_started_with_ww_reaches_the_site_before_the_page_reports_it(
    site, live_server
):
    send_to_site(site, live_server)
    head = next(
        admin
        for dept in site.state.school.departments.values()
        if dept.type == 1
        for admin in dept.admins
    )
    answer = requests.post(
        f"{site.url}/sandbox/jssdk/startLiving",
        json={
            "userid": head.userid,
            "params": {"liveType": 2, "theme": "班会", "departmentIds": []},
        },
        timeout=5,
    ).json()
    assert answer["errMsg"] == "startLiving:ok"
    livingid = answer["livingId"]
    assert [(e["status"], e["http_status"]) for e in delivered(site, livingid, 1)] == [(1, 200)]
    living = Living.objects.get(livingid=livingid)
    assert (living.status, living.anchor_userid) == (Living.Status.LIVE, head.userid)
    assert living_runs(livingid).count() == 1


def test_repeated_callbacks_change_the_site_once(site, live_server, lesson, caplog):
    send_to_site(site, live_server, repeat=2)
    with caplog.at_level(logging.INFO, logger="school_live.sync.callbacks"):
        site.state.start_living_now(lesson.livingid)
        log = delivered(site, lesson.livingid, 3)
    assert [(e["status"], e["copy"], e["http_status"]) for e in log] == [
        (1, 0, 200),
        (1, 1, 200),
        (1, 2, 200),
    ]
    messages = [r.getMessage() for r in caplog.records if lesson.livingid in r.getMessage()]
    assert sum("is now status 1" in m for m in messages) == 1, messages
    # The copies are the same signed request: replays, answered without looking further.
    assert sum("replayed (same signature and nonce)" in m for m in messages) == 2, messages
    assert status_of(lesson.livingid) == Living.Status.LIVE
    assert living_runs(lesson.livingid).count() == 1


def test_dropped_callbacks_never_arrive(site, live_server, lesson):
    send_to_site(site, live_server, drop=1.0)
    site.state.start_living_now(lesson.livingid)
    site.state.end_living_now(lesson.livingid)
    log = delivered(site, lesson.livingid, 2)
    assert [(e["status"], e["dropped"], e["http_status"]) for e in log] == [
        (1, True, None),
        (2, True, None),
    ]
    assert status_of(lesson.livingid) == Living.Status.RESERVED
    assert living_runs(lesson.livingid).count() == 0


def test_a_callback_sealed_with_another_token_is_refused_by_the_site(site, live_server, lesson):
    send_to_site(site, live_server, token="not-the-apps-token")
    site.state.start_living_now(lesson.livingid)
    assert [(e["status"], e["http_status"]) for e in delivered(site, lesson.livingid, 1)] == [
        (1, 400)
    ]
    assert status_of(lesson.livingid) == Living.Status.RESERVED
    assert living_runs(lesson.livingid).count() == 0


def test_a_site_that_does_not_answer_is_logged_and_the_sandbox_goes_on(site, lesson):
    site.state.set_callbacks(url="http://127.0.0.1:9/wecom/callback/", token=TOKEN, aes_key=AES_KEY)
    site.state.start_living_now(lesson.livingid)
    log = delivered(site, lesson.livingid, 1)
    assert log[0]["http_status"] is None and log[0]["error"]
    assert requests.get(f"{site.url}/sandbox/summary", timeout=5).status_code == 200


def test_another_apps_livings_are_never_called_back(site, live_server, lesson):
    foreign = next(lv for lv in site.state.school.livings.values() if lv.foreign)
    send_to_site(site, live_server)
    site.state.start_living_now(foreign.livingid)
    site.state.start_living_now(lesson.livingid)
    delivered(site, lesson.livingid, 1)
    assert sent(site, foreign.livingid) == []
    assert status_of(lesson.livingid) == Living.Status.LIVE


def test_the_control_api_configures_and_shows_callbacks_without_their_secrets(site, lesson):
    url = f"{site.url}/sandbox/callbacks"
    bad = requests.post(url, json={"url": "http://127.0.0.1:9/", "token": TOKEN, "aes_key": "x"})
    assert bad.status_code == 400
    answer = requests.post(
        url,
        json={"url": "http://127.0.0.1:9/cb/", "token": TOKEN, "aes_key": AES_KEY, "repeat": 1},
        timeout=5,
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["callbacks"]["repeat"] == 1
    site.state.start_living_now(lesson.livingid)
    until(lambda: len(requests.get(url, timeout=5).json()["log"]) == 2)
    shown = requests.get(url, timeout=5).text
    assert TOKEN not in shown and AES_KEY not in shown
    site.state.reset()
    cleared = requests.get(url, timeout=5).json()
    assert (cleared["callbacks"], cleared["pending"], cleared["log"]) == (None, 0, [])


def test_status_steps_follow_what_wecom_would_have_sent():
    assert steps(0, 0) == []
    assert steps(0, 1) == [1]
    assert steps(0, 2) == [1, 2]
    assert steps(1, 2) == [2]
    assert steps(0, 4) == [4]
    assert steps(2, 2) == []
    inner = event_xml(
        corp_id="ww1", anchor="wangli", create_time=1, livingid="lv1", status=2, agent_id=7
    )
    assert "<Status>2</Status>" in inner and "<![CDATA[wangli]]>" in inner


def test_drops_follow_the_seed_and_a_delay_holds_an_event_back():
    def dropped(seed: int) -> list[tuple[str, int]]:
        state = sandbox_state()
        state.set_callbacks(
            url="http://127.0.0.1:9/", token=TOKEN, aes_key=AES_KEY, drop=0.5, seed=seed
        )
        anchor = next(iter(state.school.teachers))
        for hour in range(1, 21):
            state.living_create(
                anchor_userid=anchor,
                partyids=(),
                theme=f"第{hour}课",
                living_start=state.clock() + hour * 3600,
                living_duration=600,
            )
        state.advance(30 * 3600)  # each starts and ends: 40 events
        state.callbacks.collect(state)
        # Dropped events are logged at once; the others wait to be sent.
        assert len(state.callback_log()) + state.callbacks.snapshot()["pending"] >= 40
        return [(state.living(e["livingid"]).theme, e["status"]) for e in state.callback_log()]

    first = dropped(11)
    assert 5 < len(first) < 35, first
    assert first == dropped(11)
    assert first != dropped(12)

    state = sandbox_state()
    state.set_callbacks(url="http://127.0.0.1:9/", token=TOKEN, aes_key=AES_KEY, delay=600)
    now = state.clock()
    livingid = next(lid for lid, lv in state.school.livings.items() if lv.status(now) == 0)
    state.start_living_now(livingid)
    state.callbacks.collect(state)
    assert state.callbacks.send_due(state) > 60  # nothing is due for ten minutes
    assert state.callbacks.snapshot()["pending"] == 1
    assert state.callback_log() == []
