"""One rate budget per WeCom API for every process (wecom/budget.py), against the sandbox's own
calls-per-minute limit: whoever calls, together they stay under the budget and never meet 45009.
"""

import os
import subprocess
import sys
import textwrap
import threading
import time

import pytest
from django.db import connection

from school_live.sync.patience import Patience
from school_live.wecom.client import WeComClient
from school_live.wecom.errors import RATE_BUDGET, WeComTransientError
from tests.fixtures.sandbox import SYNC_CORP_ID, SYNC_SECRET
from tests.fixtures.worker import REPO, database_url

DEPARTMENTS = "/cgi-bin/school/department/list"


def limit_errors(state) -> int:
    return sum(1 for call in state.calls if call.errcode == 45009)


class Stopped(Exception):
    pass


def calls_until_the_budget_is_spent(client: WeComClient, most: int) -> int:
    """Calls made before the budget said wait (the waiter stops instead of waiting)."""
    made = 0
    for _ in range(most):
        try:
            client.list_departments()
        except Stopped:
            break
        made += 1
    return made


def stop_at_the_budget(seen: list):
    def waiter(error: WeComTransientError, attempt: int) -> None:
        seen.append(error.errcode)
        raise Stopped

    return waiter


# A process of its own, on the test's database and cache: it says "ready", waits for a line on
# stdin, then calls until the budget stops it and prints how many calls it made.
OTHER_PROCESS = textwrap.dedent(
    """
    import sys
    import django

    django.setup()
    from school_live.wecom.client import WeComClient

    class Stopped(Exception):
        pass

    def waiter(error, attempt):
        assert error.errcode == {budget_code}, error
        raise Stopped

    client = WeComClient(base_url=sys.argv[1], calls_per_minute={budget}, waiter=waiter)
    client.get_access_token()
    print("ready", flush=True)
    sys.stdin.readline()
    made = 0
    for _ in range(40):
        try:
            client.list_departments()
        except Stopped:
            break
        made += 1
    print(made, flush=True)
    """
)


@pytest.mark.worker  # another process shares the test's database (and so its cache)
def test_threads_and_another_process_together_stay_under_the_budget(transactional_db, sync_sandbox):
    budget = 30
    state = sync_sandbox.state
    # The sandbox blocks the API for 60 s past `budget` calls a minute, as WeCom does.
    state.set_faults(calls_per_minute=budget)
    env = {
        **os.environ,
        "DATABASE_URL": database_url(connection.settings_dict),
        "DJANGO_SETTINGS_MODULE": "school_live.settings",
        "WECOM_CORP_ID": SYNC_CORP_ID,
        "WECOM_SECRET": SYNC_SECRET,
    }
    other = subprocess.Popen(
        [
            sys.executable,
            "-c",
            OTHER_PROCESS.format(budget=budget, budget_code=RATE_BUDGET),
            sync_sandbox.url,
        ],
        cwd=REPO,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert other.stdout.readline().strip() == "ready", other.stderr.read()
        seen: list[int] = []
        made: list[int] = []

        def caller():
            try:
                with WeComClient(
                    base_url=sync_sandbox.url,
                    calls_per_minute=budget,
                    waiter=stop_at_the_budget(seen),
                ) as client:
                    made.append(calls_until_the_budget_is_spent(client, 40))
            finally:
                connection.close()

        threads = [threading.Thread(target=caller) for _ in range(3)]
        other.stdin.write("go\n")
        other.stdin.flush()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        out, err = other.communicate(timeout=60)
    finally:
        other.kill()
    assert other.returncode == 0, err
    other_made = int(out.split()[-1])

    # Together exactly the budget: no call more, and none lost to the bookkeeping.
    assert sum(made) + other_made == budget == state.call_count(DEPARTMENTS)
    assert limit_errors(state) == 0
    assert set(seen) == {RATE_BUDGET} and len(seen) == 3  # each thread was told to wait


def test_a_spent_budget_is_waited_out_instead_of_meeting_45009(sync_sandbox):
    """The client sleeps until the budget frees up (on the sandbox's clock, moved forward by
    the sleeps), and every call is answered."""
    state = sync_sandbox.state
    state.set_faults(calls_per_minute=5)
    slept = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        state.advance(max(1, round(seconds)))

    with WeComClient(
        base_url=sync_sandbox.url,
        calls_per_minute=5,
        budget_wait=600,
        sleep=sleep,
        clock=lambda: float(state.clock()),
    ) as client:
        for _ in range(12):
            assert client.list_departments()  # a 45009 would raise here: no waiter
    assert state.call_count(DEPARTMENTS) == 12
    assert limit_errors(state) == 0
    assert sum(slept) >= 60  # 12 calls at 5 a minute: at least two more windows


def test_a_web_request_does_not_wait_long_for_the_budget(sync_sandbox):
    with WeComClient(base_url=sync_sandbox.url, calls_per_minute=1, budget_wait=0) as client:
        client.list_departments()
        with pytest.raises(WeComTransientError) as raised:
            client.list_departments()
    assert raised.value.errcode == RATE_BUDGET and raised.value.transient
    assert "WECOM_CALLS_PER_MINUTE" in str(raised.value)
    assert sync_sandbox.state.call_count(DEPARTMENTS) == 1


def test_patience_waits_for_the_budget_however_often(db, settings):
    """A sync waits out the budget as told, in real seconds, and never gives up on it (WeCom's
    own errors give up once their waits pass SYNC_WAIT_TOTAL, here 0.12 s)."""
    settings.SYNC_WAIT_SCALE = 0.001
    slept, reported = [], []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        time.sleep(seconds)

    patience = Patience(report=reported.append, sleep=sleep)
    error = WeComTransientError(
        RATE_BUDGET, "rate budget spent", "school/user/list", retry_after=0.01
    )
    for attempt in range(1, 31):
        patience(error, attempt)  # would raise once it gave up
    assert sum(slept) == pytest.approx(0.3, abs=0.05)
    assert reported == ["rate budget of school/user/list spent: waiting (WECOM_CALLS_PER_MINUTE)"]
    limit = WeComTransientError(45009, "api freq out of limit", "school/user/list")
    with pytest.raises(WeComTransientError):
        for attempt in range(1, 5):
            patience(limit, attempt)


def test_budget_setting_applies_to_every_client(sync_sandbox, settings):
    settings.WECOM_CALLS_PER_MINUTE = 2
    seen: list[int] = []
    with WeComClient(base_url=sync_sandbox.url, waiter=stop_at_the_budget(seen)) as client:
        assert calls_until_the_budget_is_spent(client, 10) == 2
    assert seen == [RATE_BUDGET]
