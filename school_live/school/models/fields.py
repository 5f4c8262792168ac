"""Field shapes several models share, declared once."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


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


def student_userid_field(related_name: str) -> models.ForeignKey:
    """A watch or unwatch row's student as WeCom sent the userid: joined to the roster, never
    constrained by it, so a row for a student the roster does not know yet is kept."""
    from .org import Student

    return models.ForeignKey(
        Student,
        to_field="student_userid",
        db_column="student_userid",
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name=related_name,
        verbose_name=_("student userid"),
    )
