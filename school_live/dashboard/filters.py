"""Filters for the class table: by verdict, by flag and by comment."""

import django_filters
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from school_live.attendance.rules import Flag, Verdict
from school_live.school.models import Student

NO_FLAG = "none"
FLAG_CHOICES = [
    (Flag.LATE.value, Flag.LATE.label),
    (Flag.LEFT_EARLY.value, Flag.LEFT_EARLY.label),
    (Flag.REPLAY_ONLY.value, Flag.REPLAY_ONLY.label),
    (NO_FLAG, _("No flag")),
]
COMMENT_CHOICES = [("yes", _("Commented")), ("no", _("Did not comment"))]


class StudentAttendanceFilter(django_filters.FilterSet):
    """Works on ``queries.class_attendance`` rows: every field here is one of its annotations."""

    verdict = django_filters.ChoiceFilter(
        label=_("Verdict"),
        choices=Verdict.choices,
        empty_label=_("All verdicts"),
    )
    flag = django_filters.ChoiceFilter(
        label=_("Flag"),
        choices=FLAG_CHOICES,
        empty_label=_("Any flag"),
        method="filter_flag",
    )
    comment = django_filters.ChoiceFilter(
        label=_("Comment"),
        choices=COMMENT_CHOICES,
        empty_label=_("With or without"),
        method="filter_comment",
    )

    class Meta:
        model = Student
        fields: list[str] = []

    def filter_flag(self, queryset, name, value):
        if value == NO_FLAG:
            return queryset.filter(is_late=False, left_early=False, replay_only=False)
        if value in dict(FLAG_CHOICES):
            return queryset.filter(Q(**{value: True}))
        return queryset

    def filter_comment(self, queryset, name, value):
        if value in ("yes", "no"):
            return queryset.filter(commented=(value == "yes"))
        return queryset
