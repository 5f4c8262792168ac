"""``queries.class_overview`` gives, in one query, what ``class_summary``, ``coverage_histogram``
and ``arrival_histogram`` give: on every case of the attendance fixture, with a class threshold,
an excuse, a living without a duration and one without a start."""

from school_live.attendance import queries
from tests.fixtures.attendance import make_living, make_student, watch
from tests.test_corrections import excuse


def separately(department, living) -> dict:
    return {
        "summary": queries.class_summary(department=department, living=living),
        "coverage": queries.coverage_histogram(department=department, living=living),
        "arrival": queries.arrival_histogram(department=department, living=living),
    }


def test_overview_equals_summary_and_histograms(attendance_living, django_assert_max_num_queries):
    living = attendance_living.living
    excuse(attendance_living.students.unsubscribed, living=living)
    excuse(attendance_living.students.partial, living=living)
    for key in ("class_one", "class_two"):
        department = attendance_living.school[key]
        expected = separately(department, living)
        with django_assert_max_num_queries(2):  # the thresholds, the grouped counts
            overview = queries.class_overview(department=department, living=living)
        assert overview == expected, key
    one = queries.class_overview(department=attendance_living.school["class_one"], living=living)
    # The fixture has something in every count the overview adds up.
    assert one["summary"]["excused"] == 2 and one["summary"]["absent"] >= 1
    assert all(one["summary"][flag] for flag in ("late", "left_early", "replay_only", "commented"))
    assert sum(one["coverage"]) > 0 and sum(n for _label, n in one["arrival"]) > 0


def test_overview_of_livings_without_a_duration_or_a_start(school):
    class_one = school["class_one"]
    no_duration = make_living("lv-unknown", classes=[class_one], duration=0)
    no_start = make_living("lv-nostart", classes=[class_one], start=None, duration=3600)
    make_student("watcher", "看了", classes=[class_one])
    make_student("missing", "没看", classes=[class_one], parents=[("missing_mum", "妈妈", True)])
    watch(no_duration, "watcher", seconds=1200, enter=30, leave=50)
    watch(no_start, "watcher", seconds=3600, enter=None, leave=None)
    for living in (no_duration, no_start):
        overview = queries.class_overview(department=class_one, living=living)
        assert overview == separately(class_one, living), living.livingid
        assert overview["summary"]["total"] == 2
    assert queries.class_overview(department=class_one, living=no_duration)["coverage"][0] == 1
    assert [
        n for _label, n in queries.class_overview(department=class_one, living=no_start)["arrival"]
    ] == [0] * 6
