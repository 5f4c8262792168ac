"""The Monday digests: a teacher's classes over the week, and the whole school per grade for admins.

Read through ``school_live.attendance``. A lesson belongs to the Shanghai week it starts in
(``periods.week_bounds``). Lessons whose statistics are not complete are listed but not counted:
their absences are not proven yet.
"""

import datetime as dt
from dataclasses import dataclass, field

from django.db.models import QuerySet
from django.utils import timezone

from school_live.attendance.namesakes import namesake_marks
from school_live.attendance.queries import (
    SUMMED_COUNTS,
    StudentWarnings,
    class_attendance,
    class_livings,
    class_period_summary,
    class_warnings,
    livings_breakdown,
    students_absent_repeatedly,
    students_with_falling_coverage,
    summaries_total,
)
from school_live.reports.links import class_page_url, home_url, preferences_url
from school_live.reports.periods import week_monday
from school_live.school.models import ClassAssignment, Department, Living, Teacher

REPEAT_ABSENCES = 2  # absent from this many of the week's lessons or more
# Coverage lower at each of this many lessons in a row (attendance's definition, shared with pages).
FALLING_STREAK = 3


@dataclass
class LivingLine:
    living: Living
    summary: dict | None  # None while the lesson's statistics are incomplete


@dataclass
class StudentLine:
    name: str
    student_userid: str
    count: int = 0
    coverages: list[float] = field(default_factory=list)
    # What tells the student apart from a classmate of the same name (attendance/namesakes.py).
    namesake: str = ""


@dataclass
class ClassDigest:
    department: Department
    livings: list[LivingLine]
    repeat_absentees: list[StudentLine]
    falling: list[StudentLine]
    unreachable: list[StudentLine]
    url: str
    warned: bool = False  # students of the class are among the early warnings

    @property
    def needs_attention(self) -> bool:
        return bool(self.warned or self.repeat_absentees or self.falling or self.unreachable)


@dataclass
class ClassWarnings:
    """The early warnings of one class at the end of the week, with the class page's link."""

    department: Department
    students: list[StudentWarnings]
    url: str


@dataclass
class TeacherDigest:
    classes: list[ClassDigest]
    # What the digest opens with: the classes of the teacher with students who need attention.
    warnings: list[ClassWarnings] = field(default_factory=list)


@dataclass
class ClassWeek:
    department: Department | None
    livings: int = 0
    present: int = 0
    partial: int = 0
    absent: int = 0
    unreachable: int = 0
    excused: int = 0
    late: int = 0
    left_early: int = 0
    total: int = 0
    rate: float | None = None

    @classmethod
    def of(cls, department: Department | None, summaries: list[dict], *, livings: int):
        return cls(department=department, livings=livings, **summaries_total(summaries))

    def counts(self) -> dict:
        return {key: getattr(self, key) for key in SUMMED_COUNTS}


@dataclass
class GradeDigest:
    grade: Department | None
    classes: list[ClassWeek]

    @property
    def totals(self) -> ClassWeek:
        return ClassWeek.of(
            self.grade,
            [row.counts() for row in self.classes],
            livings=sum(row.livings for row in self.classes),
        )


@dataclass
class AdminDigest:
    grades: list[GradeDigest]
    living_count: int
    incomplete_count: int


def weekly_teachers(*, school) -> QuerySet[Teacher]:
    """The school's active teachers assigned to at least one active class."""
    return (
        Teacher.objects.filter(
            school=school,
            is_active=True,
            assignments__department__type=Department.Type.CLASS,
            assignments__department__is_active=True,
        )
        .distinct()
        .order_by("userid")
    )


def teacher_classes(*, teacher: Teacher) -> list[Department]:
    ids = ClassAssignment.objects.filter(
        teacher=teacher,
        department__type=Department.Type.CLASS,
        department__is_active=True,
    ).values("department_id")
    return list(Department.objects.filter(pk__in=ids).order_by("name", "pk"))


def teacher_week_has_livings(*, teacher: Teacher, start: dt.datetime, end: dt.datetime) -> bool:
    return Living.objects.filter(
        classes__in=teacher_classes(teacher=teacher), living_start__gte=start, living_start__lt=end
    ).exists()


def teacher_digest_build(
    *, teacher: Teacher, start: dt.datetime, end: dt.datetime
) -> TeacherDigest:
    departments = teacher_classes(teacher=teacher)
    classes = [
        class_digest_build(department=department, start=start, end=end)
        for department in departments
    ]
    # As the week ended (or now, for a digest of the week still under way).
    now = min(end, timezone.now())
    warnings = [
        ClassWarnings(
            department=department,
            students=students,
            url=class_page_url(department=department),
        )
        for department in departments
        if (students := class_warnings(department=department, now=now))
    ]
    warned = {item.department.pk for item in warnings}
    for digest in classes:
        digest.warned = digest.department.pk in warned
    return TeacherDigest(
        classes=[digest for digest in classes if digest.livings], warnings=warnings
    )


def class_digest_build(
    *, department: Department, start: dt.datetime, end: dt.datetime
) -> ClassDigest:
    lines = [
        LivingLine(
            living=item["living"],
            summary=item if item["living"].stats_complete else None,
        )
        for item in class_period_summary(department=department, start=start, end=end)
    ]
    complete = [line.living for line in lines if line.living.stats_complete]
    marks = namesake_marks(departments=[department]) if complete else {}
    repeat_absentees = [
        StudentLine(
            name=item["student"].name or item["student"].student_userid,
            student_userid=item["student"].student_userid,
            namesake=marks.get(item["student"].student_userid, ""),
            count=item["absent"],
        )
        for item in students_absent_repeatedly(
            department=department, livings=complete, min_count=REPEAT_ABSENCES
        )
    ]
    falling = []
    if complete:
        # A streak may begin before the week, but it must end with one of the week's lessons.
        recent = list(
            class_livings(department=department, end=end)
            .filter(stats_complete=True)
            .order_by("-living_start")[:FALLING_STREAK]
        )
        falling = [
            StudentLine(
                name=item["student"].name or item["student"].student_userid,
                student_userid=item["student"].student_userid,
                namesake=marks.get(item["student"].student_userid, ""),
                coverages=item["coverages"],
            )
            for item in students_with_falling_coverage(
                department=department, livings=recent, streak=FALLING_STREAK
            )
        ]
    unreachable = []
    if complete:
        unreachable = [
            StudentLine(
                name=row.name or row.student_userid,
                student_userid=row.student_userid,
                namesake=marks.get(row.student_userid, ""),
            )
            for row in class_attendance(department=department, living=complete[-1])
            .filter(has_subscribed_parent=False)
            .order_by("name", "student_userid")
        ]
    return ClassDigest(
        department=department,
        livings=lines,
        repeat_absentees=repeat_absentees,
        falling=falling,
        unreachable=unreachable,
        url=class_page_url(department=department),
    )


def teacher_digest_context(*, digest: TeacherDigest, teacher: Teacher, period: str) -> dict:
    monday = week_monday(period)
    return {
        "digest": digest,
        "teacher": teacher,
        "period": period,
        "monday": monday,
        "sunday": monday + dt.timedelta(days=6),
        "home_url": home_url(),
        "preferences_url": preferences_url(),
        "repeat_absences": REPEAT_ABSENCES,
        "falling_streak": FALLING_STREAK,
    }


def admin_digest_build(*, start: dt.datetime, end: dt.datetime) -> AdminDigest:
    """Every active class, per grade, summed over the week's complete lessons."""
    classes = list(
        Department.objects.filter(
            type=Department.Type.CLASS, is_active=True, graduated=False
        ).select_related("parent")
    )
    livings = list(Living.objects.filter(living_start__gte=start, living_start__lt=end))
    complete = [living for living in livings if living.stats_complete]
    incomplete = len(livings) - len(complete)
    breakdowns = livings_breakdown(livings=complete)
    per_class: dict[int, list[dict]] = {department.pk: [] for department in classes}
    for living in complete:
        for item in breakdowns.get(living.pk, []):
            if item["department"].pk in per_class:
                per_class[item["department"].pk].append(item)
    rows = {
        department.pk: ClassWeek.of(
            department, per_class[department.pk], livings=len(per_class[department.pk])
        )
        for department in classes
    }

    grades: dict[int | None, GradeDigest] = {}
    for row in sorted(rows.values(), key=lambda row: (row.department.name, row.department.pk)):
        parent = row.department.parent
        grade = parent if parent is not None and parent.type == Department.Type.GRADE else None
        key = grade.pk if grade else None
        grades.setdefault(key, GradeDigest(grade=grade, classes=[])).classes.append(row)
    ordered = sorted(
        grades.values(),
        key=lambda digest: (
            digest.grade is None,
            -(digest.grade.order if digest.grade else 0),
            digest.grade.pk if digest.grade else 0,
        ),
    )
    return AdminDigest(
        grades=ordered, living_count=len(livings) - incomplete, incomplete_count=incomplete
    )


def admin_digest_context(*, digest: AdminDigest, user, period: str) -> dict:
    monday = week_monday(period)
    return {
        "digest": digest,
        "user": user,
        "period": period,
        "monday": monday,
        "sunday": monday + dt.timedelta(days=6),
        "home_url": home_url(),
    }
