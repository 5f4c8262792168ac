"""Two schools with the same WeCom ids, stored side by side (issue 22).

The sandbox serves one corp, so the same corp is synced twice, through the real sync, once into
each school: both then hold department 1, the same userids and the same livingid. The second
school is then made another school: other student names, and nobody of it watched the lesson.
Every reader of the first school must give what it gave before the second school existed, and
the second school's pages show its own rows.
"""

import datetime as dt

import pytest
from cryptography.fernet import Fernet
from django.contrib.auth import get_user_model
from django.db import IntegrityError, connection, transaction
from django.urls import reverse
from django.utils import timezone

from school_live.attendance import queries
from school_live.attendance.queries.rollcall import living_rollcall
from school_live.attendance.scope import class_or_404, living_or_404, student_or_404
from school_live.corrections.models import Excuse
from school_live.install.lifecycle import school_owned_models, schools_purge_due
from school_live.school.models import (
    ClassAssignment,
    Department,
    Living,
    Parent,
    School,
    Student,
    StudentUnwatch,
    StudentWatch,
    Teacher,
)
from school_live.school.tenancy import default_school
from school_live.sync.living_stats import living_stats_sync
from school_live.sync.roster import roster_sync
from school_live.wecom.client import WeComClient
from school_live.wecom_sandbox import SandboxDistrict, SandboxServer
from tests.fixtures.people import PASSWORD
from tests.fixtures.sandbox import ended_livingid

OWNED = (Department, Teacher, ClassAssignment, Student, Parent, Living, StudentWatch)


def _synced(school: School, client, livingid: str) -> None:
    assert roster_sync(school=school, client=client).status == "succeeded"
    run = living_stats_sync(school=school, client=client, livingid=livingid)
    assert run.status == "succeeded", run.error


def _lesson(school: School, livingid: str) -> tuple[Living, Department]:
    living = Living.objects.get(school=school, livingid=livingid)
    return living, living.classes.order_by("wecom_id").first()


def _watcher(school: School, livingid: str) -> str:
    """The userid of the first student of the lesson's first class who watched it."""
    living, department = _lesson(school, livingid)
    return (
        department.students.filter(watches__living=living, watches__watch_time__gt=0)
        .order_by("student_userid")
        .values_list("student_userid", flat=True)
        .first()
    )


def _readings(school: School, livingid: str, userid: str) -> dict:
    """What every reader says of the school's lesson, its first class and the student
    ``userid``, in WeCom's ids."""
    living, department = _lesson(school, livingid)
    rows = queries.class_attendance(department=department, living=living)
    watcher = Student.objects.get(school=school, student_userid=userid)
    history = queries.student_history(student=watcher, department=department)
    return {
        "verdicts": sorted(
            rows.values_list("student_userid", "name", "verdict", "watch_time", "first_enter")
        ),
        "summary": queries.class_summary(department=department, living=living),
        "period": [
            {**row, "living": row["living"].livingid}
            for row in queries.class_period_summary(department=department)
        ],
        "students": sorted(
            tuple(sorted(row.items()))
            for row in queries.class_period_students(department=department)
        ),
        "history": [(row["living"].livingid, row["verdict"], row["watch_time"]) for row in history],
        "rollcall": living_rollcall(
            living=living, classes=living.classes.all(), now=living.living_end
        ).totals,
        "unknown": sorted(queries.unknown_watchers(living=living).values_list("student_userid")),
        "overview": queries.class_overview(department=department, living=living),
        "warnings": [
            (w.student_userid, [e.kind for e in w.warnings])
            for w in queries.class_warnings(department=department, now=living.living_end)
        ],
        "roster": sorted(queries.class_roster(department=department).values_list("student_userid")),
    }


def _without_pks(readings: dict) -> dict:
    # class_period_students carries the student's primary key: compare the rest.
    return {
        **readings,
        "students": [
            tuple(kv for kv in row if kv[0] != "student_id") for row in readings["students"]
        ],
    }


@pytest.fixture
def twins(sync_sandbox, sync_client, settings):
    home = default_school()
    other = School.objects.create(name="第二实验小学", corp_id="ww_second_school")
    livingid = ended_livingid(sync_sandbox.state)
    _synced(home, sync_client, livingid)
    userid = _watcher(home, livingid)
    before = _readings(home, livingid, userid)
    _synced(other, sync_client, livingid)
    return home, other, livingid, (userid, before)


def _make_other(other: School) -> None:
    """The second school: other names, and nobody of it watched the lesson."""
    for student in Student.objects.filter(school=other):
        student.name = f"二校学生{student.pk}"
        student.save(update_fields=["name"])
    StudentWatch.objects.filter(school=other).delete()
    StudentUnwatch.objects.filter(school=other).delete()


@pytest.mark.django_db
def test_the_same_wecom_ids_are_stored_once_in_each_school(twins):
    home, other, livingid, _before = twins
    for model, key in (
        (Department, "wecom_id"),
        (Teacher, "userid"),
        (Student, "student_userid"),
        (Parent, "parent_userid"),
    ):
        ids = {
            school: sorted(model.objects.filter(school=school).values_list(key, flat=True))
            for school in (home, other)
        }
        assert ids[home] and ids[home] == ids[other], model
        assert not set(model.objects.filter(school=home).values_list("pk", flat=True)) & set(
            model.objects.filter(school=other).values_list("pk", flat=True)
        )
    assert Living.objects.filter(livingid=livingid).count() == 2
    living_home, class_home = _lesson(home, livingid)
    living_other, class_other = _lesson(other, livingid)
    assert class_home.wecom_id == class_other.wecom_id and class_home.pk != class_other.pk
    # Each school's lesson covers its own classes, and each class's parent is its own school's.
    assert {d.school_id for d in living_other.classes.all()} == {other.pk}
    assert {
        d.parent.school_id for d in Department.objects.filter(school=other, parent__isnull=False)
    } == {other.pk}
    assert {a.department.school_id for a in ClassAssignment.objects.filter(school=other)} == {
        other.pk
    }
    # The same watch rows, each of its own school, joined to its own school's students.
    count = StudentWatch.objects.filter(living=living_home).count()
    assert count and StudentWatch.objects.filter(living=living_other).count() == count
    assert not StudentWatch.objects.filter(living=living_other).exclude(school=other).exists()
    row = StudentWatch.objects.filter(living=living_other, student__isnull=False).first()
    assert row.student.school == other
    twin = Student.objects.get(school=home, student_userid=row.student_userid)
    assert {w.school_id for w in twin.watches.all()} == {home.pk}


@pytest.mark.django_db
def test_the_readers_of_one_school_never_count_the_other_schools_rows(twins):
    home, other, livingid, (userid, before) = twins
    _make_other(other)
    after = _readings(home, livingid, userid)
    assert _without_pks(after) == _without_pks(before)
    assert before["summary"]["present"] + before["summary"]["partial"] > 0
    assert before["history"][0][1] != "absent"
    theirs = _readings(other, livingid, userid)
    assert theirs["history"][0][1] in ("absent", "unreachable")
    assert theirs["summary"]["present"] == theirs["summary"]["partial"] == 0
    assert {name for _userid, name, *_rest in theirs["verdicts"]} <= {
        f"二校学生{pk}" for pk in Student.objects.filter(school=other).values_list("pk", flat=True)
    }
    assert theirs["rollcall"].joined == 0


@pytest.mark.django_db
def test_each_school_is_unique_within_itself():
    home = default_school()
    other = School.objects.create(name="第二实验小学", corp_id="ww_second_school")
    start = dt.datetime(2026, 3, 2, tzinfo=dt.UTC)
    makers = {
        "department": lambda school: Department.objects.create(
            school=school, wecom_id=1, name="学校", type=Department.Type.SCHOOL
        ),
        "teacher": lambda school: Teacher.objects.create(school=school, userid="zhangwei"),
        "student": lambda school: Student.objects.create(
            school=school, student_userid="zhangwei_01", name="张伟"
        ),
        "parent": lambda school: Parent.objects.create(school=school, parent_userid="zw_mum"),
        "living": lambda school: Living.objects.create(
            school=school, livingid="lvSame", living_start=start
        ),
    }
    for make in makers.values():
        make(home)
        make(other)  # the same WeCom id in another school
        with pytest.raises(IntegrityError), transaction.atomic():
            make(home)  # twice in one school


@pytest.mark.django_db
def test_a_teacher_opens_their_own_schools_rows_by_the_shared_ids(twins, client):
    home, other, livingid, _before = twins
    _make_other(other)
    living_home, class_home = _lesson(home, livingid)
    living_other, class_other = _lesson(other, livingid)
    users = {}
    for school, department in ((home, class_home), (other, class_other)):
        teacher = (
            ClassAssignment.objects.filter(department=department, role=ClassAssignment.Role.HEAD)
            .first()
            .teacher
        )
        # Logins are named by userid: the second school's teacher gets another one.
        user = teacher.user or get_user_model().objects.create_user(
            username=f"{school.pk}-{teacher.userid}", password=PASSWORD
        )
        user.set_password(PASSWORD)
        user.save()
        teacher.user = user
        teacher.save(update_fields=["user"])
        users[school] = user
    assert class_or_404(users[other], class_other.wecom_id) == class_other
    assert class_or_404(users[home], class_home.wecom_id) == class_home
    assert living_or_404(users[other], livingid) == living_other
    userid = class_home.students.order_by("student_userid").first().student_userid
    assert student_or_404(users[other], userid).school == other

    url = reverse("dashboard:class", args=[class_other.wecom_id]) + f"?living={livingid}"
    client.force_login(users[other])
    theirs = client.get(url).content.decode()
    client.force_login(users[home])
    ours = client.get(url).content.decode()
    home_names = set(class_home.students.values_list("name", flat=True))
    assert "二校学生" in theirs and not any(name in theirs for name in home_names)
    assert "二校学生" not in ours and all(name in ours for name in home_names)


@pytest.mark.django_db
def test_the_join_to_the_roster_reads_the_school_and_userid_index(twins):
    """A student's watch rows are found by (school, student_userid), with its index."""
    home, _other, _livingid, _before = twins
    student = Student.objects.filter(school=home, watches__isnull=False).first()
    sql, params = student.watches.all().query.sql_with_params()
    assert '"school_id"' in sql.split("WHERE")[1] and '"student_userid"' in sql.split("WHERE")[1]
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute(f"EXPLAIN QUERY PLAN {sql}", params)
            plan = " ".join(str(row) for row in cursor.fetchall())
            assert "studentwatch_school_student" in plan, plan
        else:
            cursor.execute("SET LOCAL enable_seqscan = off")
            cursor.execute(f"EXPLAIN {sql}", params)
            plan = " ".join(row[0] for row in cursor.fetchall())
            assert "studentwatch_school_student" in plan, plan


@pytest.mark.django_db
def test_purging_a_school_leaves_the_other_schools_rows_and_none_of_its_own(twins, settings):
    home, other, livingid, _before = twins
    living, department = _lesson(other, livingid)
    student = department.students.first()
    # What protects what it names (an excuse its student) and what keeps a history.
    Excuse.objects.create(school=other, student=student, living=living, kind=Excuse.Kind.SICK)
    department.present_threshold = 60
    department.save()
    counts = {model: model.objects.filter(school=home).count() for model in OWNED}
    School.objects.filter(pk=other.pk).update(
        status=School.Status.UNINSTALLED, status_changed_at=timezone.now() - dt.timedelta(days=99)
    )
    settings.SCHOOL_PURGE_AFTER_DAYS = 30
    assert schools_purge_due() == [other.pk]
    for model, field in school_owned_models():
        assert not model.objects.filter(**{f"{field}_id": other.pk}).exists(), model
    assert {model: model.objects.filter(school=home).count() for model in OWNED} == counts
    assert Living.objects.get(livingid=livingid).school == home


# Two corps of one sandbox (SandboxDistrict): the same ids, other names and watch data ----------


@pytest.fixture
def district(settings, db):
    """Two corps with the same department ids, userids and livingids on one sandbox server; the
    default school is the first (the settings), the second is added with its secret stored."""
    district = SandboxDistrict.generate(
        2, seed=7, grades=1, classes_per_grade=2, students_per_class=8, weeks=1, page_size=5
    )
    first, second = district.credentials
    with SandboxServer(district) as server:
        settings.ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
        settings.WECOM_API_BASE = server.url
        settings.WECOM_CORP_ID, settings.WECOM_SECRET = first.corp_id, first.secret
        settings.WECOM_AGENT_ID = first.agent_id
        other = School.objects.create(
            name=second.school_name,
            corp_id=second.corp_id,
            agent_id=second.agent_id,
            secret=second.secret,
        )
        yield district, default_school(), School.objects.get(pk=other.pk)


def _wecom_rows(school: School, livingid: str) -> set[tuple]:
    """The watch rows the school's own corp serves for the living, through its own client."""
    with WeComClient.for_school(school) as client:
        return {
            (row.student_userid, row.parent_userid, row.watch_time)
            for page in client.iter_watch_stat(livingid)
            for row in page.students
        }


@pytest.mark.django_db
def test_two_corps_synced_through_their_own_clients_keep_their_own_rows(district):
    corps, home, other = district
    # Each corp's own lesson (the corps share ids of classes and people, not of lessons).
    lesson = {s: ended_livingid(corps[s.wecom_corp_id]) for s in (home, other)}
    for school in (home, other):
        # No client given: each sync talks to WeCom as its school (school_client(school=...)).
        assert roster_sync(school=school).status == "succeeded"
        run = living_stats_sync(school=school, livingid=lesson[school])
        assert run.status == "succeeded", run.error
    wecom = {school: _wecom_rows(school, lesson[school]) for school in (home, other)}
    assert wecom[home] != wecom[other]  # other watch data: a mix-up would show
    for model, key in ((Department, "wecom_id"), (Student, "student_userid")):
        ids = [
            set(model.objects.filter(school=s).values_list(key, flat=True)) for s in (home, other)
        ]
        assert ids[0] and ids[0] == ids[1]
    for school in (home, other):
        livingid = lesson[school]
        stored = StudentWatch.objects.filter(school=school, living__livingid=livingid)
        assert (
            set(stored.values_list("student_userid", "parent_userid", "watch_time"))
            == (wecom[school])
        )
        living, department = _lesson(school, livingid)
        longest = {}
        for userid, _parent, seconds in wecom[school]:
            longest[userid] = max(longest.get(userid, 0), seconds)
        rows = queries.class_attendance(department=department, living=living)
        for userid, watch_time, watched in rows.values_list(
            "student_userid", "watch_time", "watched"
        ):
            assert watch_time == (longest.get(userid, 0) if watched else 0), (school, userid)
        names = set(Student.objects.filter(school=school).values_list("name", flat=True))
        assert names == {s.name for s in corps[school.wecom_corp_id].school.students.values()}
