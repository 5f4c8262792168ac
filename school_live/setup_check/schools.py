"""Which school a check is for, who may see it and who is told of it.

The default school is the one the WECOM_* settings define (``from_environment``), made by
``default_school_seed`` when a deployment has not made it yet.

Who sees a school's check: operators (superusers) every school; a school admin (staff) their own
school (their membership). The same people are told, by email, when a check's result changes.
"""

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models import Q, QuerySet

from school_live.school.models import School, SchoolMembership
from school_live.school.tenancy import default_school

SCHOOL_ADMIN_ROLE = SchoolMembership.Role.SCHOOL_ADMIN


def school_for(corp_id: str | None) -> School:
    """The school with this corp id (``School.DoesNotExist`` when none); None: the default."""
    if not corp_id:
        return default_school()
    school = School.objects.filter(corp_id=corp_id).first()
    if school is None and corp_id == settings.WECOM_CORP_ID:
        return default_school()
    if school is None:
        raise School.DoesNotExist(corp_id)
    return school


def is_checker(user) -> bool:
    """A user who may see set-up checks at all: an active staff user or superuser."""
    return bool(
        user is not None
        and user.is_authenticated
        and user.is_active
        and (user.is_staff or user.is_superuser)
    )


def schools_visible(user) -> QuerySet:
    """The schools whose checks ``user`` sees (see the module docstring)."""
    if not is_checker(user):
        return School.objects.none()
    if user.is_superuser:
        return School.objects.all()
    return School.objects.filter(
        memberships__user=user, memberships__role=SCHOOL_ADMIN_ROLE
    ).distinct()


def admins_to_tell(school: School) -> QuerySet:
    """Who hears of a change in ``school``'s check: its admins and the operators, with email."""
    users = get_user_model().objects.filter(is_active=True).exclude(email="")
    return users.filter(
        Q(is_superuser=True)
        | Q(
            is_staff=True,
            school_membership__school=school,
            school_membership__role=SCHOOL_ADMIN_ROLE,
        )
    )
