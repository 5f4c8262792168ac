"""A class of any size over any number of livings, built in bulk: the one builder the test
helpers (tests/fixtures/dashboard.py) and the page benchmark (bench_pages) share."""

import datetime as dt

from school_live.school.models import (
    AttendancePolicy,
    Enrollment,
    Guardianship,
    Living,
    Parent,
    Student,
    StudentWatch,
)

FIRST_START = dt.datetime(2026, 3, 2, 0, 0, tzinfo=dt.UTC)  # 08:00 Beijing time


def build_class(
    department, *, students: int, livings: int, prefix: str = "s", anchor: str = ""
) -> list[Living]:
    """``students`` enrolled in ``department`` (each with one parent; every fifth parent does not
    follow 学校通知) and ``livings`` daily livings of an hour from FIRST_START; student i watches
    living j for a share that varies with i and j, and every seventh pair did not watch. Returns
    the livings, newest last. Everything is of the department's school."""
    school = department.school_id
    AttendancePolicy.current(school)
    roster = Student.objects.bulk_create(
        [
            Student(
                school_id=school,
                student_userid=f"{prefix}{department.wecom_id}_{index}",
                name=f"学生{index:03d}",
            )
            for index in range(students)
        ]
    )
    Enrollment.objects.bulk_create(
        [Enrollment(school_id=school, student=student, department=department) for student in roster]
    )
    parents = Parent.objects.bulk_create(
        [
            Parent(
                school_id=school,
                parent_userid=f"{student.student_userid}_p",
                is_subscribed=index % 5 != 0,
            )
            for index, student in enumerate(roster)
        ]
    )
    Guardianship.objects.bulk_create(
        [
            Guardianship(school_id=school, student=student, parent=parent, relation="妈妈")
            for student, parent in zip(roster, parents, strict=True)
        ]
    )
    made = Living.objects.bulk_create(
        [
            Living(
                school_id=school,
                livingid=f"lv-{prefix}{department.wecom_id}-{day}",
                theme=f"第{day + 1}课",
                living_start=FIRST_START + dt.timedelta(days=day),
                living_duration=3600,
                anchor_userid=anchor,
                range_partyids=[department.wecom_id],
                stats_synced_at=FIRST_START + dt.timedelta(days=day, hours=2),
                stats_complete=True,
            )
            for day in range(livings)
        ]
    )
    Living.classes.through.objects.bulk_create(
        [Living.classes.through(living=living, department=department) for living in made]
    )
    rows = []
    for day, living in enumerate(made):
        start = living.living_start
        for index, student in enumerate(roster):
            if (index + day) % 7 == 0:
                continue
            rows.append(
                StudentWatch(
                    school_id=school,
                    living=living,
                    student_userid=student.student_userid,
                    parent_userid="" if index % 2 else f"{student.student_userid}_p",
                    partyids=[department.wecom_id],
                    watch_time=360 * ((index * 3 + day) % 11),
                    enter_time=start + dt.timedelta(minutes=(index % 25) - 2),
                    leave_time=start + dt.timedelta(minutes=40 + index % 25),
                    is_comment=index % 4 == 0,
                )
            )
    StudentWatch.objects.bulk_create(rows, batch_size=2000)
    return made
