"""学校通知 to parents (api.md §17): externalcontact/message/send (doc 92321) and
school/agent/get_allow_scope (doc 94895), with what the sandbox remembers of them.

Faithful where the product depends on it:
- ``agentid`` other than the token's app → 301002; the app not in 「家长可使用的应用」 (switched
  with ``set_parent_app``) → 48002, on both endpoints;
- recipients that are unknown, whose parent does not follow 学校通知 (``is_subscribe`` 0) or that
  are outside the allow scope are listed in ``invalid_parent_userid`` / ``invalid_student_userid``
  / ``invalid_party``; the rest are delivered; every recipient invalid → 81013;
- ``enable_duplicate_check`` 1: the same body again within ``duplicate_check_interval`` seconds
  (default 1800) answers ok and delivers nothing;
- at most 1000 ids per list (40058 beyond).

Every call that reaches the handler is recorded (``notice_log``): its body, who got it, the
invalid lists, whether it was a duplicate and its errcode. Handlers run under the state's lock.
"""

import hashlib
import json

from .model import DEPT_CLASS, Student
from .replies import ApiError

MAX_RECIPIENTS = 1000
DEFAULT_DUPLICATE_INTERVAL = 1800
MAX_DUPLICATE_INTERVAL = 4 * 3600
MSGTYPES = ("text", "image", "voice", "video", "file", "news", "mpnews", "miniprogram")
RECV_SCOPES = (0, 1, 2)  # 0 students and parents, 1 students only, 2 parents only


class NoticesMixin:
    """SandboxState's 学校通知: the allow scope, 「家长可使用的应用」 and the log of sends."""

    def _clear_notices(self) -> None:
        self.notices: list[dict] = []
        self._notice_sent: dict[str, int] = {}  # body digest -> when it was last delivered
        self.parent_app = True  # the app is in 「家长可使用的应用」
        self._allow_scope: tuple[list[str], list[int]] | None = None  # None: the whole school

    def set_parent_app(self, allowed: bool) -> None:
        with self.lock:
            self.parent_app = bool(allowed)

    def set_allow_scope(
        self, *, students: list[str] | None = None, departments: list[int] | None = None
    ) -> None:
        """The parents the app may reach: these students' and those of these departments (and
        their sub-departments). Both None: every student and class of the school."""
        with self.lock:
            if students is None and departments is None:
                self._allow_scope = None
                return
            self._allow_scope = (
                [str(s) for s in students or ()],
                [int(d) for d in departments or ()],
            )

    def allow_scope(self) -> tuple[list[str], list[int]]:
        """(student userids, department ids) as get_allow_scope lists them."""
        with self.lock:
            if self._allow_scope is not None:
                return list(self._allow_scope[0]), list(self._allow_scope[1])
            school = self.school
            classes = sorted(d.id for d in school.departments.values() if d.type == DEPT_CLASS)
            return sorted(s.userid for s in school.students.values()), classes

    def allowed_students(self) -> set[str]:
        """Lower-cased userids of the students within the allow scope."""
        userids, departments = self.allow_scope()
        allowed = {userid.lower() for userid in userids}
        for dept_id in departments:
            if dept_id not in self.school.departments:
                continue
            for dept in self.school.descendants(dept_id):
                allowed.update(s.userid.lower() for s in self.school.students_by_dept[dept.id])
        return allowed

    def notice_log(self) -> list[dict]:
        with self.lock:
            return [dict(entry) for entry in self.notices]

    def clear_notices(self) -> None:
        with self.lock:
            self.notices.clear()
            self._notice_sent.clear()


def _agentid(value) -> int:
    if value is None or value == "":
        raise ApiError(41011, "missing agentid")
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ApiError(40056, "invalid agentid")
    return value


def _app_check(state, agentid, *, sending: bool = False) -> None:
    if _agentid(agentid) != state.agent_id:
        # The token was issued for the sandbox's one app; another agentid is another app.
        raise ApiError(301002, "not allow operate another agent with this accesstoken.")
    if not state.parent_app:
        # api.md §20.2: a send gets WeCom's own variant of the wording.
        raise ApiError(
            48002, "api forbidden:not in parent app list" if sending else "api forbidden"
        )


def _int_field(body: dict, name: str, default: int) -> int:
    value = body.get(name, default)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int):
        raise ApiError(40058, f"Warning: wrong json format. {name} must be an integer")
    return value


def _ids(body: dict, name: str) -> list[str]:
    value = body.get(name)
    if value is None:
        return []
    if not isinstance(value, list) or not all(
        isinstance(item, str) or (isinstance(item, int) and not isinstance(item, bool))
        for item in value
    ):
        raise ApiError(40058, f"Warning: wrong json format. {name} must be an array")
    if len(value) > MAX_RECIPIENTS:
        raise ApiError(40058, f"invalid {name}: at most {MAX_RECIPIENTS} ids")
    return [str(item) for item in value if str(item)]


def _content(body: dict, msgtype: str) -> None:
    block = body.get(msgtype)
    if not isinstance(block, dict):
        raise ApiError(40058, f"Warning: wrong json format. {msgtype} must be an object")
    if msgtype == "text" and not block.get("content"):
        raise ApiError(44004, "empty content")


def _subscribed(student: Student) -> list[str]:
    return [p.userid for p in student.parents if p.is_subscribe]


class _Delivery:
    def __init__(self) -> None:
        self.parents: dict[str, None] = {}  # ordered sets
        self.students: dict[str, None] = {}

    def student(self, student: Student, recv_scope: int) -> bool:
        """Deliver to the student and/or their subscribed parents; False when nobody can get it."""
        parents = _subscribed(student) if recv_scope in (0, 2) else []
        if recv_scope == 2 and not parents:
            return False
        self.parents.update(dict.fromkeys(parents))
        if recv_scope in (0, 1):
            self.students[student.userid] = None
        return True


def send(state, request) -> dict:
    # WeCom doc 92321: externalcontact/message/send (学校通知)
    body = request.json()
    entry = {"at": state.clock(), "body": body, "duplicate": False, "errcode": 0}
    try:
        answer = _send(state, body, entry)
    except ApiError as error:
        entry["errcode"] = error.errcode
        entry.update(error.extra)
        state.notices.append(entry)
        raise
    state.notices.append(entry)
    return answer


def _send(state, body: dict, entry: dict) -> dict:
    _app_check(state, body.get("agentid"), sending=True)
    msgtype = body.get("msgtype")
    if msgtype not in MSGTYPES:
        raise ApiError(40008, "invalid message type")
    _content(body, msgtype)
    recv_scope = _int_field(body, "recv_scope", 0)
    if recv_scope not in RECV_SCOPES:
        raise ApiError(40058, "invalid recv_scope")
    toall = _int_field(body, "toall", 0)
    parents, students, parties = (
        _ids(body, "to_parent_userid"),
        _ids(body, "to_student_userid"),
        _ids(body, "to_party"),
    )
    if not (parents or students or parties or toall == 1):
        raise ApiError(82001, "to_parent_userid, to_student_userid and to_party are all empty")
    check = _int_field(body, "enable_duplicate_check", 0)
    interval = _int_field(body, "duplicate_check_interval", DEFAULT_DUPLICATE_INTERVAL)
    if check and not 0 < interval <= MAX_DUPLICATE_INTERVAL:
        raise ApiError(40058, "invalid duplicate_check_interval")

    school, allowed = state.school, state.allowed_students()
    delivery = _Delivery()
    invalid = {"invalid_parent_userid": [], "invalid_student_userid": [], "invalid_party": []}
    for userid in parents:
        found = school.parents.get(userid.lower())
        reachable = found is not None and found[0].is_subscribe
        if not (reachable and any(child.userid.lower() in allowed for child in found[1])):
            invalid["invalid_parent_userid"].append(userid)
        else:
            delivery.parents[found[0].userid] = None
    for userid in students:
        student = school.students.get(userid.lower())
        ok = student is not None and student.userid.lower() in allowed
        if not (ok and delivery.student(student, recv_scope)):
            invalid["invalid_student_userid"].append(userid)
    for partyid in parties:
        dept_id = int(partyid) if partyid.isdigit() else None
        members = []
        if dept_id in school.departments:
            for dept in school.descendants(dept_id):
                members += [
                    s for s in school.students_by_dept[dept.id] if s.userid.lower() in allowed
                ]
        if not [s for s in members if delivery.student(s, recv_scope)]:
            invalid["invalid_party"].append(partyid)
    if toall == 1:
        for student in school.students.values():
            if student.userid.lower() in allowed:
                delivery.student(student, recv_scope)
    entry.update(invalid)
    if not (delivery.parents or delivery.students):
        raise ApiError(81013, "all recipients are invalid", **invalid)

    digest = hashlib.sha256(
        json.dumps(body, sort_keys=True, ensure_ascii=False).encode()
    ).hexdigest()
    now = state.clock()
    last = state._notice_sent.get(digest)
    if check and last is not None and now - last < interval:
        entry.update(duplicate=True, delivered_parents=[], delivered_students=[])
        return invalid
    state._notice_sent[digest] = now
    entry.update(
        delivered_parents=list(delivery.parents), delivered_students=list(delivery.students)
    )
    return invalid


def get_allow_scope(state, request) -> dict:
    # WeCom doc 94895: school/agent/get_allow_scope
    _app_check(state, request.query.get("agentid"))
    students, departments = state.allow_scope()
    return {
        "allow_scope": {
            "students": {"userid": students},
            "departments": {"partyid": departments},
        }
    }


def control(state, request, path: str, body_of) -> dict | None:
    """The control API's 学校通知 paths (see control_api.py); None for any other path.

    GET  /sandbox/notices                  the log of sends, the allow scope, parent_app
    POST /sandbox/notices/reset            forget the log and the duplicate check's memory
    POST /sandbox/notices/config {"parent_app": false, "allow_scope": {"students": [...],
         "departments": [...]}}            ("allow_scope": null: the whole school again)
    """
    if path == "/sandbox/notices" and request.method == "GET":
        students, departments = state.allow_scope()
        return {
            "notices": state.notice_log(),
            "parent_app": state.parent_app,
            "allow_scope": {"students": students, "departments": departments},
        }
    if path == "/sandbox/notices/reset" and request.method == "POST":
        state.clear_notices()
        return {}
    if path == "/sandbox/notices/config" and request.method == "POST":
        body = body_of(request)
        if "parent_app" in body:
            state.set_parent_app(bool(body["parent_app"]))
        if "allow_scope" in body:
            scope = body["allow_scope"] or {}
            state.set_allow_scope(
                students=scope.get("students"), departments=scope.get("departments")
            )
        return {"parent_app": state.parent_app}
    return None
