"""Attendance, read from the watch rows in SQL: every page, export and email reads through here.

One module per reader, each re-exported here (``from school_live.attendance import queries``):
- ``living``: one class at one living (``class_attendance``, ``class_attendance_in_order``,
  ``class_roster``, the histograms, ``class_overview`` for the summary and both histograms from
  one list of rows, ``class_rows_kept`` and ``class_namesakes_kept`` for what the class page
  keeps until the class's attendance changes (``kept``: ``ClassState``), ``unknown_watchers``);
- ``class_range``: one class over a date range (``class_livings``, ``class_period_summary``,
  ``class_period_students``, ``students_absent_repeatedly``, ``students_with_falling_coverage``);
- ``student``: one student across livings (``student_history``);
- ``warnings``: the students of a class who need attention now, with the evidence
  (``class_warnings``; thresholds per class from ``school_live.alerts``); ``warnings_kept``: the
  same kept per class until the class's attendance changes (``class_warnings_kept``, the class
  page's, through ``kept``);
- ``summaries``: counts of verdicts and flags (``class_summary``, ``living_breakdown``,
  ``livings_breakdown``, ``summaries_total``).

One student's verdict at one living comes from ``verdicts.annotate_attendance``, whatever the shape of the
question (a class at a living, a student across livings, a class across livings): the same
expressions, so a page, an email and a CSV can never disagree. Each function runs a fixed number of
queries whatever the size of the class or the number of livings.

Notes on the contract (THE ATTENDANCE CONTRACT):
- ``coverage`` is always a float in 0..1 (0.0 for a student who did not watch, and for everyone when
  the living's duration is unknown, 0). With no duration nobody can be proven present: watchers are
  ``partial``, and the flags that need the end (left early, replay only) are off.
- ``class_attendance`` rows carry extra annotations beyond the contract: ``watched``,
  ``own_account``, ``account_count``, ``excused`` (an active 请假 covers the lesson) and
  ``present_threshold`` (the class's percent).
- A watch row of 0 seconds is no watching: such a student is absent or unreachable, with no
  entry or exit time. An excused student who is not present is ``Verdict.EXCUSED``; summaries
  count them as ``excused`` and leave them out of the rate (present ÷ (total − excused)).
- ``unknown_watchers`` lists the rows of students who are not on the (active) roster of any class
  of the living — unknown to the school or enrolled elsewhere — annotated with ``known_student``
  (the school knows the userid) and ``student_name`` (None when unknown).
- ``living_breakdown`` with a user lists every class of the living for its host, and the user's own
  classes among them for anyone else: which classes a user reads of a living is decided only in
  ``scope`` (``living_class_links``, ``living_classes``).
- ``student_history`` takes an optional ``user`` to keep to their livings; without
  ``department`` it covers every living of the student's classes, a living covering two of them
  judged by the lower threshold.
- ``scope`` adds ``living_classes(user, living)`` and ``living_class_or_404(user, living,
  class_id)``: the host of a living reads every class it covers without being assigned to them.
- ``class_living_choices`` is what a class page offers to pick: the latest started livings and
  the next ones ahead, in one query.
- Every row also carries ``via_visitor`` and ``via_nickname``: the student did not watch on their
  own, and a WeChat visitor whose nickname the class's nickname book claims for them did
  (``claimed``); watched, watch_time, first/last times and commented are then the visitor's, and
  own_account/account_count stay as WeCom's own rows say (false, 0).
- ``class_livings`` annotates ``roster_size`` and ``watched`` (roster students with a watch row);
  full verdict counts per living come from ``class_period_summary``.
- Livings not started yet or never synced (``state.counted_q``) have no verdicts: the queries
  across livings (``class_period_summary``, ``class_period_students``, ``student_history``,
  ``students_absent_repeatedly``, ``students_with_falling_coverage``) leave them out. The
  single-living functions answer whatever they are asked; pages check ``state.living_status``
  first. ``livings_breakdown`` is ``living_breakdown`` for many livings in three queries.
"""

from .class_range import (
    class_living_choices,
    class_livings,
    class_period_students,
    class_period_summary,
    students_absent_repeatedly,
    students_with_falling_coverage,
)
from .kept import ClassState
from .living import (
    arrival_histogram,
    class_attendance,
    class_attendance_in_order,
    class_namesakes_kept,
    class_overview,
    class_roster,
    class_rows_kept,
    coverage_histogram,
    unknown_watchers,
)
from .student import student_history
from .summaries import (
    SUMMED_COUNTS,
    class_summary,
    living_breakdown,
    livings_breakdown,
    summaries_total,
)
from .warnings import EarlyWarning, StudentWarnings, WarningKind, class_warnings
from .warnings_kept import class_warnings_kept

__all__ = [
    "SUMMED_COUNTS",
    "ClassState",
    "EarlyWarning",
    "StudentWarnings",
    "WarningKind",
    "arrival_histogram",
    "class_attendance",
    "class_attendance_in_order",
    "class_overview",
    "class_living_choices",
    "class_namesakes_kept",
    "class_livings",
    "class_period_students",
    "class_period_summary",
    "class_roster",
    "class_rows_kept",
    "class_summary",
    "class_warnings",
    "class_warnings_kept",
    "coverage_histogram",
    "living_breakdown",
    "livings_breakdown",
    "student_history",
    "students_absent_repeatedly",
    "students_with_falling_coverage",
    "summaries_total",
    "unknown_watchers",
]
