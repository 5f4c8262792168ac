"""The report after one live lesson: per class the rate and the counts, then only the exceptions.

Everything is read through ``school_live.attendance``; one report is built per teacher from the
classes of the living they teach (head or subject teacher, ``ClassAssignment``).
"""

import datetime as dt
from dataclasses import dataclass, field

from django.db.models import Q
from django.utils.functional import Promise

from school_live.attendance.namesakes import namesake_marks
from school_live.attendance.queries import (
    class_attendance,
    class_summary,
    coverage_histogram,
    summaries_total,
    unknown_watchers,
)
from school_live.attendance.rules import Flag, Verdict, verdict_position
from school_live.reports.emails import histogram_bars
from school_live.reports.links import class_page_url, preferences_url
from school_live.school.models import ClassAssignment, Department, Living, Teacher, VisitorWatch

# Exceptions are listed worst first (rules.VERDICT_ORDER, as on the pages); a present student
# appears only when late or left early.
EXCEPTION_VERDICTS = [Verdict.ABSENT, Verdict.UNREACHABLE, Verdict.PARTIAL]
COVERAGE_LABELS = [f"{low}–{low + 10}%" for low in range(0, 100, 10)]
VISITORS_SHOWN = 50


@dataclass
class StudentException:
    name: str
    student_userid: str
    verdict: str
    verdict_label: Promise  # lazy: translated when the email is rendered, in the reader's language
    coverage: float | None
    watch_minutes: int
    first_enter: dt.datetime | None
    last_leave: dt.datetime | None
    flags: list[Promise]
    # The claimed WeChat visitor the student attended through (the nickname book), else None;
    # the template words it ("via WeChat 访客 …") in the reader's language.
    via_nickname: str | None = None
    # What tells the student apart from a classmate of the same name (attendance/namesakes.py).
    namesake: str = ""


@dataclass
class ClassSection:
    department: Department
    summary: dict
    exceptions: list[StudentException]
    histogram: list[dict]
    url: str


@dataclass
class LivingReport:
    living: Living
    classes: list[ClassSection]
    visitors: list[VisitorWatch] = field(default_factory=list)
    visitor_total: int = 0
    unknown_watcher_total: int = 0

    @property
    def totals(self) -> dict:
        return summaries_total(section.summary for section in self.classes)


def living_recipients(*, living: Living) -> list[tuple[Teacher, list[Department]]]:
    """Each active teacher assigned to a class of the living, with those classes in name order."""
    assignments = (
        ClassAssignment.objects.filter(
            department__in=living.classes.filter(type=Department.Type.CLASS, is_active=True),
            teacher__is_active=True,
        )
        .select_related("teacher", "department")
        .order_by("teacher__userid", "department__name", "department_id")
    )
    by_teacher: dict[int, tuple[Teacher, list[Department]]] = {}
    for assignment in assignments:
        teacher, departments = by_teacher.setdefault(
            assignment.teacher_id, (assignment.teacher, [])
        )
        if assignment.department not in departments:
            departments.append(assignment.department)
    return list(by_teacher.values())


def teacher_living_classes(*, living: Living, teacher: Teacher) -> list[Department]:
    for candidate, departments in living_recipients(living=living):
        if candidate.pk == teacher.pk:
            return departments
    return []


def class_section_build(*, department: Department, living: Living) -> ClassSection:
    summary = class_summary(department=department, living=living)
    rows = class_attendance(department=department, living=living).filter(
        Q(verdict__in=EXCEPTION_VERDICTS) | Q(is_late=True) | Q(left_early=True)
    )
    marks = namesake_marks(departments=[department])
    exceptions = sorted(
        (_exception(row, marks) for row in rows),
        key=lambda item: (verdict_position(item.verdict), item.name, item.student_userid),
    )
    return ClassSection(
        department=department,
        summary=summary,
        exceptions=exceptions,
        histogram=_bars(coverage_histogram(department=department, living=living)),
        url=class_page_url(department=department, living=living),
    )


def living_report_build(
    *,
    living: Living,
    departments: list[Department],
    sections: dict[int, ClassSection] | None = None,
) -> LivingReport:
    """The report for these classes; ``sections`` caches class sections shared by teachers."""
    sections = {} if sections is None else sections
    classes = []
    for department in departments:
        if department.pk not in sections:
            sections[department.pk] = class_section_build(department=department, living=living)
        classes.append(sections[department.pk])
    visitors = VisitorWatch.objects.filter(living=living).order_by("position")
    return LivingReport(
        living=living,
        classes=classes,
        visitors=list(visitors[:VISITORS_SHOWN]),
        visitor_total=visitors.count(),
        unknown_watcher_total=unknown_watchers(living=living).count(),
    )


def living_email_context(*, report: LivingReport, teacher: Teacher) -> dict:
    return {
        "report": report,
        "living": report.living,
        "teacher": teacher,
        "totals": report.totals,
        "more_visitors": max(report.visitor_total - len(report.visitors), 0),
        "preferences_url": preferences_url(),
    }


def _exception(row, marks: dict[str, str]) -> StudentException:
    flags = [
        flag.label
        for flag in (Flag.LATE, Flag.LEFT_EARLY, Flag.REPLAY_ONLY)
        if getattr(row, flag.value, False)
    ]
    return StudentException(
        name=row.name or row.student_userid,
        student_userid=row.student_userid,
        verdict=row.verdict,
        verdict_label=Verdict(row.verdict).label,
        coverage=row.coverage,
        watch_minutes=round((row.watch_time or 0) / 60),
        first_enter=row.first_enter,
        last_leave=row.last_leave,
        flags=flags,
        via_nickname=row.via_nickname,
        namesake=marks.get(row.student_userid, ""),
    )


def _bars(counts: list[int]) -> list[dict]:
    return histogram_bars(list(counts), COVERAGE_LABELS)
