"""The sandbox's school: what WeCom's 家校通讯录 and 上课直播 hold, as plain dataclasses.

People and departments never change once generated, so they are frozen. A living is mutable
because tests and the demo start, end and rewrite livings while the sandbox runs. A viewer keeps
its presence as intervals of Unix seconds, so its numbers can be computed for any "now": a
student who joined at t and is still in the room has watched now - t seconds so far.
"""

import bisect
import dataclasses
from dataclasses import dataclass, field

# WeCom doc 92343: department `type` and department_admins `type`.
DEPT_CLASS, DEPT_GRADE, DEPT_SCHOOL = 1, 2, 5
ADMIN_GRADE_HEAD, ADMIN_HEAD_TEACHER, ADMIN_SUBJECT_TEACHER = 2, 3, 4

# The fields of a watch row that update_watch may overwrite.
ROW_FIELDS = frozenset(
    {"watch_time", "enter_time", "leave_time", "is_comment", "parent_userid", "partyids"}
)


@dataclass(frozen=True)
class Admin:
    userid: str
    type: int
    subject: str = ""


@dataclass(frozen=True)
class Department:
    id: int
    name: str
    parentid: int
    type: int
    admins: tuple[Admin, ...] = ()
    register_year: int | None = None
    standard_grade: int | None = None
    is_graduated: int = 0
    open_group_chat: int = 0
    group_chat_id: str = ""


@dataclass(frozen=True)
class Parent:
    userid: str
    relation: str
    mobile: str
    is_subscribe: int
    external_userid: str = ""


@dataclass(frozen=True)
class Student:
    userid: str
    name: str
    departments: tuple[int, ...]
    parents: tuple[Parent, ...]

    @property
    def subscribed_parent(self) -> Parent | None:
        """The parent get_unwatch_stat names; None makes the student unreachable."""
        return next((p for p in self.parents if p.is_subscribe), None)


@dataclass(frozen=True)
class Teacher:
    userid: str
    name: str


@dataclass(frozen=True)
class Viewer:
    """One row of get_watch_stat: a student (through a parent's account or their own) or a
    WeChat visitor known only by nickname."""

    segments: tuple[tuple[int, int], ...]
    student_userid: str = ""
    parent_userid: str | None = None
    nickname: str = ""
    partyids: tuple[int, ...] = ()
    comments: int = 0
    # Values a test pinned with update_watch; they win over what the segments say.
    overrides: tuple[tuple[str, object], ...] = ()

    @property
    def is_visitor(self) -> bool:
        return not self.student_userid

    @property
    def first_enter(self) -> int:
        pinned = dict(self.overrides).get("enter_time")
        if isinstance(pinned, int):
            return pinned
        return self.segments[0][0] if self.segments else 0

    def render(self, now: int) -> dict:
        """The row as WeCom sends it at `now`; call only for viewers with first_enter <= now."""
        started = [(s, e) for s, e in self.segments if s <= now]
        watch_time = sum(min(e, now) - s for s, e in started)
        enter = started[0][0] if started else self.first_enter
        # Still in the room: the last leave WeCom knows of is "now" (api.md §12.3 leaves this open).
        leave = min(started[-1][1], now) if started else enter
        if self.is_visitor:
            row = {"nickname": self.nickname}
        else:
            row = {"student_userid": self.student_userid}
            # Doc 93741: parent_userid is shown only when a parent's account watched.
            if self.parent_userid:
                row["parent_userid"] = self.parent_userid
            row["partyids"] = list(self.partyids)
        row.update(
            watch_time=watch_time,
            enter_time=enter,
            leave_time=leave,
            is_comment=1 if self.comments else 0,
        )
        for name, value in self.overrides:
            if name == "parent_userid" and not value:
                row.pop("parent_userid", None)
            elif name == "partyids":
                row[name] = list(value)
            else:
                row[name] = value
        return row

    def in_room(self, now: int) -> bool:
        return any(s <= now < e for s, e in self.segments)

    def shifted(self, delta: int) -> "Viewer":
        return dataclasses.replace(
            self, segments=tuple((s + delta, e + delta) for s, e in self.segments)
        )


@dataclass
class Living:
    livingid: str
    theme: str
    anchor_userid: str
    living_start: int
    living_duration: int
    partyids: tuple[int, ...]
    group_names: tuple[str, ...] = ()
    open_replay: int = 1
    activity: bool = False  # 活动直播: the only kind that has a push_stream_url before it starts
    foreign: bool = False  # created by another app: WeCom answers 92008
    subscribe_count: int = 0
    # Created through living/create or ww.startLiving by this app (doc 93637): type, reminder and
    # description as asked; cancelled by living/cancel (status 4).
    living_type: int = 0
    remind_time: int = 0
    description: str = ""
    cancelled: bool = False
    # Created through living/create (no class field: living_range stays empty); whether
    # get_unwatch_stat lists anyone for it is undocumented (api.md §12): state.unwatch_for_created.
    created: bool = False
    viewers: list[Viewer] = field(default_factory=list)
    _keys: list[int] = field(default_factory=list, repr=False)
    version: int = field(default=0, repr=False, compare=False)  # bumped by every change

    def __post_init__(self):
        self.sort_viewers()

    @property
    def living_end(self) -> int:
        return self.living_start + self.living_duration

    def status(self, now: int) -> int:
        """WeCom's status (doc 94145): 0 reserved, 1 live, 2 ended, 4 cancelled."""
        if self.cancelled:
            return 4
        if now < self.living_start:
            return 0
        return 1 if now < self.living_end else 2

    def sort_viewers(self) -> None:
        """Rows are served in order of first entry, so the rows visible at any moment are a
        prefix of the list and paging a living that is still live stays stable."""
        self.viewers.sort(key=lambda v: v.first_enter)
        self._keys = [v.first_enter for v in self.viewers]
        self.version += 1

    def visible_count(self, now: int) -> int:
        return bisect.bisect_right(self._keys, now)

    def copy(self) -> "Living":
        return dataclasses.replace(self, viewers=list(self.viewers), _keys=list(self._keys))


@dataclass
class School:
    name: str
    departments: dict[int, Department]
    students: dict[str, Student]  # keyed by lower-cased userid: WeCom userids ignore case
    teachers: dict[str, Teacher]
    livings: dict[str, Living]
    generated_at: int
    big_livingid: str = ""
    parents: dict[str, tuple[Parent, tuple[Student, ...]]] = field(default_factory=dict)
    students_by_dept: dict[int, list[Student]] = field(default_factory=dict)

    def __post_init__(self):
        self.index()

    def index(self) -> None:
        self.students_by_dept = {dept_id: [] for dept_id in self.departments}
        parents: dict[str, tuple[Parent, list[Student]]] = {}
        for student in self.students.values():
            for dept_id in student.departments:
                self.students_by_dept.setdefault(dept_id, []).append(student)
            for parent in student.parents:
                parents.setdefault(parent.userid.lower(), (parent, []))[1].append(student)
        self.parents = {key: (p, tuple(children)) for key, (p, children) in parents.items()}

    def descendants(self, dept_id: int) -> list[Department]:
        """The department and everything below it, in id order (doc 92343 returns a flat list)."""
        wanted = {dept_id}
        for dept in sorted(self.departments.values(), key=lambda d: d.id):
            if dept.parentid in wanted:
                wanted.add(dept.id)
        return [d for d in sorted(self.departments.values(), key=lambda d: d.id) if d.id in wanted]

    def teacher_classes(self, userid: str) -> list[tuple[Department, Admin]]:
        return [
            (dept, admin)
            for dept in self.departments.values()
            for admin in dept.admins
            if admin.userid == userid and dept.type == DEPT_CLASS
        ]

    def roster(self, partyids: tuple[int, ...]) -> list[Student]:
        """Students of the living's classes, each once even when they sit in two of them."""
        seen: set[str] = set()
        roster = []
        for dept_id in partyids:
            for student in self.students_by_dept.get(dept_id, ()):
                if student.userid not in seen:
                    seen.add(student.userid)
                    roster.append(student)
        return roster
