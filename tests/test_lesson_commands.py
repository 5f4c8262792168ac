"""schedule_living and import_timetable against the sandbox: what they create in WeCom and here,
the one line they print when they refuse (and that then nothing was created anywhere), and that
running them again — after a success or after a failure half-way — creates only what is missing."""

import datetime as dt

import pytest
from django.utils import timezone

from school_live.lessons import cli
from school_live.lessons.models import LessonOccurrence, LessonSeries
from school_live.school.models import Living
from school_live.school.tenancy import default_school
from school_live.sync.roster import roster_sync
from school_live.wecom.client import WeComClient
from tests.fixtures.sandbox import SYNC_SECRET
from tests.test_commands_fresh_database import _run as run_manage
from tests.test_lessons import LosesTheSecondReply
from tests.test_sync import assert_clean, run_command

# These tests pin English wording; the site speaks zh-hans first.
pytestmark = pytest.mark.usefixtures("english")

CREATE = "/cgi-bin/living/create"
HEAD = "linjing"  # 班主任 of 一年级一班 (3) only
SUBJECT = "zhengyutao"  # 数学 in 一年级一班 (3) and 一年级二班 (4)
THEME = "命令：分数的意义"
COLUMNS = "class_id,teacher_userid,weekday,start_time,minutes,theme,first_date,weeks,type"


@pytest.fixture
def roster(sync_sandbox, sync_client):
    roster_sync(
        school=default_school(), client=sync_client
    )  # also leaves an access token in the shared cache
    return sync_sandbox


def in_days(days: int, hour: int = 9, minute: int = 0) -> dt.datetime:
    """A start well clear of the sandbox's own livings (now + 3 h and + 26 h)."""
    day = timezone.now().astimezone(timezone.get_default_timezone()).date() + dt.timedelta(
        days=days
    )
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=timezone.get_default_timezone())


def text(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M")


def schedule(*extra: str, teacher=HEAD, classes=("3",), start=None, theme=THEME, minutes="40"):
    args = ["schedule_living", "--teacher", teacher, "--start", text(start or in_days(10))]
    for klass in classes:
        args += ["--class", klass]
    return run_command(*args, "--minutes", minutes, "--theme", theme, *extra)


def created_in_wecom(sandbox, theme=THEME) -> list:
    livings = [lv for lv in sandbox.state.school.livings.values() if lv.theme == theme]
    return sorted(livings, key=lambda lv: lv.living_start)


def assert_nothing_created(sandbox, *, creates=0) -> None:
    assert sandbox.state.call_count(CREATE) == creates  # calls WeCom answered with an errcode
    assert not created_in_wecom(sandbox)
    assert not LessonSeries.objects.exists()
    assert not LessonOccurrence.objects.exists()
    assert not Living.objects.exists()


def one_line(stderr: str) -> str:
    lines = stderr.splitlines()
    assert len(lines) == 1, stderr
    return lines[0]


# --- schedule_living ------------------------------------------------------------------------------


def test_schedule_living_prints_the_new_livingid_and_stores_the_lesson_reserved(roster):
    start = in_days(10, 8, 30)
    code, out, err = schedule(start=start)
    assert (code, err) == (0, "")
    [wecom] = created_in_wecom(roster)
    assert out.splitlines() == [wecom.livingid]
    assert (wecom.anchor_userid, wecom.living_start, wecom.living_duration) == (
        HEAD,
        int(start.timestamp()),
        40 * 60,
    )
    assert wecom.living_type == LessonSeries.Type.BIG_CLASS
    living = Living.objects.get(livingid=wecom.livingid)
    assert living.status == Living.Status.RESERVED
    assert list(living.planned_classes.values_list("wecom_id", flat=True)) == [3]
    assert living.occurrence.series.source == LessonSeries.Source.COMMAND


def test_a_weekly_small_class_for_two_classes_prints_one_livingid_per_week(roster):
    code, out, err = schedule(
        "--weeks", "3", "--type", "small", "--remind", "15", teacher=SUBJECT, classes=("3", "4")
    )
    assert (code, err) == (0, "")
    created = created_in_wecom(roster)
    assert out.splitlines() == [lv.livingid for lv in created]
    starts = [lv.living_start for lv in created]
    assert [b - a for a, b in zip(starts, starts[1:], strict=False)] == [7 * 24 * 3600] * 2
    assert {(lv.living_type, lv.remind_time) for lv in created} == {(1, 15 * 60)}
    for living in Living.objects.all():
        assert set(living.planned_classes.values_list("wecom_id", flat=True)) == {3, 4}


def test_the_same_command_twice_prints_the_same_livingid_and_creates_nothing(roster):
    first = schedule("--weeks", "2")
    second = schedule("--weeks", "2")
    assert first[0] == second[0] == 0
    assert second[1] == first[1] and len(first[1].splitlines()) == 2
    assert "Already scheduled" in second[2]
    assert roster.state.call_count(CREATE) == 2
    assert LessonOccurrence.objects.count() == 2


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"teacher": "nobody"}, 'No teacher with the WeCom userid "nobody"'),
        ({"classes": ("999",)}, "No class with the WeCom department id 999"),
        ({"classes": ("2",)}, "No class with the WeCom department id 2"),  # a grade
        ({"classes": ("一班",)}, "--class: expected a class's WeCom department id (a number)"),
        ({"classes": ("4",)}, "does not teach 一年级二班 (id 4): choose one of their classes"),
        ({"theme": "一" * 21}, "The theme has 21 characters; WeCom allows at most 20."),
        ({"start": in_days(-1)}, "The start must be in the future."),
        ({"minutes": "forty"}, '--minutes: expected a whole number from 1 to 480, got "forty"'),
        ({"extra": ("--type", "medium")}, '--type: expected "big" (大班课) or "small"'),
        ({"extra": ("--weeks", "31")}, "--weeks: expected a whole number from 1 to 30"),
    ],
)
def test_bad_input_is_one_line_on_stderr_and_nothing_is_created(roster, change, expected):
    extra = change.pop("extra", ())
    code, out, err = schedule(*extra, **change)
    assert (code, out) == (1, "")
    line = one_line(err)
    assert expected in line
    assert line.endswith("Nothing was created; fix it and run the command again.")
    assert_nothing_created(roster)


def test_a_malformed_start_names_the_format(roster):
    code, _out, err = run_command(
        "schedule_living", "--teacher", HEAD, "--class", "3", "--start", "next monday 9:00",
        "--minutes", "40", "--theme", THEME,
    )  # fmt: skip
    assert code == 1
    assert '--start: expected "YYYY-MM-DD HH:MM" (Asia/Shanghai time)' in one_line(err)
    assert_nothing_created(roster)


def test_an_overlap_with_the_teachers_own_lesson_is_refused(roster):
    assert schedule(start=in_days(10, 9))[0] == 0
    code, out, err = schedule(start=in_days(10, 9, 30), theme="命令：另一节课")
    assert (code, out) == (1, "")
    # The sandbox's roster gives no teacher names: the error says so instead of the login id.
    assert f"overlaps a teacher (WeCom gave no name)'s lesson “{THEME}”" in one_line(err)
    assert roster.state.call_count(CREATE) == 1
    assert not created_in_wecom(roster, "命令：另一节课")


def test_missing_wecom_settings_are_the_one_line(roster, settings):
    settings.WECOM_SECRET = ""
    code, _out, err = schedule()
    assert code == 1
    line = one_line(err)
    assert "WeCom is not configured (WECOM_SECRET)" in line
    assert "set the WECOM_SECRET environment variable" in line
    assert_nothing_created(roster)


def test_a_wecom_refusal_leaves_nothing_here_either(roster):
    roster.state.set_faults(limit=1.0)  # every call answers 45009
    code, out, err = schedule()
    assert (code, out) == (1, "")
    line = one_line(err)
    assert "errcode 45009" in line and "Nothing was created" in line
    assert_clean(err, roster)
    assert_nothing_created(roster, creates=1)


def test_a_retry_after_wecom_refused_half_way_creates_only_the_rest(roster):
    roster.state.set_faults(calls_per_minute=1)  # the second living/create gets 45009
    code, out, err = schedule("--weeks", "3")
    assert (code, out) == (1, "")
    assert "1 of 3 lessons were created; run the same command again" in one_line(err)
    assert len(created_in_wecom(roster)) == 1
    assert LessonOccurrence.objects.count() == 1  # the refused and unsent weeks left no trace
    roster.state.clear_faults()

    code, out, err = schedule("--weeks", "3")
    assert (code, err) == (0, "")
    created = created_in_wecom(roster)
    assert out.splitlines() == [lv.livingid for lv in created]
    assert len(created) == 3
    assert roster.state.call_count(CREATE) == 2 + 2  # one refused, never repeated


def test_a_retry_after_a_lost_reply_finds_that_lesson_instead_of_creating_it_twice(
    roster, monkeypatch
):
    monkeypatch.setattr(LosesTheSecondReply, "creates", 0)  # the count is the class's
    monkeypatch.setattr(cli, "WeComClient", LosesTheSecondReply)
    code, _out, err = schedule("--weeks", "3")
    assert code == 1
    line = one_line(err)
    assert "1 of 3 lessons were created" in line
    assert "WeCom may have created 1 more" in line
    assert len(created_in_wecom(roster)) == 2
    monkeypatch.setattr(cli, "WeComClient", WeComClient)

    code, out, _err = schedule("--weeks", "3")
    assert code == 0
    created = created_in_wecom(roster)
    assert len(created) == 3
    assert out.splitlines() == [lv.livingid for lv in created]


# --- import_timetable -----------------------------------------------------------------------------


def monday_in_two_weeks() -> dt.date:
    today = timezone.now().astimezone(timezone.get_default_timezone()).date()
    return today + dt.timedelta(days=14 - today.weekday())


def write_csv(tmp_path, rows: list[str], *, encoding="utf-8", name="timetable.csv"):
    path = tmp_path / name
    path.write_text("\n".join([COLUMNS, *rows]) + "\n", encoding=encoding)
    return str(path)


def good_rows(first_date: dt.date) -> list[str]:
    return [
        f"3,{HEAD},1,08:00,40,{THEME},{first_date},2,",  # Mondays, twice
        f"4,{SUBJECT},3,10:30,35,命令：小数,{first_date},1,small",  # the Wednesday after
    ]


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig"])  # utf-8-sig: Excel's BOM
def test_a_timetable_creates_each_weekly_lesson(roster, tmp_path, encoding):
    monday = monday_in_two_weeks()
    code, out, err = run_command(
        "import_timetable", write_csv(tmp_path, good_rows(monday), encoding=encoding)
    )
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[0].startswith(
        "row 2: created 2 lessons — “命令：分数的意义” · linjing · 一年级一班 · "
    )
    assert lines[1].startswith("row 3: created 1 lesson — “命令：小数”")
    assert lines[-1] == "Created 3 lessons from 2 rows."
    mondays = created_in_wecom(roster)
    assert [
        dt.datetime.fromtimestamp(lv.living_start, timezone.get_default_timezone())
        for lv in mondays
    ] == [
        dt.datetime.combine(
            monday + dt.timedelta(weeks=week), dt.time(8), tzinfo=timezone.get_default_timezone()
        )
        for week in range(2)
    ]
    [wednesday] = created_in_wecom(roster, "命令：小数")
    assert dt.datetime.fromtimestamp(
        wednesday.living_start, timezone.get_default_timezone()
    ) == dt.datetime.combine(
        monday + dt.timedelta(days=2), dt.time(10, 30), tzinfo=timezone.get_default_timezone()
    )
    assert (wednesday.anchor_userid, wednesday.living_type) == (SUBJECT, 1)
    assert Living.objects.filter(occurrence__series__source="timetable").count() == 3


def bad_file(tmp_path, monday: dt.date) -> str:
    return write_csv(
        tmp_path,
        [
            *good_rows(monday),
            f"999,{HEAD},2,08:00,40,命令：班会,{monday},1,",  # row 4
            f"3,nobody,2,08:00,40,命令：班会,{monday},1,",  # row 5
            f"4,{HEAD},2,08:00,40,命令：班会,{monday},1,",  # row 6: not her class
            f"3,{HEAD},2,08:00,40,{'一' * 21},{monday},1,",  # row 7
            f"3,{HEAD},8,08:00,40,命令：班会,{monday},1,",  # row 8
            f"3,{HEAD},2,8 o'clock,40,命令：班会,{monday},1,",  # row 9
            f"3,{HEAD},2,08:00,40,命令：班会,{monday},1,medium",  # row 10
            f"3,{HEAD},1,08:20,40,命令：复习,{monday + dt.timedelta(weeks=1)},1,",  # row 11
        ],
    )


REFUSALS = [
    "row 4: refused — No class with the WeCom department id 999",
    'row 5: refused — No teacher with the WeCom userid "nobody"',
    "row 6: refused — linjing does not teach 一年级二班 (id 4)",
    "row 7: refused — The theme has 21 characters; WeCom allows at most 20.",
    'row 8: refused — column weekday: expected a whole number from 1 to 7, got "8"',
    "row 9: refused — column start_time: expected a time as HH:MM",
    'row 10: refused — column type: expected "big" (大班课) or "small" (小班课), got "medium"',
    "overlaps row 2, “命令：分数的意义”, of the same teacher (linjing)",
]


def test_a_timetable_with_refused_rows_creates_nothing(roster, tmp_path):
    code, out, err = run_command("import_timetable", bad_file(tmp_path, monday_in_two_weeks()))
    assert (code, out) == (1, "")
    lines = err.splitlines()
    assert len(lines) == len(REFUSALS) + 1
    for line, expected in zip(lines, REFUSALS, strict=False):
        assert expected in line
    assert lines[-2].startswith("row 11: refused — ")
    assert lines[-1].startswith("8 rows refused: nothing was created.")
    assert "--skip-bad" in lines[-1]
    assert_nothing_created(roster)


def test_skip_bad_creates_the_good_rows_and_says_what_it_skipped(roster, tmp_path):
    code, out, err = run_command(
        "import_timetable", bad_file(tmp_path, monday_in_two_weeks()), "--skip-bad"
    )
    assert code == 0
    assert len(err.splitlines()) == len(REFUSALS)
    assert out.splitlines()[-1] == (
        "Created 3 lessons from 2 rows; 8 rows refused and skipped (--skip-bad)."
    )
    assert len(created_in_wecom(roster)) == 2
    assert len(created_in_wecom(roster, "命令：小数")) == 1
    assert roster.state.call_count(CREATE) == 3


def test_skip_bad_with_no_good_row_fails(roster, tmp_path):
    path = write_csv(tmp_path, [f"3,nobody,2,08:00,40,命令：班会,{monday_in_two_weeks()},1,"])
    code, out, err = run_command("import_timetable", path, "--skip-bad")
    assert (code, out) == (1, "")
    assert (
        err.splitlines()[-1]
        == "Created 0 lessons from 0 rows; 1 row refused and skipped (--skip-bad)."
    )


def test_a_dry_run_checks_every_row_and_calls_nothing_in_wecom(roster, tmp_path):
    calls = len(roster.state.calls)
    path = write_csv(tmp_path, good_rows(monday_in_two_weeks()))
    code, out, err = run_command("import_timetable", path, "--dry-run")
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[0].startswith("row 2: would create 2 lessons — ")
    assert lines[1].startswith("row 3: would create 1 lesson — ")
    assert lines[2] == "Dry run: 3 lessons would be created from 2 rows; nothing was created."
    assert len(roster.state.calls) == calls
    assert_nothing_created(roster)

    code, _out, err = run_command(
        "import_timetable", bad_file(tmp_path, monday_in_two_weeks()), "--dry-run"
    )
    assert code == 1 and "8 rows refused" in err
    assert len(roster.state.calls) == calls


def test_the_same_timetable_twice_creates_nothing_the_second_time(roster, tmp_path):
    path = write_csv(tmp_path, good_rows(monday_in_two_weeks()))
    assert run_command("import_timetable", path)[0] == 0
    code, out, err = run_command("import_timetable", path)
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[0].startswith("row 2: already scheduled — ")
    assert lines[1].startswith("row 3: already scheduled — ")
    assert lines[2] == "Created 0 lessons from 0 rows; 2 rows already scheduled."
    assert roster.state.call_count(CREATE) == 3
    assert LessonSeries.objects.count() == 2


def test_a_retry_after_wecom_failed_mid_file_creates_only_what_is_missing(roster, tmp_path):
    path = write_csv(tmp_path, good_rows(monday_in_two_weeks()))
    roster.state.set_faults(calls_per_minute=2)  # row 3's lesson is the third create: 45009
    code, out, err = run_command("import_timetable", path)
    assert code == 1
    [created] = out.splitlines()
    assert created.startswith("row 2: created 2 lessons")
    failed, stopped = err.splitlines()
    assert failed.startswith("row 3: failed — WeCom living/create failed with errcode 45009")
    assert "Nothing was created" in failed
    assert stopped.startswith("Stopped at row 3 after creating 2 lessons: run the same command")
    assert not created_in_wecom(roster, "命令：小数")
    assert LessonSeries.objects.count() == 1
    roster.state.clear_faults()

    code, out, err = run_command("import_timetable", path)
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[0].startswith("row 2: already scheduled")
    assert lines[1].startswith("row 3: created 1 lesson")
    assert lines[2] == "Created 1 lesson from 1 row; 1 row already scheduled."
    assert len(created_in_wecom(roster)) == 2
    assert len(created_in_wecom(roster, "命令：小数")) == 1
    assert roster.state.call_count(CREATE) == 3 + 1


def test_a_file_that_is_not_a_timetable_is_one_line(roster, tmp_path):
    missing = run_command("import_timetable", str(tmp_path / "absent.csv"))
    assert missing[0] == 1 and "Cannot read" in one_line(missing[2])
    no_header = tmp_path / "no_header.csv"
    no_header.write_text("3,linjing,1,08:00,40,x,2030-01-07,1,big\n", encoding="utf-8")
    code, _out, err = run_command("import_timetable", str(no_header))
    assert code == 1
    assert "has no column class_id, teacher_userid" in one_line(err)
    gbk = tmp_path / "gbk.csv"
    gbk.write_bytes(f"{COLUMNS}\n3,{HEAD},1,08:00,40,数学,2030-01-07,1,\n".encode("gbk"))
    code, _out, err = run_command("import_timetable", str(gbk))
    assert code == 1 and "is not UTF-8 text" in one_line(err)
    assert_nothing_created(roster)


# --- as a shell runs them: exit codes, stderr, a brand-new database --------------------------------


@pytest.mark.slow  # four Django processes, one of them migrating a new database
def test_the_commands_as_processes_on_a_new_database(sync_sandbox, tmp_path):
    database = tmp_path / "new.sqlite3"

    def run(*args):
        result = run_manage(list(args), tmp_path=tmp_path, sandbox=sync_sandbox, database=database)
        assert "Traceback" not in result.stderr and SYNC_SECRET not in result.stderr
        return result

    path = write_csv(tmp_path, good_rows(monday_in_two_weeks()))
    first = run("import_timetable", path)
    assert first.returncode == 1
    assert "creating its tables first" in first.stderr
    # The commands speak the site's language (zh-hans): check what does not depend on it.
    refusals = [line for line in first.stderr.splitlines() if "linjing" in line]
    assert refusals and all("2" in line for line in refusals[:1])

    assert run("sync_school").returncode == 0
    start = text(in_days(10))
    args = ["--teacher", HEAD, "--class", "3", "--start", start, "--minutes", "40"]
    ok = run("schedule_living", *args, "--theme", THEME)
    assert (ok.returncode, ok.stderr) == (0, "")
    [wecom] = created_in_wecom(sync_sandbox)
    assert ok.stdout == f"{wecom.livingid}\n"

    refused = run("schedule_living", *args, "--theme", "一" * 21)
    assert (refused.returncode, refused.stdout) == (1, "")
    assert len(refused.stderr.splitlines()) == 1
    assert "21" in refused.stderr and "20" in refused.stderr
