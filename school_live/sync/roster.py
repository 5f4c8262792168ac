"""The 家校通讯录 as the school's roster: departments, teachers, students, parents and their links.

The department list comes first (one call, the teachers with it); then each class's students,
one class at a time. A class WeCom will not give (after transient errors were waited out, or for
good) is recorded and the others go on; the classes that failed on transient errors get another
round. Everything read is written in one transaction, because "not in WeCom's answer" means "left
the school": only when every class was read are people WeCom no longer lists retired
(``is_active=False``, their watch history stays) and their links deleted. When a class is missing,
what it held stays as it was, and the run fails naming it, so the next run reads it again.

Everything is of one school (the run's): its rows are keyed by (school, WeCom id), and WeCom's
department ids become our departments' keys through the school's ``wecom_id`` map.
"""

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.db import models, transaction
from django.utils import timezone

from school_live.school import synced_fields
from school_live.school.changes import attendance_changed
from school_live.school.models import (
    ClassAssignment,
    Department,
    Enrollment,
    Guardianship,
    Parent,
    School,
    Student,
    SyncRun,
    Teacher,
)
from school_live.sync.liveness import heartbeat
from school_live.sync.patience import patient
from school_live.sync.runs import Progress, run_recorded, units_problem
from school_live.sync.units import units_each
from school_live.wecom import ids
from school_live.wecom.client import WeComClient, school_client
from school_live.wecom.errors import WeComDataError
from school_live.wecom.records import DepartmentRecord, ParentOfStudent, StudentRecord

# department_admins[].type → the role in a class (doc 92343); other admin types hold no class.
ADMIN_ROLES = {3: ClassAssignment.Role.HEAD, 4: ClassAssignment.Role.SUBJECT}
BATCH_SIZE = 500
DEPARTMENTS = "school/department/list"
STUDENTS = "school/user/list"


@dataclass
class RosterSnapshot:
    departments: list[DepartmentRecord]
    # Class id → its students, as school/user/list answered for that class.
    students_by_class: dict[int, list[StudentRecord]] = field(default_factory=dict)
    # Class name (id) → why it could not be read; its stored students are left as they are.
    failed: dict[str, Exception] = field(default_factory=dict)
    pages: int = 0

    @property
    def complete(self) -> bool:
        return not self.failed


def roster_sync(
    *, client: WeComClient | None = None, run: SyncRun | None = None, school: School | None = None
) -> SyncRun:
    """The school's roster (``run``'s school, or ``school`` for a new run)."""
    run = run or SyncRun.objects.create(school=school, kind=SyncRun.Kind.ROSTER)
    with run_recorded(run):
        with school_client(client, school=run.school) as used, patient(used):
            snapshot = roster_fetch(client=used, progress=Progress(run))
        run.pages = snapshot.pages
        heartbeat(force=True)
        run.rows = roster_store(snapshot=snapshot, school=run.school)
        if snapshot.failed:
            classes = len(snapshot.students_by_class) + len(snapshot.failed)
            raise units_problem("classes", classes, snapshot.failed)
    return run


def roster_fetch(*, client: WeComClient, progress: Progress | None = None) -> RosterSnapshot:
    snapshot = RosterSnapshot(departments=_departments_checked(client.list_departments()))
    snapshot.pages = 1
    classes = {
        f"{record.name} ({record.id})": record.id
        for record in snapshot.departments
        if record.type == Department.Type.CLASS
    }

    def read(class_id: int) -> None:
        # WeCom doc 92338: the list is not recursive, so each class is asked for itself.
        snapshot.students_by_class[class_id] = _students_checked(client.list_students(class_id))
        snapshot.pages += 1
        if progress:
            progress.page()

    snapshot.failed = units_each(classes, read)
    return snapshot


def _departments_checked(records: list[DepartmentRecord]) -> list[DepartmentRecord]:
    """The department list, refused whole when an id has a shape WeCom never gives: a hostile
    value must not reach the database, a URL or a page."""
    for index, record in enumerate(records):
        where = f"departments[{index}]"
        if ids.department_id(record.id) is None:
            raise WeComDataError(f"{where}.id {ids.not_a('department id', record.id)}", DEPARTMENTS)
        if record.parentid and ids.department_id(record.parentid) is None:
            problem = ids.not_a("department id", record.parentid)
            raise WeComDataError(f"{where}.parentid {problem}", DEPARTMENTS)
        for number, admin in enumerate(record.admins):
            if not ids.userid_valid(admin.userid):
                problem = ids.not_a("userid", admin.userid)
                raise WeComDataError(
                    f"{where}.department_admins[{number}].userid {problem}", DEPARTMENTS
                )
    return records


def _students_checked(records: list[StudentRecord]) -> list[StudentRecord]:
    """One class's students, refused whole (that class fails, the others go on) when a userid
    has a shape WeCom never gives."""
    for index, record in enumerate(records):
        where = f"students[{index}]"
        if not ids.userid_valid(record.student_userid):
            problem = ids.not_a("userid", record.student_userid)
            raise WeComDataError(f"{where}.student_userid {problem}", STUDENTS)
        for number, parent in enumerate(record.parents):
            if not ids.userid_valid(parent.parent_userid):
                problem = ids.not_a("userid", parent.parent_userid)
                raise WeComDataError(f"{where}.parents[{number}].parent_userid {problem}", STUDENTS)
    return records


def roster_store(*, snapshot: RosterSnapshot, school: School) -> int:
    """Write the snapshot as ``school``'s roster; returns the number of people and departments
    stored."""
    now = timezone.now()
    with transaction.atomic():
        department_pks = _departments_store(snapshot.departments, now, school)
        teachers = _teachers_store(snapshot.departments, department_pks, now, school)
        students, parents = _people_store(
            snapshot.students_by_class, department_pks, now, school, complete=snapshot.complete
        )
        attendance_changed()  # rosters, names, guardians: any class's verdicts and warnings
    return len(department_pks) + teachers + students + parents


def _listed_store(
    model: type[models.Model],
    rows: Iterable[models.Model],
    *,
    key: str,
    fields: Sequence[str],
    now,
    school: School,
    on_leave: Callable[[models.QuerySet], None] | None = None,
    retire: bool = True,
) -> None:
    """Upsert the rows WeCom listed as ``school``'s, active and stamped with ``now``, then
    (``retire``) retire the school's active rows it did not list: they have left (kept, with
    their history, as ``is_active=False``). ``on_leave`` sees those rows before they are
    retired."""
    rows = list(rows)
    for row in rows:
        row.school, row.is_active, row.synced_at = school, True, now
    model.objects.bulk_create(
        rows,
        batch_size=BATCH_SIZE,
        update_conflicts=True,
        unique_fields=["school", key],
        update_fields=list(fields),
    )
    if not retire:
        return
    # Every row WeCom listed was just stamped with `now`; the rest have left.
    left = model.objects.filter(school=school, is_active=True).exclude(synced_at=now)
    if on_leave is not None:
        on_leave(left)
    left.update(is_active=False)


def _department_pks(school: School) -> dict[int, int]:
    """The school's departments: WeCom's id → our primary key."""
    return dict(Department.objects.filter(school=school).values_list("wecom_id", "pk"))


def _departments_store(records: list[DepartmentRecord], now, school: School) -> dict[int, int]:
    """Store the departments; returns WeCom's id → our key of each one listed."""
    known = _department_pks(school)
    departments = (
        Department(
            wecom_id=r.id,
            name=r.name[:200],
            parent_id=known.get(r.parentid) if r.parentid else None,
            type=r.type,
            register_year=r.register_year,
            standard_grade=r.standard_grade,
            graduated=r.is_graduated,
            order=r.order,
        )
        for r in records
    )
    _listed_store(
        Department,
        departments,
        key="wecom_id",
        fields=synced_fields.DEPARTMENT,
        now=now,
        school=school,
    )
    pks = _department_pks(school)
    # A department stored before its parent was: linked to it now, by our key.
    unlinked = [r for r in records if r.parentid and r.parentid not in known and r.parentid in pks]
    Department.objects.bulk_update(
        [Department(pk=pks[r.id], parent_id=pks[r.parentid]) for r in unlinked],
        ["parent"],
        batch_size=BATCH_SIZE,
    )
    return {r.id: pks[r.id] for r in records}


def _teachers_store(
    records: list[DepartmentRecord], department_pks: dict[int, int], now, school: School
) -> int:
    userids: set[str] = set()
    wanted: set[tuple[str, int, str, str]] = set()
    for record in records:
        for admin in record.admins:
            userids.add(admin.userid)
            role = ADMIN_ROLES.get(admin.type)
            if role and record.type == Department.Type.CLASS:
                wanted.add((admin.userid, department_pks[record.id], role, admin.subject[:50]))
    _listed_store(
        Teacher,
        (Teacher(userid=u) for u in sorted(userids)),
        key="userid",
        fields=synced_fields.TEACHER,
        now=now,
        school=school,
        on_leave=_teacher_logins_retire,
    )
    _teacher_logins_link(userids, school)

    teacher_ids = dict(
        Teacher.objects.filter(school=school, userid__in=userids).values_list("userid", "pk")
    )
    _links_store(
        ClassAssignment,
        ("teacher__userid", "department_id", "role", "subject"),
        wanted,
        lambda userid, dept, role, subject: ClassAssignment(
            school=school,
            teacher_id=teacher_ids[userid],
            department_id=dept,
            role=role,
            subject=subject,
        ),
        school=school,
    )
    return len(userids)


def _teacher_logins_retire(left: models.QuerySet[Teacher]) -> None:
    # A teacher who left WeCom must not keep reading student data through a stale login.
    get_user_model().objects.filter(teacher__in=left, is_staff=False, is_superuser=False).update(
        is_active=False
    )


def _teacher_logins_link(userids: set[str], school: School) -> None:
    """Each teacher signs in as their WeCom userid; a new login has no usable password until an
    admin sets one (or WeCom sign-in is used)."""
    User = get_user_model()
    unlinked = list(Teacher.objects.filter(school=school, userid__in=userids, user__isnull=True))
    if unlinked:
        existing = {
            u.username: u
            for u in User.objects.filter(
                username__in=[t.userid for t in unlinked], teacher__isnull=True
            )
        }
        taken = set(
            User.objects.filter(
                username__in=[t.userid for t in unlinked], teacher__isnull=False
            ).values_list("username", flat=True)
        )
        for teacher in unlinked:
            if teacher.userid in taken:
                continue  # that login belongs to another teacher row: leave it to an admin
            user = existing.get(teacher.userid)
            if user is None:
                user = User.objects.create(username=teacher.userid, password=make_password(None))
            teacher.user = user
            teacher.save(update_fields=["user"])
    # A teacher who comes back gets their login back (staff logins are the admins' business).
    User.objects.filter(
        teacher__school=school,
        teacher__userid__in=userids,
        is_active=False,
        is_staff=False,
        is_superuser=False,
    ).update(is_active=True)


def _people_store(
    students_by_class: dict[int, list[StudentRecord]],
    department_pks: dict[int, int],
    now,
    school: School,
    *,
    complete: bool,
) -> tuple[int, int]:
    """The students and parents of the classes read (by WeCom's class id). Unless ``complete``,
    nobody is retired and only the links of the classes and students read are replaced."""
    students: dict[str, StudentRecord] = {}
    enrollments: set[tuple[str, int]] = set()
    parents: dict[str, ParentOfStudent] = {}
    guardianships: dict[tuple[str, str], str] = {}
    for class_id, records in students_by_class.items():
        for record in records:
            students[record.student_userid] = record
            enrollments.add((record.student_userid, department_pks[class_id]))
            for parent in record.parents:
                parents[parent.parent_userid] = parent
                guardianships[(record.student_userid, parent.parent_userid)] = parent.relation

    _listed_store(
        Student,
        (Student(student_userid=r.student_userid, name=r.name[:100]) for r in students.values()),
        key="student_userid",
        fields=synced_fields.STUDENT,
        now=now,
        school=school,
        retire=complete,
    )
    _listed_store(
        Parent,
        (
            Parent(
                parent_userid=p.parent_userid,
                mobile=p.mobile[:32],
                is_subscribed=p.is_subscribe,
                external_userid=p.external_userid[:64],
            )
            for p in parents.values()
        ),
        key="parent_userid",
        fields=synced_fields.PARENT,
        now=now,
        school=school,
        retire=complete,
    )

    student_pks = dict(Student.objects.filter(school=school).values_list("student_userid", "pk"))
    parent_pks = dict(Parent.objects.filter(school=school).values_list("parent_userid", "pk"))
    classes_read = {department_pks[class_id] for class_id in students_by_class}

    _links_store(
        Enrollment,
        ("student__student_userid", "department_id"),
        enrollments,
        lambda userid, dept: Enrollment(
            school=school, student_id=student_pks[userid], department_id=dept
        ),
        school=school,
        only=None if complete else lambda key: key[1] in classes_read,
    )

    stored_guardianships = {
        (student, parent): (pk, relation)
        for pk, student, parent, relation in Guardianship.objects.filter(school=school).values_list(
            "pk", "student__student_userid", "parent__parent_userid", "relation"
        )
    }
    Guardianship.objects.bulk_create(
        [
            Guardianship(
                school=school,
                student_id=student_pks[student],
                parent_id=parent_pks[parent],
                relation=relation[:32],
            )
            for (student, parent), relation in guardianships.items()
            if stored_guardianships.get((student, parent), (None, None))[1] != relation[:32]
        ],
        batch_size=BATCH_SIZE,
        update_conflicts=True,
        unique_fields=["student", "parent"],
        update_fields=["relation"],
    )
    _delete_pks(
        Guardianship,
        [
            pk
            for key, (pk, _rel) in stored_guardianships.items()
            if key not in guardianships and (complete or key[0] in students)
        ],
    )
    return len(students), len(parents)


def _links_store(
    model: type[models.Model],
    key_columns: Sequence[str],
    wanted: set[tuple],
    build: Callable[..., models.Model],
    *,
    school: School,
    only: Callable[[tuple], bool] | None = None,
) -> None:
    """Make ``school``'s stored links (keyed by ``key_columns``) exactly ``wanted``: create the
    missing ones with ``build(*key)``, delete those WeCom no longer lists (of them, only those
    ``only`` accepts, when given: the others were not read this time)."""
    stored = {
        tuple(key): pk
        for pk, *key in model.objects.filter(school=school).values_list("pk", *key_columns)
    }
    model.objects.bulk_create(
        [build(*key) for key in wanted - stored.keys()], batch_size=BATCH_SIZE
    )
    _delete_pks(
        model,
        [pk for key, pk in stored.items() if key not in wanted and (only is None or only(key))],
    )


def _delete_pks(model, pks: list[int]) -> None:
    for start in range(0, len(pks), BATCH_SIZE):
        model.objects.filter(pk__in=pks[start : start + BATCH_SIZE]).delete()
