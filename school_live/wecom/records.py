"""WeCom answers as small frozen dataclasses, validated at the boundary.

Each field says how it is read: ``wecom("integer")`` is ``Reader.integer`` (``reader.py``) of the
JSON key named like the field, ``nested(SomeRecord, key)`` an array of such records.
``from_wecom`` reads the fields in their order, and a wrong type becomes a ``WeComDataError`` that
names the endpoint and the path, such as
``school/living/get_watch_stat: stat_infoes.students[3].watch_time must be an integer, got 'abc'``.
The stat pages, the living and the school user read themselves by hand: their shape depends on
more than one key. What a missing or null value reads as is the Reader's rule.
"""

from dataclasses import dataclass

from school_live.wecom.errors import WeComDataError
from school_live.wecom.reader import Reader, Record, nested, wecom

# --- 上课直播 statistics -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class WatchRecord(Record):
    student_userid: str = wecom("string", required=True)
    parent_userid: str = wecom("string")  # "" when the student joined on their own account
    partyids: tuple[int, ...] = wecom("integers")
    watch_time: int = wecom("integer")  # accumulated seconds, not leave_time - enter_time
    enter_time: int = wecom("integer")  # unix seconds of the first entry
    leave_time: int = wecom("integer")  # unix seconds of the last exit
    is_comment: bool = wecom("flag")


@dataclass(frozen=True, slots=True)
class VisitorRecord(Record):
    nickname: str = wecom("string")  # any WeChat nickname: untrusted text, not an id
    watch_time: int = wecom("integer")
    enter_time: int = wecom("integer")
    leave_time: int = wecom("integer")
    is_comment: bool = wecom("flag")


@dataclass(frozen=True, slots=True)
class WatchStatPage:
    students: tuple[WatchRecord, ...]
    visitors: tuple[VisitorRecord, ...]
    ending: int  # 1 = the last page
    next_key: str

    @classmethod
    def from_wecom(cls, r: Reader) -> "WatchStatPage":
        stat = r.obj("stat_infoes")
        students = stat.records("students", WatchRecord)
        return cls(students, stat.records("visitors", VisitorRecord), *_page_position(r))


@dataclass(frozen=True, slots=True)
class UnwatchRecord(Record):
    student_userid: str = wecom("string", required=True)
    parent_userid: str = wecom("string")
    partyids: tuple[int, ...] = wecom("integers")


@dataclass(frozen=True, slots=True)
class UnwatchStatPage:
    students: tuple[UnwatchRecord, ...]
    ending: int
    next_key: str

    @classmethod
    def from_wecom(cls, r: Reader) -> "UnwatchStatPage":
        return cls(r.obj("stat_info").records("students", UnwatchRecord), *_page_position(r))


def _page_position(r: Reader) -> tuple[int, str]:
    """(ending, next_key) of a stat page. ``ending`` decides when pagination stops, so it must be
    there and be 0 or 1."""
    ending = r.integer("ending", required=True)
    if ending not in (0, 1):
        raise r.fail("ending", "must be 0 or 1", ending)
    return ending, r.string("next_key")


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
class DepartmentAdmin(Record):
    userid: str = wecom("string", required=True)
    # 1 campus head, 2 grade head, 3 班主任, 4 任课老师, 5 stage head
    type: int = wecom("integer")
    subject: str = wecom("string")


@dataclass(frozen=True, slots=True)
class DepartmentRecord(Record):
    id: int = wecom("integer", required=True)
    name: str = wecom("string")
    parentid: int = wecom("integer")
    type: int = wecom("integer")  # 1 class, 2 grade, 3 stage, 4 campus, 5 school
    register_year: int | None = wecom("optional_int")
    standard_grade: int | None = wecom("optional_int")
    order: int = wecom("integer")
    is_graduated: bool = wecom("flag")
    admins: tuple[DepartmentAdmin, ...] = nested(DepartmentAdmin, "department_admins")


@dataclass(frozen=True, slots=True)
class ParentOfStudent(Record):
    parent_userid: str = wecom("string", required=True)
    relation: str = wecom("string")
    mobile: str = wecom("string")  # "" when WeCom withholds it (third-party apps)
    is_subscribe: bool = wecom("flag")  # follows 「学校通知」
    external_userid: str = wecom("string")  # "" when not subscribed


@dataclass(frozen=True, slots=True)
class StudentRecord(Record):
    student_userid: str = wecom("string", required=True)
    name: str = wecom("string")
    department: tuple[int, ...] = wecom("integers")
    parents: tuple[ParentOfStudent, ...] = nested(ParentOfStudent)


@dataclass(frozen=True, slots=True)
class ChildOfParent(Record):
    student_userid: str = wecom("string", required=True)
    relation: str = wecom("string")
    name: str = wecom("string")  # only list_parent returns it; "" from school/user/get


@dataclass(frozen=True, slots=True)
class ParentRecord(Record):
    parent_userid: str = wecom("string", required=True)
    mobile: str = wecom("string")
    is_subscribe: bool = wecom("flag")
    external_userid: str = wecom("string")
    children: tuple[ChildOfParent, ...] = nested(ChildOfParent)


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
class UserIdentity(Record):
    """Who signed in: a member has ``userid``; others ``openid`` / ``external_userid``; a parent
    in the 家校 variant ``parent_userid``. Fields WeCom did not send are ""."""

    userid: str = wecom("string")
    openid: str = wecom("string")
    external_userid: str = wecom("string")
    parent_userid: str = wecom("string")


@dataclass(frozen=True, slots=True)
class MessageResult(Record):
    """A partial failure still has errcode 0; the ``invalid*`` tuples name who was skipped."""

    msgid: str = wecom("string")
    invaliduser: tuple[str, ...] = wecom("pipe_list")
    invalidparty: tuple[str, ...] = wecom("pipe_list")
    invalidtag: tuple[str, ...] = wecom("pipe_list")
    unlicenseduser: tuple[str, ...] = wecom("pipe_list", default=())


# --- 学校通知 to parents -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SchoolNoticeResult(Record):
    """externalcontact/message/send: errcode 0 even when some recipients were skipped; these
    tuples name them (unknown, not following 学校通知, or outside the allow scope)."""

    invalid_parent_userid: tuple[str, ...] = wecom("strings")
    invalid_student_userid: tuple[str, ...] = wecom("strings")
    invalid_party: tuple[str, ...] = wecom("strings")


@dataclass(frozen=True, slots=True)
class AllowScope:
    """The families an app may send 学校通知 to: these students, and every student of these
    departments (sub-departments included)."""

    student_userids: tuple[str, ...]
    partyids: tuple[int, ...]

    @classmethod
    def from_wecom(cls, r: Reader) -> "AllowScope":
        scope = r.obj("allow_scope")
        return cls(
            student_userids=scope.obj("students").strings("userid"),
            partyids=scope.obj("departments").integers("partyid"),
        )


# --- the app itself ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AgentInfo(Record):
    """agent/get (doc 96448): the app's own settings, as the set-up check reads them."""

    agentid: int = wecom("integer", required=True)
    name: str = wecom("string")
    close: bool = wecom("flag")  # 1: the app is 停用
    redirect_domain: str = wecom("string")  # the app's 可信域名
    home_url: str = wecom("string")
    # 代开发 apps only: 0 待开发, 1 开发中, 2 已上线, 3 存在未上线版本; None for a self-built app.
    customized_publish_status: int | None = wecom("optional_int")
