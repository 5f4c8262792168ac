"""Which school a check is for, who may see it and who is told of it.

The default school is the one the WECOM_* settings define (``from_environment``); it is made
here when a deployment has not made it yet, as the migrate step would: named 学校, with the
settings' corp id and agent id for display (its secret is never stored).

Who sees a school's check: operators (superusers) every school; a school admin (staff) the
schools they administer: with school memberships, their own; without (a deployment of one
school), every school. The same people are told, by email, when a check's result changes.
"""

from django.apps import apps
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ImproperlyConfigured
from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet

from school_live.school.models import School

DEFAULT_NAME = "学校"
SCHOOL_ADMIN_ROLE = "school_admin"


def default_school() -> School:
    """The school the WECOM_* settings define, made when missing."""
    school = School.objects.filter(from_environment=True).first()
    if school is not None:
        return school
    try:
        with transaction.atomic():
            return School.objects.create(
                name=DEFAULT_NAME,
                from_environment=True,
                corp_id=settings.WECOM_CORP_ID or "",
                agent_id=settings.WECOM_AGENT_ID,
            )
    except IntegrityError:  # made by another process meanwhile, or the corp id is taken
        school = School.objects.filter(from_environment=True).first()
        if school is None:
            raise ImproperlyConfigured(
                f"WECOM_CORP_ID is {settings.WECOM_CORP_ID!r}, the corp id of a school added in "
                "the admin: one corp is one school. Unset the WECOM_* variables or give that "
                "school another corp id."
            ) from None
        return school


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


def _memberships() -> bool:
    """Whether users belong to schools (school memberships are installed)."""
    try:
        apps.get_model("school", "SchoolMembership")
    except LookupError:
        return False
    return True


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
    if user.is_superuser or not _memberships():
        return School.objects.all()
    return School.objects.filter(
        memberships__user=user, memberships__role=SCHOOL_ADMIN_ROLE
    ).distinct()


def admins_to_tell(school: School) -> QuerySet:
    """Who hears of a change in ``school``'s check: its admins and the operators, with email."""
    users = get_user_model().objects.filter(is_active=True).exclude(email="")
    if not _memberships():
        return users.filter(Q(is_staff=True) | Q(is_superuser=True))
    return users.filter(
        Q(is_superuser=True)
        | Q(
            is_staff=True,
            school_membership__school=school,
            school_membership__role=SCHOOL_ADMIN_ROLE,
        )
    )
