"""The WeCom set-up check against the sandbox as a real server: every misconfiguration an admin
can make in WeCom's console, switched on, gives the right ✗ with its fix; none gives all ✓."""

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from school_live.school.models import Living, School
from school_live.setup_check.describe import check_lines
from school_live.setup_check.models import SetupCheck
from school_live.setup_check.schools import default_school
from school_live.setup_check.services import setup_check_run
from tests.fixtures.sandbox import ended_livingid, foreign_livingid

PROBED = ("token", "agent", "contacts", "living_api", "allow_scope", "notice", "living_info")
BLOCKED = "先修好上一项"
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def env_school(db, wecom_settings):
    return default_school()


@pytest.fixture
def created_lesson(db, wecom_sandbox):
    """A lesson the app created, read back from WeCom once (as a sync leaves it)."""
    livingid = ended_livingid(wecom_sandbox.state)
    return Living.objects.create(
        school=default_school(), livingid=livingid, theme="认识钟表", info_synced_at=timezone.now()
    )


def run(school) -> tuple[SetupCheck, dict]:
    check = setup_check_run(school=school, trigger=SetupCheck.Trigger.COMMAND)
    return check, {line.key: line for line in check_lines(check)}


def test_a_school_set_up_right_passes_every_probe(env_school, created_lesson, wecom_sandbox):
    check, lines = run(env_school)
    assert check.ok and check.outcome == ""
    assert {key: lines[key].status for key in (*PROBED, "jssdk")} == dict.fromkeys(
        (*PROBED, "jssdk"), "ok"
    )
    assert created_lesson.livingid in lines["living_info"].text
    assert wecom_sandbox.state.living(created_lesson.livingid).theme in lines["living_info"].text
    # What no call proves is said so, with how to try it.
    assert lines["oauth"].status == "unprobed" and "使用企业微信登录" in lines["oauth"].text
    assert lines["callback"].status == "unprobed"
    # The 学校通知 probe reached nobody: its only recipient does not exist.
    [notice] = wecom_sandbox.state.notice_log()
    assert notice["errcode"] == 81013 and not notice.get("delivered_parents")


def test_without_a_lesson_in_the_database_one_wecom_lists_is_read(env_school, wecom_sandbox):
    check, lines = run(env_school)
    assert check.ok and lines["living_info"].status == "ok"


def test_with_no_lesson_at_all_the_lesson_probe_waits_for_the_first(env_school, wecom_sandbox):
    wecom_sandbox.state.school.livings.clear()  # the reset puts them back
    check, lines = run(env_school)
    assert check.ok
    assert lines["living_info"].status == "skipped" and lines["living_api"].status == "ok"
    assert BLOCKED not in lines["living_info"].text


@pytest.mark.parametrize(
    "switches,key,errcode,fix",
    [
        ({"secret_reset": True}, "token", 40001, "Secret"),
        ({"untrusted_ip": "203.0.113.9"}, "agent", 60020, "企业可信IP"),
        ({"wrong_agent": True}, "agent", 301002, "AgentId"),
        (
            {"living_list": False},
            "living_api",
            48002,
            "应用管理 → 上课直播 → 可调用接口的应用 → 添加本应用",
        ),
        ({"parent_app": False}, "notice", 48002, "家长可使用的应用"),
        (
            {"contacts_list": False, "parent_app": False},
            "contacts",
            48002,
            "读取家校通讯录的应用",
        ),
        ({"customized_publish_status": 1}, "agent", None, "上线"),
    ],
)
def test_each_misconfiguration_is_a_cross_with_its_fix(
    env_school, created_lesson, wecom_sandbox, switches, key, errcode, fix
):
    wecom_sandbox.state.set_setup(**switches)
    check, lines = run(env_school)
    assert not check.ok
    line = lines[key]
    assert line.status == "failed" and line.mark == "✗"
    assert line.errcode == errcode
    assert fix in line.text
    assert line.text != line.title


def test_an_untrusted_address_names_the_address_wecom_saw_and_stops_there(
    env_school, wecom_sandbox
):
    wecom_sandbox.state.set_setup(untrusted_ip="203.0.113.9")
    check, lines = run(env_school)
    assert lines["token"].status == "ok"
    assert lines["agent"].ip == "203.0.113.9" and "203.0.113.9" in lines["agent"].text
    later = ("contacts", "living_api", "allow_scope", "notice", "living_info", "jssdk")
    assert {key: lines[key].status for key in later} == dict.fromkeys(later, "skipped")
    assert all(BLOCKED in lines[key].text for key in later)
    assert check.outcome == "agent:60020"


def test_a_reset_secret_blocks_everything_after_the_token(env_school, wecom_sandbox):
    wecom_sandbox.state.set_setup(secret_reset=True)
    _check, lines = run(env_school)
    assert lines["token"].errcode == 40001
    assert "WECOM_SECRET" in lines["token"].text  # the default school's secret is the server's
    assert all(lines[key].status == "skipped" for key in PROBED[1:])


def test_the_app_missing_from_the_living_list_stops_only_the_lesson_probes(
    env_school, created_lesson, wecom_sandbox
):
    wecom_sandbox.state.set_setup(living_list=False)
    check, lines = run(env_school)
    assert lines["living_info"].status == "skipped"
    for key in ("token", "agent", "contacts", "allow_scope", "notice", "jssdk"):
        assert lines[key].status == "ok", key
    assert check.outcome == "living_api:48002"


def test_reading_contacts_needs_either_list_as_wecom_allows(
    env_school, created_lesson, wecom_sandbox
):
    wecom_sandbox.state.set_setup(contacts_list=False)
    check, _lines = run(env_school)
    assert check.ok  # 「家长可使用的应用」 alone lets the app read the 家校通讯录 (api.md §6)


def test_the_parents_list_missing_fails_both_notice_probes_with_wecoms_own_variant(
    env_school, created_lesson, wecom_sandbox
):
    wecom_sandbox.state.set_setup(parent_app=False)
    check, lines = run(env_school)
    assert lines["allow_scope"].errcode == 48002 and lines["notice"].errcode == 48002
    assert "家长可使用的应用" in lines["allow_scope"].text
    [notice] = wecom_sandbox.state.notice_log()
    assert notice["errcode"] == 48002
    assert check.outcome == "allow_scope:48002,notice:48002"
    stored = {line["key"]: line for line in check.lines}
    assert "not in parent app list" in stored["notice"]["params"]["errmsg"]


def test_a_lesson_of_another_app_is_92008_with_its_fix(env_school, wecom_sandbox):
    Living.objects.create(
        school=default_school(),
        livingid=foreign_livingid(wecom_sandbox.state),
        info_synced_at=timezone.now(),
    )
    check, lines = run(env_school)
    assert lines["living_info"].errcode == 92008
    assert "AgentId" in lines["living_info"].text and "Secret" in lines["living_info"].text
    assert check.outcome == "living_info:92008"


def test_a_trusted_domain_other_than_the_sites_is_a_cross(env_school, wecom_sandbox, settings):
    wecom_sandbox.state.set_setup(redirect_domain="other.example")
    check, lines = run(env_school)
    assert lines["oauth"].status == "failed"
    assert "other.example" in lines["oauth"].text and "127.0.0.1" in lines["oauth"].text
    assert check.outcome == "oauth:domain_mismatch"


def test_a_missing_secret_is_the_first_cross_and_nothing_is_called(db, settings, wecom_sandbox):
    settings.WECOM_API_BASE = wecom_sandbox.url
    stored = School.objects.create(name="第二小学", corp_id="ww_second", agent_id=1000002)
    check, lines = run(stored)
    assert lines["token"].status == "failed"
    assert "学校 → 第二小学" in lines["token"].text  # its credentials are entered in the admin
    assert all(lines[key].status == "skipped" for key in PROBED[1:])
    assert wecom_sandbox.state.calls == type(wecom_sandbox.state.calls)()


def test_the_command_prints_a_line_per_check_and_exits_1_on_a_failure(
    env_school, created_lesson, wecom_sandbox, capsys
):
    call_command("wecom_check")
    printed = capsys.readouterr().out
    assert printed.count("✓") >= 8 and "✗" not in printed
    wecom_sandbox.state.set_setup(living_list=False)
    with pytest.raises(CommandError) as failed:  # manage.py exits with its returncode
        call_command("wecom_check", "--school", env_school.corp_id)
    assert failed.value.returncode == 1
    printed = capsys.readouterr().out
    assert "✗ 上课直播接口（get_user_all_livingid） [errcode 48002]" in printed
    assert "可调用接口的应用 → 添加本应用" in printed
    assert "1 项检查未通过" in str(failed.value)
    assert SetupCheck.objects.filter(trigger=SetupCheck.Trigger.COMMAND).count() == 2


def test_the_command_refuses_an_unknown_school(env_school):
    with pytest.raises(CommandError, match="ww_nobody"):
        call_command("wecom_check", "--school", "ww_nobody")


def test_each_run_is_kept_with_its_time(env_school, wecom_sandbox, clock_at):
    clock_at(dt.datetime(2026, 3, 2, 6, 40, tzinfo=dt.UTC))
    run(env_school)
    wecom_sandbox.state.set_setup(wrong_agent=True)
    run(env_school)
    runs = list(SetupCheck.objects.filter(school=env_school).order_by("pk"))
    assert [r.ok for r in runs] == [True, False]
    assert runs[0].finished_at.date() == dt.date(2026, 3, 2)


def test_the_command_on_a_new_database_exits_0_then_1(tmp_path, wecom_sandbox):
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'new.sqlite3'}",
        "CACHE_URL": "dbcache://school_live_cache",
        "SCHOOL_LIVE_VAR_DIR": str(tmp_path / "var"),
        "WECOM_API_BASE": wecom_sandbox.url,
        "WECOM_CORP_ID": wecom_sandbox.state.corp_id,
        "WECOM_SECRET": wecom_sandbox.state.secret,
        "WECOM_AGENT_ID": str(wecom_sandbox.state.agent_id),
    }

    def wecom_check():
        return subprocess.run(
            [sys.executable, "manage.py", "wecom_check"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )

    passed = wecom_check()
    assert passed.returncode == 0, passed.stderr
    assert "✓ 企业ID 与应用 Secret（gettoken）" in passed.stdout
    wecom_sandbox.state.set_setup(secret_reset=True)
    failed = wecom_check()
    assert failed.returncode == 1
    assert "✗ 企业ID 与应用 Secret（gettoken） [errcode 40001]" in failed.stdout
    assert wecom_sandbox.state.secret not in failed.stdout + failed.stderr
    assert len(failed.stderr.strip().splitlines()) == 1


def test_once_wecom_is_busy_the_later_probes_do_not_wait_for_it_again(env_school, wecom_sandbox):
    wecom_sandbox.state.inject_errcode("/cgi-bin/school/department/list", -1, times=None)
    check = setup_check_run(
        school=env_school,
        trigger=SetupCheck.Trigger.ADMIN,
        client_options={"retry_base_delay": 0.001},
    )
    lines = {line.key: line for line in check_lines(check)}
    assert lines["contacts"].errcode == -1 and "几分钟后再检查" in lines["contacts"].text
    later = ("living_api", "allow_scope", "notice", "living_info", "jssdk")
    assert all(lines[key].status == "skipped" for key in later)
    assert wecom_sandbox.state.call_count("/cgi-bin/school/agent/get_allow_scope") == 0
