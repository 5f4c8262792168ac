"""家校通讯录 endpoints: departments, students with their parents, one user, parents of a class."""

from .model import DEPT_CLASS, DEPT_GRADE, Department, Parent, Student
from .replies import ApiError


def _department_id(request, name: str, *, required: bool) -> int | None:
    raw = request.query.get(name, "")
    if raw == "":
        if required:
            # Doc 90313: 40063 参数为空, "必填的参数缺少".
            raise ApiError(40063, f"params is empty, {name} missing")
        return None
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(40058, f"invalid {name}") from None
    return value


def _known(state, dept_id: int) -> Department:
    dept = state.school.departments.get(dept_id)
    if dept is None:
        raise ApiError(60123, f"invalid department id {dept_id}")
    return dept


def department_json(dept: Department) -> dict:
    row = {"name": dept.name, "parentid": dept.parentid, "id": dept.id, "type": dept.type}
    if dept.type == DEPT_GRADE and dept.register_year is not None:
        row["register_year"] = dept.register_year
        row["standard_grade"] = dept.standard_grade
    admins = []
    for admin in dept.admins:
        entry = {"userid": admin.userid, "type": admin.type}
        if admin.subject:  # subject only for head and subject teachers (types 3 and 4)
            entry["subject"] = admin.subject
        admins.append(entry)
    row["department_admins"] = admins
    if dept.type == DEPT_GRADE:
        row["is_graduated"] = dept.is_graduated
    if dept.type == DEPT_CLASS:
        row["open_group_chat"] = dept.open_group_chat
        if dept.open_group_chat:
            row["group_chat_id"] = dept.group_chat_id
    return row


def parent_json(parent: Parent) -> dict:
    row = {
        "parent_userid": parent.userid,
        "relation": parent.relation,
        "mobile": parent.mobile,
        "is_subscribe": parent.is_subscribe,
    }
    if parent.is_subscribe:  # external_userid only exists once the parent follows 学校通知
        row["external_userid"] = parent.external_userid
    return row


def student_json(student: Student) -> dict:
    return {
        "student_userid": student.userid,
        "name": student.name,
        "department": list(student.departments),
        "parents": [parent_json(p) for p in student.parents],
    }


def _parent_record(parent: Parent, children, *, with_names: bool) -> dict:
    row = {"parent_userid": parent.userid, "mobile": parent.mobile}
    row["is_subscribe"] = parent.is_subscribe
    if parent.is_subscribe:
        row["external_userid"] = parent.external_userid
    kids = []
    for child in children:
        relation = next(p.relation for p in child.parents if p.userid == parent.userid)
        kid = {"student_userid": child.userid, "relation": relation}
        if with_names:
            kid["name"] = child.name
        kids.append(kid)
    row["children"] = kids
    return row


def department_list(state, request) -> dict:
    # WeCom doc 92343: school/department/list; id optional, the department and all below it.
    dept_id = _department_id(request, "id", required=False)
    if dept_id is None:
        dept_id = 1
    _known(state, dept_id)
    return {"departments": [department_json(d) for d in state.school.descendants(dept_id)]}


def user_list(state, request) -> dict:
    # WeCom doc 92338: school/user/list; students of this one department, not recursive.
    dept_id = _department_id(request, "department_id", required=True)
    _known(state, dept_id)
    students = state.school.students_by_dept.get(dept_id, [])
    return {"students": [student_json(s) for s in students]}


def user_get(state, request) -> dict:
    # WeCom doc 92337: school/user/get; userid is case-insensitive.
    userid = request.query.get("userid", "")
    if not userid:
        raise ApiError(41009, "missing userid")
    student = state.school.students.get(userid.lower())
    if student is not None:
        return {"user_type": 1, "student": student_json(student)}
    found = state.school.parents.get(userid.lower())
    if found is not None:
        parent, children = found
        return {"user_type": 2, "parent": _parent_record(parent, children, with_names=False)}
    raise ApiError(60111, f"userid not found: {userid}")


def list_parent(state, request) -> dict:
    # WeCom doc 96741: school/user/list_parent; parents of this one department's students.
    dept_id = _department_id(request, "department_id", required=True)
    _known(state, dept_id)
    seen: set[str] = set()
    parents = []
    for student in state.school.students_by_dept.get(dept_id, []):
        for parent in student.parents:
            key = parent.userid.lower()
            if key in seen:
                continue
            seen.add(key)
            _, children = state.school.parents[key]
            parents.append(_parent_record(parent, children, with_names=True))
    return {"parents": parents}
