"""The summaries of several lessons at once (``queries.livings_breakdown``: the home page, a
lesson's page; the roll call's totals of the lessons under way on the home page) read the rows
of those lessons only, however many lessons the school has had.

Their correlated subqueries name the lessons outright: PostgreSQL may run a correlated EXISTS as
a hash of every row it can match (a "hashed SubPlan"), which, correlated on the lesson alone,
read every watch row of every lesson ever (the home page took 0.4 s of PostgreSQL at 2,000
lessons instead of 0.03 s). The counts themselves are pinned by tests/test_attendance.py and
tests/test_rollcall.py."""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from school_live.attendance import queries
from school_live.attendance.queries.rollcall import livings_rollcall_totals
from tests.fixtures.attendance import make_living, watch

ROW_TABLES = ("studentwatch", "studentunwatch", "visitorwatch")


def breakdown_present(livings, other) -> int:
    return queries.livings_breakdown(livings=livings)[other.pk][0]["present"]


def rollcall_joined(livings, other) -> int:
    return livings_rollcall_totals(livings=livings)[other.pk].joined


@pytest.mark.parametrize("counted", [breakdown_present, rollcall_joined])
def test_each_subquery_over_watch_rows_names_the_lessons_asked(attendance_living, counted):
    class_one = attendance_living.school["class_one"]
    other = make_living("lv-other", classes=[class_one])
    watch(other, "absent", seconds=3600, enter=0, leave=60)
    asked = [attendance_living.living, other]
    with CaptureQueriesContext(connection) as captured:
        assert counted(asked, other) == 1  # the query ran, and counted
    (sql,) = [query["sql"] for query in captured if '"school_studentwatch"' in query["sql"]]
    found = list(re.finditer(rf'FROM "school_({"|".join(ROW_TABLES)})" (\w+) WHERE', sql))
    assert {match[1] for match in found} == set(ROW_TABLES)
    ids = sorted(living.pk for living in asked)
    for match, following in zip(found, [*found[1:], None], strict=True):
        # The subquery's own conditions: up to the next table of rows, where they end at latest.
        conditions = sql[match.end() : following.start() if following else len(sql)]
        named = re.search(rf'{match[2]}\."living_id" IN \(([\d, ]+)\)', conditions)
        assert named, f"{match[1]} read for every lesson: {conditions[:200]}"
        assert sorted(int(pk) for pk in named[1].split(",")) == ids
