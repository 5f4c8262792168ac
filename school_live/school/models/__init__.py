"""The school as WeCom describes it, keyed by WeCom's natural keys within each school.

Every row belongs to a ``School`` (the tenant): a WeCom id is unique only inside its corp, so each
key is (school, WeCom id). Departments have their own primary key and keep WeCom's department id
as ``wecom_id``: class ids from WeCom (``partyids``, ``living_range.partyids``) are looked up by it
within the school. Watch rows keep ``student_userid`` as WeCom sent it and join to the roster by
(school, student_userid), without a database constraint: a row for a student the roster does not
know yet is stored, not dropped.

The models are split by topic: ``org`` (departments, people and their links), ``livings`` (livings
and what WeCom says about who watched) and ``runs`` (attendance policy and sync runs).
"""

from .livings import Living, StudentUnwatch, StudentWatch, VisitorWatch
from .org import (
    ClassAssignment,
    Department,
    Enrollment,
    Guardianship,
    Parent,
    Student,
    Teacher,
)
from .runs import AttendancePolicy, SyncRun
from .tenant import School, SchoolMembership, is_operator, is_school_admin, school_of
from .times import from_unix, to_unix

__all__ = [
    "AttendancePolicy",
    "ClassAssignment",
    "Department",
    "Enrollment",
    "Guardianship",
    "Living",
    "Parent",
    "School",
    "SchoolMembership",
    "Student",
    "StudentUnwatch",
    "StudentWatch",
    "SyncRun",
    "Teacher",
    "VisitorWatch",
    "from_unix",
    "is_operator",
    "is_school_admin",
    "school_of",
    "to_unix",
]
