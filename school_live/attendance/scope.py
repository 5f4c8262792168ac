"""Who may see what: the one place that decides. Every view, export and email goes through it.

- staff and superusers see every class, living and student;
- a teacher sees the active classes WeCom lists them for (班主任 or 任课老师, ``ClassAssignment``),
  the students enrolled in them, and the livings that cover those classes or that they host;
- anyone else (anonymous, a login without a Teacher, a teacher who left WeCom) sees nothing.

Out of scope is a 404, never a 403: a teacher must not learn that another class's page exists.

A WeCom id in a URL (a class's department id, a livingid, a userid) is looked up within the
user's school (``tenancy.of_user_school``): the same id names other rows in other schools.

The nickname book (which WeChat visitor is which student's family) is written by the teachers of
the class (班主任 and 任课老师 alike: any of them may recognise a parent's nickname) and by staff;
the host of a lesson who does not teach the class reads it but cannot claim in it.

Correcting a student's attendance (请假, ``school_live.corrections``) is narrower than reading it:
staff, and the 班主任 (head teacher) of an active class the student is in; a subject teacher
reads the student but cannot correct them, and a correction they try is a 404 as well.
"""

from django.db.models import Exists, OuterRef, Q, QuerySet
from django.http import Http404
from django.shortcuts import get_object_or_404

from school_live.school.models import (
    ClassAssignment,
    Department,
    Enrollment,
    Living,
    Student,
    Teacher,
)
from school_live.school.tenancy import of_user_school
from school_live.wecom import ids


def is_staff(user) -> bool:
    return bool(
        user is not None
        and user.is_authenticated
        and user.is_active
        and (user.is_staff or user.is_superuser)
    )


def teacher_for(user) -> Teacher | None:
    """The active Teacher behind a login, or None."""
    if user is None or not user.is_authenticated or not user.is_active:
        return None
    try:
        teacher = user.teacher
    except Teacher.DoesNotExist:
        return None
    return teacher if teacher.is_active else None


def _classes() -> QuerySet[Department]:
    return Department.objects.filter(type=Department.Type.CLASS)


def visible_classes(user) -> QuerySet[Department]:
    """Active classes the user may see."""
    if is_staff(user):
        return _classes().filter(is_active=True)
    teacher = teacher_for(user)
    if teacher is None:
        return Department.objects.none()
    assigned = ClassAssignment.objects.filter(teacher=teacher, department=OuterRef("pk"))
    return _classes().filter(Exists(assigned), is_active=True)


def visible_livings(user) -> QuerySet[Living]:
    """Livings covering one of the user's classes, or hosted by them."""
    if is_staff(user):
        return Living.objects.all()
    teacher = teacher_for(user)
    if teacher is None:
        return Living.objects.none()
    covers = Living.classes.through.objects.filter(
        living=OuterRef("pk"), department__in=visible_classes(user)
    )
    hosted = Q(school=teacher.school_id, anchor_userid=teacher.userid)
    return Living.objects.filter(Q(Exists(covers)) | hosted)


def visible_students(user) -> QuerySet[Student]:
    """Students enrolled in one of the user's classes (staff: every student)."""
    if is_staff(user):
        return Student.objects.all()
    if teacher_for(user) is None:
        return Student.objects.none()
    enrolled = Enrollment.objects.filter(
        student=OuterRef("pk"), department__in=visible_classes(user)
    )
    return Student.objects.filter(Exists(enrolled))


def class_links(living_ids) -> QuerySet:
    """Every (living, class) link among ``living_ids``: the classes each living covers, for no
    user in particular (the school's own reports)."""
    return Living.classes.through.objects.filter(
        living_id__in=living_ids, department__type=Department.Type.CLASS
    )


def living_class_links(user, living_ids) -> QuerySet:
    """The (living, class) links among ``living_ids`` whose class's attendance the user may read:
    every class of a living for staff and for the living's host (even classes they are not
    assigned to), the user's own classes among them for anyone else. The one statement of that
    rule; ``living_classes`` is it for one living."""
    links = class_links(living_ids)
    if is_staff(user):
        return links
    teacher = teacher_for(user)
    if teacher is None:
        return links.none()
    return links.filter(
        Q(department__in=visible_classes(user))
        | Q(living__school=teacher.school_id, living__anchor_userid=teacher.userid)
    )


def living_classes(user, living: Living) -> QuerySet[Department]:
    """The classes of a living whose attendance the user may read (``living_class_links``)."""
    return Department.objects.filter(
        pk__in=living_class_links(user, [living.pk]).values("department_id")
    )


def class_or_404(user, class_id) -> Department:
    # Staff may open a class that has left WeCom (old reports link to it); teachers may not.
    queryset = _classes() if is_staff(user) else visible_classes(user)
    return get_object_or_404(queryset, wecom_id=_department_id(class_id), **of_user_school(user))


def living_or_404(user, livingid: str) -> Living:
    return get_object_or_404(
        visible_livings(user), livingid=livingid_or_404(livingid), **of_user_school(user)
    )


def living_class_or_404(user, living: Living, class_id) -> Department:
    """One class of a living (by WeCom's id), for the living's attendance page (hosts
    included)."""
    return get_object_or_404(
        living_classes(user, living), school=living.school_id, wecom_id=_department_id(class_id)
    )


def nickname_class_or_404(user, living: Living, class_id) -> Department:
    """One class of a living whose nickname book the user may write: a class of the living they
    teach (any role), any class of it for staff."""
    return get_object_or_404(
        living_classes(user, living).filter(pk__in=visible_classes(user).values("pk")),
        school=living.school_id,
        wecom_id=_department_id(class_id),
    )


def _department_id(class_id) -> int:
    # A hand-edited URL or query string is a missing page, not a server error; so is a number
    # no department id can be (beyond 32 bits: a database error on some backends).
    department_id = ids.department_id(class_id)
    if department_id is None:
        raise Http404
    return department_id


def student_or_404(user, student_userid: str) -> Student:
    return get_object_or_404(
        visible_students(user),
        student_userid=userid_or_404(student_userid),
        **of_user_school(user),
    )


def livingid_or_404(value: str) -> str:
    """A livingid from a URL, a query string or a form: of WeCom's shape (wecom/ids.py), or a
    missing page. A stored lesson whose id has another shape is not opened either."""
    if not ids.livingid_valid(value):
        raise Http404
    return value


def userid_or_404(value: str) -> str:
    """A student's or teacher's userid from a URL or a query string: of WeCom's shape, or a
    missing page."""
    if not ids.userid_valid(value):
        raise Http404
    return value


def correctable_students(user) -> QuerySet[Student]:
    """Students whose attendance the user may correct: every student for staff, the students of
    the active classes a teacher is 班主任 of."""
    if is_staff(user):
        return Student.objects.all()
    teacher = teacher_for(user)
    if teacher is None:
        return Student.objects.none()
    headed = ClassAssignment.objects.filter(
        teacher=teacher, role=ClassAssignment.Role.HEAD, department__is_active=True
    ).values("department_id")
    enrolled = Enrollment.objects.filter(student=OuterRef("pk"), department__in=headed)
    return Student.objects.filter(Exists(enrolled))


def correctable_student_or_404(user, student_userid: str) -> Student:
    return get_object_or_404(
        correctable_students(user),
        student_userid=userid_or_404(student_userid),
        **of_user_school(user),
    )
