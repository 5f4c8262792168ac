"""Field shapes several models share, declared once."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


def school_field(*, db_index: bool = True) -> models.ForeignKey:
    """The school a row belongs to (the tenant, ``tenant.School``): every school-owned row has
    one, and every WeCom id is unique only within it. ``db_index=False`` where an index that
    starts with the school already serves (the big watch tables)."""
    return models.ForeignKey(
        "school.School",
        verbose_name=_("school"),
        on_delete=models.CASCADE,
        related_name="+",
        db_index=db_index,
    )


def requested_by_field() -> models.ForeignKey:
    """Who asked for it (a sync run, a lesson series); kept when that user is deleted."""
    return models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("requested by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )


def student_userid_field() -> models.CharField:
    """A watch or unwatch row's student userid, as WeCom sent it."""
    return models.CharField(_("student userid"), max_length=64, db_column="student_userid")


def student_of_row_field(related_name: str) -> models.ForeignObject:
    """A watch or unwatch row's student: the roster's student with the row's (school, userid),
    joined, never constrained, so a row for a student the roster does not know yet is kept. Both
    columns take part in every join: a userid is unique only within its school."""
    return models.ForeignObject(
        "school.Student",
        from_fields=["school", "student_userid"],
        to_fields=["school", "student_userid"],
        on_delete=models.DO_NOTHING,
        related_name=related_name,
        verbose_name=_("student"),
    )
