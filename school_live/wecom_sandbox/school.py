"""A deterministic school for the sandbox: the same seed gives the same people, classes and
livingids; lesson times are placed relative to `now` (Asia/Shanghai school hours).

What it always contains, because the dashboard has to cope with each of them:
students with no subscribed parent (unreachable), students in two classes, teachers teaching
several classes, livings spanning two classes, one living that is live now, upcoming livings
(one of them an activity with a push_stream_url), a living whose range is a group chat rather
than classes, livings created by another app (92008), students who watched on their own account,
two parents of one student both watching, replay-only viewers, commenters, and visitors whose
nicknames are emoji, duplicates or hostile markup.

Schools that share ids: with ``data_seed`` set, ``seed`` decides only the ids (department ids,
the userids of teachers, students and parents, and who sits in which class), while ``data_seed``
decides what each school fills in (names, mobiles, who follows 学校通知, group chats, lessons and
watch data). Schools of one layout and seed with different data seeds have the SAME department
ids and userids and different people behind them (district.py builds such corps). Without a
data seed every draw comes from ``seed``, as it always has.
"""

import dataclasses
import datetime as dt
import math
import random
import string
import time
from dataclasses import dataclass

from . import names
from .model import (
    ADMIN_GRADE_HEAD,
    ADMIN_HEAD_TEACHER,
    ADMIN_SUBJECT_TEACHER,
    DEPT_CLASS,
    DEPT_GRADE,
    DEPT_SCHOOL,
    Admin,
    Department,
    Living,
    Parent,
    School,
    Student,
    Teacher,
    Viewer,
)
from .watch import class_viewers, presence

SHANGHAI = dt.timezone(dt.timedelta(hours=8), "Asia/Shanghai")  # no daylight saving since 1991
PERIODS = ((8, 0), (8, 55), (9, 50), (10, 45), (13, 30), (14, 25), (15, 20), (16, 10))
_ID_CHARS = string.ascii_letters + string.digits


@dataclass(frozen=True)
class SchoolConfig:
    seed: int = 1
    grades: int = 2
    classes_per_grade: int = 3
    students_per_class: int = 40
    weeks: int = 4
    livings_per_teacher_per_week: int = 2
    # Adds a school-wide living with exactly this many watch rows (students + visitors).
    big_living_rows: int = 0
    now: int | None = None
    school_name: str = "阳光实验小学"
    # Names and watch data from this seed, ids from `seed` (see the module docstring).
    data_seed: int | None = None


class _Builder:
    def __init__(self, config: SchoolConfig):
        self.config = config
        # Ids come from rng; names, contacts, lessons and watch data from data (the same
        # generator when there is no data seed, so the draws stay in their old order).
        self.rng = random.Random(config.seed)
        self.data = self.rng
        if config.data_seed is not None:
            self.data = random.Random(f"school-data-{config.seed}-{config.data_seed}")
        self.now = int(config.now if config.now is not None else time.time())
        self.used: set[str] = set()
        self.next_dept = 1
        self.departments: dict[int, Department] = {}
        self.students: dict[str, Student] = {}
        self.teachers: dict[str, Teacher] = {}
        self.livings: dict[str, Living] = {}
        self.subject_of: dict[tuple[str, int], str] = {}

    # -- people -------------------------------------------------------------------------------

    def userid(self, base: str) -> str:
        candidate, n = base, 1
        while candidate in self.used:
            n += 1
            candidate = f"{base}{n}"
        self.used.add(candidate)
        return candidate

    @staticmethod
    def _name(rng: random.Random, given_chars: int | None) -> tuple[str, str]:
        surname, surname_py = rng.choice(names.SURNAMES)
        count = given_chars or rng.choice((1, 2, 2))
        given = [rng.choice(names.GIVEN) for _ in range(count)]
        name = surname + "".join(c for c, _ in given)
        return name, surname_py + "".join(p for _, p in given)

    def person(self, given_chars: int | None = None, *, teacher: bool = False) -> tuple[str, str]:
        """(display name, pinyin for the userid). With a data seed the name is drawn apart from
        the userid, so the same userid stands for another person in each school."""
        name, pinyin = self._name(self.rng, given_chars)
        if self.data is not self.rng:
            name, _ = self._name(self.data, self.data.choice((1, 2)) if teacher else None)
        return name, pinyin

    def teacher(self) -> Teacher:
        name, pinyin = self.person(given_chars=self.rng.choice((1, 2)), teacher=True)
        teacher = Teacher(userid=self.userid(pinyin), name=name)
        self.teachers[teacher.userid] = teacher
        return teacher

    def token(self, prefix: str, length: int) -> str:
        """A WeCom-made id that belongs to one school's data (livingid, chat id, external id)."""
        return prefix + "".join(self.data.choices(_ID_CHARS, k=length))

    def parents_for(self, student_userid: str, *, max_parents: int = 3) -> tuple[Parent, ...]:
        rng, data = self.rng, self.data
        count = min(max_parents, rng.choices((1, 2, 3), (3, 5, 2))[0])
        relations = rng.sample(names.RELATIONS, count)
        unreachable = data.random() < 0.1  # nobody in the family follows 学校通知
        parents = []
        for i, (relation, relation_py) in enumerate(relations):
            subscribed = 0 if unreachable else int(i == 0 or data.random() < 0.6)
            parents.append(
                Parent(
                    userid=self.userid(f"{student_userid}_{relation_py}"),
                    relation=relation,
                    mobile=f"1{data.choice('3589')}{data.randrange(10**9):09d}",
                    is_subscribe=subscribed,
                    external_userid=self.token("wm", 30) if subscribed else "",
                )
            )
        return tuple(parents)

    def student(self, class_id: int, *, max_parents: int = 3) -> Student:
        name, pinyin = self.person()
        userid = self.userid(pinyin)
        student = Student(
            userid=userid,
            name=name,
            departments=(class_id,),
            parents=self.parents_for(userid, max_parents=max_parents),
        )
        self.students[userid.lower()] = student
        return student

    def department(self, **fields) -> Department:
        dept = Department(id=self.next_dept, **fields)
        self.next_dept += 1
        self.departments[dept.id] = dept
        return dept

    # -- organisation -------------------------------------------------------------------------

    def build_org(self) -> list[list[Department]]:
        config = self.config
        local_now = dt.datetime.fromtimestamp(self.now, SHANGHAI)
        school_year = local_now.year if local_now.month >= 9 else local_now.year - 1
        self.department(name=config.school_name, parentid=0, type=DEPT_SCHOOL)
        grades: list[list[Department]] = []
        for g in range(config.grades):
            grade_name = names.grade_name(g)
            grade = self.department(
                name=grade_name,
                parentid=1,
                type=DEPT_GRADE,
                register_year=school_year - g,
                standard_grade=g + 1,
            )
            heads = [self.teacher() for _ in range(config.classes_per_grade)]
            # A subject teacher takes two neighbouring classes of the grade.
            subject_teachers = {
                subject: [self.teacher() for _ in range(math.ceil(config.classes_per_grade / 2))]
                for subject in names.SUBJECTS
            }
            classes = []
            for c in range(config.classes_per_grade):
                admins = [Admin(heads[c].userid, ADMIN_HEAD_TEACHER, names.HEAD_SUBJECT)]
                for subject, pool in subject_teachers.items():
                    admins.append(Admin(pool[c // 2].userid, ADMIN_SUBJECT_TEACHER, subject))
                open_chat = int(self.data.random() < 0.8)
                classes.append(
                    self.department(
                        name=f"{grade_name}{names.chinese_number(c + 1)}班",
                        parentid=grade.id,
                        type=DEPT_CLASS,
                        admins=tuple(admins),
                        open_group_chat=open_chat,
                        group_chat_id=self.token("wr", 28) if open_chat else "",
                    )
                )
            self.departments[grade.id] = dataclasses.replace(
                grade, admins=(Admin(heads[0].userid, ADMIN_GRADE_HEAD),)
            )
            grades.append(classes)
        return grades

    def build_students(self, grades: list[list[Department]]) -> None:
        for classes in grades:
            for klass in classes:
                for _ in range(self.config.students_per_class):
                    self.student(klass.id)
        # 走班: a few students also sit in a second class of their grade.
        pool = list(self.students.values())
        for student in self.rng.sample(pool, k=max(1, len(pool) // 50)) if pool else ():
            classes = next(c for c in grades if any(k.id == student.departments[0] for k in c))
            others = [k.id for k in classes if k.id != student.departments[0]]
            if others:
                self.students[student.userid.lower()] = dataclasses.replace(
                    student, departments=(student.departments[0], self.rng.choice(others))
                )

    # -- livings ------------------------------------------------------------------------------

    def add_living(self, school: School, **fields) -> Living:
        roster = school.roster(fields.get("partyids", ()))
        nicknames = fields.pop("nicknames", ())
        living = Living(livingid=self.token("lv", 30), **fields)
        living.subscribe_count = self.data.randint(0, max(1, len(roster) // 3))
        living.viewers = class_viewers(
            self.data,
            start=living.living_start,
            duration=living.living_duration,
            roster=roster,
            open_replay=bool(living.open_replay),
            nicknames=tuple(nicknames),
        )
        living.sort_viewers()
        self.livings[living.livingid] = living
        return living

    def lesson_start(self, days_ago: int) -> int:
        day = dt.datetime.fromtimestamp(self.now, SHANGHAI).date() - dt.timedelta(days=days_ago)
        while day.weekday() >= 5:  # no lessons at the weekend
            day -= dt.timedelta(days=1)
        hour, minute = self.data.choice(PERIODS)
        moment = dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=SHANGHAI)
        return int(moment.timestamp()) + self.data.randint(-120, 180)

    def nicknames(self, first_of_teacher: bool) -> tuple[str, ...]:
        if first_of_teacher:
            return names.HOSTILE_NICKNAMES + (self.data.choice(names.PLAIN_NICKNAMES),)
        if self.data.random() < 0.35:
            pool = names.PLAIN_NICKNAMES + names.HOSTILE_NICKNAMES
            return tuple(self.data.sample(pool, self.data.randint(1, 3)))
        return ()

    def build_livings(self, school: School, grades: list[list[Department]]) -> None:
        config, rng = self.config, self.data
        class_grade = {k.id: classes for classes in grades for k in classes}
        per_teacher = config.weeks * config.livings_per_teacher_per_week
        for teacher in list(self.teachers.values()):
            taught = school.teacher_classes(teacher.userid)
            if not taught:
                continue
            for n in range(per_teacher):
                dept, admin = rng.choice(taught)
                partyids = (dept.id,)
                if rng.random() < 0.2:  # a joint lesson for two classes
                    others = [d.id for d, _ in taught if d.id != dept.id] or [
                        k.id for k in class_grade[dept.id] if k.id != dept.id
                    ]
                    if others:
                        partyids = tuple(sorted((dept.id, rng.choice(others))))
                self.add_living(
                    school,
                    theme=f"{admin.subject}：{rng.choice(names.TOPICS[admin.subject])}",
                    anchor_userid=teacher.userid,
                    living_start=self.lesson_start(rng.randint(1, max(1, config.weeks * 7))),
                    living_duration=rng.randint(8, 18) * 5 * 60,  # 40–90 minutes
                    partyids=partyids,
                    open_replay=int(rng.random() < 0.85),
                    nicknames=self.nicknames(first_of_teacher=n == 0),
                )

    def build_special_livings(self, school: School, grades: list[list[Department]]) -> None:
        first_class = grades[0][0]
        head = next(a.userid for a in first_class.admins if a.type == ADMIN_HEAD_TEACHER)
        subject_teacher = next(a.userid for a in first_class.admins if a.type != ADMIN_HEAD_TEACHER)
        minute = self.now - self.now % 60
        # Live now: started 20 minutes ago, ends in 25; watchers keep arriving by the clock.
        self.add_living(
            school,
            theme="语文：古诗两首",
            anchor_userid=head,
            living_start=minute - 20 * 60,
            living_duration=45 * 60,
            partyids=(first_class.id,),
            nicknames=("小明妈妈", "😀"),
        )
        self.add_living(
            school,
            theme="数学：认识钟表",
            anchor_userid=subject_teacher,
            living_start=minute + 3 * 3600,
            living_duration=45 * 60,
            partyids=(first_class.id,),
        )
        activity = self.add_living(
            school,
            theme=f"{names.grade_name(0)}家长会",
            anchor_userid=head,
            living_start=minute + 26 * 3600,
            living_duration=60 * 60,
            partyids=tuple(k.id for k in grades[0]),
            activity=True,
        )
        activity.open_replay = 0
        # A living for a parents' group chat with no class mapping: group_names, no partyids.
        group = self.add_living(
            school,
            theme="家庭教育讲座",
            anchor_userid=head,
            living_start=self.lesson_start(3),
            living_duration=60 * 60,
            partyids=(),
            group_names=(f"{first_class.name}家长群",),
        )
        group.viewers = class_viewers(
            self.data,
            start=group.living_start,
            duration=group.living_duration,
            roster=school.roster((first_class.id,)),
            open_replay=True,
        )
        group.sort_viewers()
        # Created in the 上课直播 client or by another app: this app may not read them.
        for anchor in (head, subject_teacher):
            foreign = self.add_living(
                school,
                theme="其他应用创建的直播",
                anchor_userid=anchor,
                living_start=self.lesson_start(2),
                living_duration=45 * 60,
                partyids=(first_class.id,),
            )
            foreign.foreign = True

    def build_big_living(self, school: School) -> None:
        """A school-wide assembly with exactly `big_living_rows` rows, built in one cheap pass."""
        rows = self.config.big_living_rows
        rng = self.data
        visitors = min(100, rows // 200)
        watchers = rows - visitors
        head_count = math.ceil(watchers / 0.9) + 1
        principal = self.teacher()
        grade = self.department(
            name="全区联播",
            parentid=1,
            type=DEPT_GRADE,
            admins=(Admin(principal.userid, ADMIN_GRADE_HEAD),),
        )
        per_class = 50
        roster: list[Student] = []
        for c in range(math.ceil(head_count / per_class)):
            klass = self.department(
                name=f"联播{c + 1}班",
                parentid=grade.id,
                type=DEPT_CLASS,
                admins=(Admin(principal.userid, ADMIN_HEAD_TEACHER, "班会"),),
            )
            for _ in range(min(per_class, head_count - len(roster))):
                roster.append(self.student(klass.id, max_parents=2))
        absent = set(rng.sample(range(len(roster)), len(roster) - watchers))
        start = self.lesson_start(1)
        duration = 60 * 60
        viewers = []
        for i, student in enumerate(roster):
            if i in absent:
                continue
            pattern = rng.choice(("full", "full", "full", "late", "early", "partial"))
            own = rng.random() < 0.2
            viewers.append(
                Viewer(
                    segments=presence(rng, start, duration, pattern),
                    student_userid=student.userid,
                    parent_userid=None if own else student.parents[0].userid,
                    partyids=student.departments,
                    comments=1 if rng.random() < 0.05 else 0,
                )
            )
        pool = names.HOSTILE_NICKNAMES + names.PLAIN_NICKNAMES
        for i in range(visitors):
            viewers.append(
                Viewer(
                    segments=presence(rng, start, duration, "dropin"),
                    nickname=pool[i % len(pool)],
                )
            )
        living = Living(
            livingid=self.token("lv", 30),
            theme="开学第一课",
            anchor_userid=principal.userid,
            living_start=start,
            living_duration=duration,
            partyids=tuple(sorted({d for s in roster for d in s.departments})),
            viewers=viewers,
            subscribe_count=len(roster) // 2,
        )
        self.livings[living.livingid] = living
        school.big_livingid = living.livingid


def generate_school(config: SchoolConfig | None = None, **overrides) -> School:
    """generate_school(seed=1, grades=2, ...) or generate_school(SchoolConfig(...))."""
    config = dataclasses.replace(config or SchoolConfig(), **overrides)
    if config.grades < 1 or config.classes_per_grade < 1 or config.students_per_class < 1:
        raise ValueError("a school needs at least one grade, one class and one student")
    builder = _Builder(config)
    grades = builder.build_org()
    builder.build_students(grades)
    school = School(
        name=config.school_name,
        departments=builder.departments,
        students=builder.students,
        teachers=builder.teachers,
        livings=builder.livings,
        generated_at=builder.now,
    )
    builder.build_livings(school, grades)
    builder.build_special_livings(school, grades)
    if config.big_living_rows:
        # Last, so that the rest of the school is the same with or without it.
        builder.build_big_living(school)
        school.index()
    return school
