"""家校通讯录 reads (api.md: school/department/list, school/user/list, list_parent, get): the
school's classes, their students and parents.

A mixin of ``WeComClient``: the same session, token, budget and errcode handling (``_call``).
"""

from school_live.wecom.reader import Reader
from school_live.wecom.records import DepartmentRecord, ParentRecord, SchoolUser, StudentRecord


class SchoolContacts:
    """school/department/list, school/user/list, school/user/list_parent, school/user/get."""

    # WeCom doc 92343: school/department/list
    def list_departments(self, department_id: int | None = None) -> list[DepartmentRecord]:
        """That department and everything under it (the whole school when None), flat."""
        path = "school/department/list"
        params = {} if department_id is None else {"id": department_id}
        reader = Reader.root(path, self._call("GET", path, params=params))
        return [DepartmentRecord.from_wecom(d) for d in reader.objs("departments")]

    # WeCom doc 92338: school/user/list
    def list_students(self, department_id: int) -> list[StudentRecord]:
        """Students directly in the department (not recursive)."""
        path = "school/user/list"
        reader = Reader.root(path, self._call("GET", path, params={"department_id": department_id}))
        return [StudentRecord.from_wecom(s) for s in reader.objs("students")]

    # WeCom doc 96741: school/user/list_parent
    def list_parents(self, department_id: int) -> list[ParentRecord]:
        path = "school/user/list_parent"
        reader = Reader.root(path, self._call("GET", path, params={"department_id": department_id}))
        return [ParentRecord.from_wecom(p) for p in reader.objs("parents")]

    # WeCom doc 92337: school/user/get
    def get_school_user(self, userid: str) -> SchoolUser:
        path = "school/user/get"
        reader = Reader.root(path, self._call("GET", path, params={"userid": userid}))
        return SchoolUser.from_wecom(reader)
