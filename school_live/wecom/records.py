"""WeCom answers as small frozen dataclasses, validated at the boundary.

Every ``from_wecom`` takes a ``Reader`` (``reader.py``) over the decoded JSON that knows the
endpoint and the field path, so a wrong type becomes a ``WeComDataError`` such as
``school/living/get_watch_stat: stat_infoes.students[3].watch_time must be an integer, got 'abc'``.
Rules: unknown fields are ignored; a missing or null array is empty; a missing optional string is
"" and a missing optional number 0; ints must be JSON integers (``true`` is not 1); WeCom's 0/1
flags become bools.
"""

from dataclasses import dataclass

from school_live.wecom.errors import WeComDataError
from school_live.wecom.reader import Reader

# --- 上课直播 statistics -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class WatchRecord:
    student_userid: str
    parent_userid: str  # "" when the student joined on their own account
    partyids: tuple[int, ...]
    watch_time: int  # accumulated seconds, not leave_time - enter_time
    enter_time: int  # unix seconds of the first entry
    leave_time: int  # unix seconds of the last exit
    is_comment: bool

    @classmethod
    def from_wecom(cls, r: Reader) -> "WatchRecord":
        return cls(
            student_userid=r.string("student_userid", required=True),
            parent_userid=r.string("parent_userid"),
            partyids=r.integers("partyids"),
            watch_time=r.integer("watch_time"),
            enter_time=r.integer("enter_time"),
            leave_time=r.integer("leave_time"),
            is_comment=r.flag("is_comment"),
        )


@dataclass(frozen=True, slots=True)
class VisitorRecord:
    nickname: str  # any WeChat nickname: untrusted text, not an id
    watch_time: int
    enter_time: int
    leave_time: int
    is_comment: bool

    @classmethod
    def from_wecom(cls, r: Reader) -> "VisitorRecord":
        return cls(
            nickname=r.string("nickname"),
            watch_time=r.integer("watch_time"),
            enter_time=r.integer("enter_time"),
            leave_time=r.integer("leave_time"),
            is_comment=r.flag("is_comment"),
        )


@dataclass(frozen=True, slots=True)
class WatchStatPage:
    students: tuple[WatchRecord, ...]
    visitors: tuple[VisitorRecord, ...]
    ending: int  # 1 = the last page
    next_key: str

    @classmethod
    def from_wecom(cls, r: Reader) -> "WatchStatPage":
        stat = r.obj("stat_infoes")
        return cls(
            students=tuple(WatchRecord.from_wecom(s) for s in stat.objs("students")),
            visitors=tuple(VisitorRecord.from_wecom(v) for v in stat.objs("visitors")),
            ending=_ending(r),
            next_key=r.string("next_key"),
        )


@dataclass(frozen=True, slots=True)
class UnwatchRecord:
    student_userid: str
    parent_userid: str
    partyids: tuple[int, ...]

    @classmethod
    def from_wecom(cls, r: Reader) -> "UnwatchRecord":
        return cls(
            student_userid=r.string("student_userid", required=True),
            parent_userid=r.string("parent_userid"),
            partyids=r.integers("partyids"),
        )


@dataclass(frozen=True, slots=True)
class UnwatchStatPage:
    students: tuple[UnwatchRecord, ...]
    ending: int
    next_key: str

    @classmethod
    def from_wecom(cls, r: Reader) -> "UnwatchStatPage":
        stat = r.obj("stat_info")
        return cls(
            students=tuple(UnwatchRecord.from_wecom(s) for s in stat.objs("students")),
            ending=_ending(r),
            next_key=r.string("next_key"),
        )


def _ending(r: Reader) -> int:
    """``ending`` decides when pagination stops, so it must be there and be 0 or 1."""
    value = r.integer("ending", required=True)
    if value not in (0, 1):
        raise r.fail("ending", "must be 0 or 1", value)
    return value


@dataclass(frozen=True, slots=True)
class LivingInfo:
    livingid: str
    theme: str
    living_start: int
    living_duration: int
    anchor_userid: str
    partyids: tuple[int, ...]  # living_range.partyids: the classes invited
    group_names: tuple[str, ...]  # living_range.group_names, when no class matched
    viewer_num: int
    comment_num: int
    open_replay: bool
    online_count: int
    subscribe_count: int

    @classmethod
    def from_wecom(cls, r: Reader, livingid: str) -> "LivingInfo":
        info = r.obj("living_info")
        if "living_info" not in r.data:
            raise WeComDataError("living_info is missing", r.endpoint)
        living_range = info.obj("living_range")
        return cls(
            livingid=livingid,
            theme=info.string("theme"),
            living_start=info.integer("living_start"),
            living_duration=info.integer("living_duration"),
            anchor_userid=info.string("anchor_userid"),
            partyids=living_range.integers("partyids"),
            group_names=living_range.strings("group_names"),
            viewer_num=info.integer("viewer_num"),
            comment_num=info.integer("comment_num"),
            open_replay=info.flag("open_replay"),
            online_count=info.integer("online_count"),
            subscribe_count=info.integer("subscribe_count"),
        )


# --- 家校通讯录 ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DepartmentAdmin:
    userid: str
    type: int  # 1 campus head, 2 grade head, 3 班主任, 4 任课老师, 5 stage head
    subject: str

    @classmethod
    def from_wecom(cls, r: Reader) -> "DepartmentAdmin":
        return cls(
            userid=r.string("userid", required=True),
            type=r.integer("type"),
            subject=r.string("subject"),
        )


@dataclass(frozen=True, slots=True)
class DepartmentRecord:
    id: int
    name: str
    parentid: int
    type: int  # 1 class, 2 grade, 3 stage, 4 campus, 5 school
    register_year: int | None
    standard_grade: int | None
    order: int
    is_graduated: bool
    admins: tuple[DepartmentAdmin, ...]

    @classmethod
    def from_wecom(cls, r: Reader) -> "DepartmentRecord":
        return cls(
            id=r.integer("id", required=True),
            name=r.string("name"),
            parentid=r.integer("parentid"),
            type=r.integer("type"),
            register_year=r.optional_int("register_year"),
            standard_grade=r.optional_int("standard_grade"),
            order=r.integer("order"),
            is_graduated=r.flag("is_graduated"),
            admins=tuple(DepartmentAdmin.from_wecom(a) for a in r.objs("department_admins")),
        )


@dataclass(frozen=True, slots=True)
class ParentOfStudent:
    parent_userid: str
    relation: str
    mobile: str  # "" when WeCom withholds it (third-party apps)
    is_subscribe: bool  # follows 「学校通知」
    external_userid: str  # "" when not subscribed

    @classmethod
    def from_wecom(cls, r: Reader) -> "ParentOfStudent":
        return cls(
            parent_userid=r.string("parent_userid", required=True),
            relation=r.string("relation"),
            mobile=r.string("mobile"),
            is_subscribe=r.flag("is_subscribe"),
            external_userid=r.string("external_userid"),
        )


@dataclass(frozen=True, slots=True)
class StudentRecord:
    student_userid: str
    name: str
    department: tuple[int, ...]
    parents: tuple[ParentOfStudent, ...]

    @classmethod
    def from_wecom(cls, r: Reader) -> "StudentRecord":
        return cls(
            student_userid=r.string("student_userid", required=True),
            name=r.string("name"),
            department=r.integers("department"),
            parents=tuple(ParentOfStudent.from_wecom(p) for p in r.objs("parents")),
        )


@dataclass(frozen=True, slots=True)
class ChildOfParent:
    student_userid: str
    relation: str
    name: str  # only list_parent returns it; "" from school/user/get

    @classmethod
    def from_wecom(cls, r: Reader) -> "ChildOfParent":
        return cls(
            student_userid=r.string("student_userid", required=True),
            relation=r.string("relation"),
            name=r.string("name"),
        )


@dataclass(frozen=True, slots=True)
class ParentRecord:
    parent_userid: str
    mobile: str
    is_subscribe: bool
    external_userid: str
    children: tuple[ChildOfParent, ...]

    @classmethod
    def from_wecom(cls, r: Reader) -> "ParentRecord":
        return cls(
            parent_userid=r.string("parent_userid", required=True),
            mobile=r.string("mobile"),
            is_subscribe=r.flag("is_subscribe"),
            external_userid=r.string("external_userid"),
            children=tuple(ChildOfParent.from_wecom(c) for c in r.objs("children")),
        )


USER_TYPE_STUDENT = 1
USER_TYPE_PARENT = 2


@dataclass(frozen=True, slots=True)
class SchoolUser:
    user_type: int  # 1 student, 2 parent
    student: StudentRecord | None
    parent: ParentRecord | None

    @classmethod
    def from_wecom(cls, r: Reader) -> "SchoolUser":
        user_type = r.integer("user_type", required=True)
        student = parent = None
        if user_type == USER_TYPE_STUDENT:
            if not isinstance(r.data.get("student"), dict):
                raise r.fail(
                    "student", "must be an object when user_type is 1", r.data.get("student")
                )
            student = StudentRecord.from_wecom(r.obj("student"))
        elif user_type == USER_TYPE_PARENT:
            if not isinstance(r.data.get("parent"), dict):
                raise r.fail(
                    "parent", "must be an object when user_type is 2", r.data.get("parent")
                )
            parent = ParentRecord.from_wecom(r.obj("parent"))
        else:
            raise r.fail("user_type", "must be 1 (student) or 2 (parent)", user_type)
        return cls(user_type=user_type, student=student, parent=parent)


# --- sign-in and messages -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class UserIdentity:
    """Who signed in: a member has ``userid``; others ``openid`` / ``external_userid``; a parent
    in the 家校 variant ``parent_userid``. Fields WeCom did not send are ""."""

    userid: str
    openid: str
    external_userid: str
    parent_userid: str

    @classmethod
    def from_wecom(cls, r: Reader) -> "UserIdentity":
        return cls(
            userid=r.string("userid"),
            openid=r.string("openid"),
            external_userid=r.string("external_userid"),
            parent_userid=r.string("parent_userid"),
        )


@dataclass(frozen=True, slots=True)
class MessageResult:
    """A partial failure still has errcode 0; the ``invalid*`` tuples name who was skipped."""

    msgid: str
    invaliduser: tuple[str, ...]
    invalidparty: tuple[str, ...]
    invalidtag: tuple[str, ...]
    unlicenseduser: tuple[str, ...] = ()

    @classmethod
    def from_wecom(cls, r: Reader) -> "MessageResult":
        return cls(
            msgid=r.string("msgid"),
            invaliduser=r.pipe_list("invaliduser"),
            invalidparty=r.pipe_list("invalidparty"),
            invalidtag=r.pipe_list("invalidtag"),
            unlicenseduser=r.pipe_list("unlicenseduser"),
        )
