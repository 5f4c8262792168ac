"""The scheduling and edit forms. The rules themselves are ``lesson_plan_check``'s: the form only
turns the fields into a ``LessonPlan`` (times in Beijing time) and shows its problems."""

import datetime as dt

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from school_live.lessons.models import LessonSeries
from school_live.lessons.services import (
    MAX_MINUTES,
    MAX_REMIND_MINUTES,
    MAX_WEEKS,
    LessonPlan,
    lesson_plan_check,
    teacher_classes,
)
from school_live.school.models import Department, Teacher
from school_live.wecom import ids
from school_live.wecom.living_writes import THEME_MAX_CHARS

# A longer theme is refused with lesson_plan_check's words (how long, WeCom's limit); beyond
# this it is not a theme at all.
THEME_FIELD_MAX = 200


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, attrs=None):
        super().__init__(attrs=attrs, format="%Y-%m-%d")


class TimeInput(forms.TimeInput):
    input_type = "time"

    def __init__(self, attrs=None):
        super().__init__(attrs=attrs, format="%H:%M")


# The largest primary key of a BigAutoField: a larger number is no teacher (and the database
# driver would fail on it, a 500).
MAX_PK = 2**63 - 1


class TeacherChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        return f"{obj.name or obj.userid} ({obj.userid})"

    def to_python(self, value):
        if value not in self.empty_values:
            text = str(value).strip()
            if not (text.isascii() and text.isdigit() and 0 < int(text) <= MAX_PK):
                raise forms.ValidationError(
                    self.error_messages["invalid_choice"], code="invalid_choice"
                )
        return super().to_python(value)


class ClassChoiceField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj):
        return obj.name

    def _check_values(self, value):
        # A class is a WeCom department: an id that is not one is refused before any query.
        for pk in value:
            if ids.department_id(pk) is None:
                raise forms.ValidationError(
                    self.error_messages["invalid_pk_value"],
                    code="invalid_pk_value",
                    params={"pk": pk},
                )
        return super()._check_values(value)


def _theme_field():
    return forms.CharField(
        label=_("Theme"),
        max_length=THEME_FIELD_MAX,
        help_text=_("At most %(max)d characters (WeCom's limit).") % {"max": THEME_MAX_CHARS},
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )


def _type_field():
    return forms.TypedChoiceField(
        label=_("Type"),
        choices=LessonSeries.Type.choices,
        coerce=int,
        initial=LessonSeries.Type.BIG_CLASS,
        widget=forms.RadioSelect,
    )


class LessonTimesForm(forms.Form):
    """What scheduling and editing share: theme, start, length, type, reminder."""

    theme = _theme_field()
    date = forms.DateField(label=_("Date"), widget=DateInput)
    time = forms.TimeField(label=_("Start time (Beijing time)"), widget=TimeInput)
    minutes = forms.IntegerField(
        label=_("Duration (minutes)"), min_value=1, max_value=MAX_MINUTES, initial=45
    )
    living_type = _type_field()
    remind_minutes = forms.IntegerField(
        label=_("Remind the class (minutes before)"),
        min_value=0,
        max_value=MAX_REMIND_MINUTES,
        initial=15,
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # The browser stops at WeCom's limit; a longer theme sent anyway gets the plan's reason.
        self.fields["theme"].widget.attrs["maxlength"] = THEME_MAX_CHARS

    def start(self) -> dt.datetime | None:
        day, at = self.cleaned_data.get("date"), self.cleaned_data.get("time")
        if day is None or at is None:
            return None
        return dt.datetime.combine(
            day, at.replace(second=0, microsecond=0), tzinfo=timezone.get_default_timezone()
        )


class LessonScheduleForm(LessonTimesForm):
    """``teacher``: the anchor when a teacher schedules; staff choose one (``teachers``)."""

    teacher = TeacherChoiceField(label=_("Teacher (host)"), queryset=Teacher.objects.none())
    classes = ClassChoiceField(
        label=_("Classes"),
        queryset=Department.objects.none(),
        widget=forms.CheckboxSelectMultiple,
    )
    repeat = forms.BooleanField(label=_("Repeat every week"), required=False)
    weeks = forms.IntegerField(
        label=_("Number of weeks"), min_value=1, max_value=MAX_WEEKS, initial=2, required=False
    )

    field_order = ["teacher", "theme", "date", "time", "minutes", "living_type", "remind_minutes"]

    def __init__(self, *args, teacher=None, teachers=None, classes=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.anchor = teacher
        if teacher is not None:
            del self.fields["teacher"]
        else:
            self.fields["teacher"].queryset = teachers
        self.fields["classes"].queryset = classes

    def clean(self):
        cleaned = super().clean()
        teacher = self.anchor or cleaned.get("teacher")
        start = self.start()
        needed = ("theme", "minutes", "living_type", "remind_minutes", "classes")
        if teacher is None or start is None or any(name not in cleaned for name in needed):
            return cleaned
        weeks = (cleaned.get("weeks") or 2) if cleaned.get("repeat") else 1
        self.plan = LessonPlan(
            teacher=teacher,
            classes=tuple(cleaned["classes"]),
            start=start,
            minutes=cleaned["minutes"],
            theme=cleaned["theme"],
            living_type=cleaned["living_type"],
            remind_minutes=cleaned["remind_minutes"],
            weeks=weeks,
        )
        for problem in lesson_plan_check(self.plan):
            self.add_error(None, problem)
        return cleaned


class LessonEditForm(LessonTimesForm):
    def clean(self):
        cleaned = super().clean()
        start = self.start()
        theme = (cleaned.get("theme") or "").strip()
        if "theme" in cleaned and len(theme) > THEME_MAX_CHARS:
            self.add_error(
                "theme",
                _("The theme has %(n)d characters; WeCom allows at most %(max)d.")
                % {"n": len(theme), "max": THEME_MAX_CHARS},
            )
        if start is not None and start <= timezone.now():
            self.add_error(None, _("The start must be in the future."))
        return cleaned


def edit_initial(living) -> dict:
    start = (
        timezone.localtime(living.living_start, timezone.get_default_timezone())
        if living.living_start
        else None
    )
    occurrence = getattr(living, "occurrence", None)
    series = occurrence.series if occurrence is not None else None
    return {
        "theme": living.theme,
        "date": start.date() if start else None,
        "time": start.time() if start else None,
        "minutes": living.living_duration // 60 or 45,
        "living_type": series.living_type if series else LessonSeries.Type.BIG_CLASS,
        "remind_minutes": series.remind_minutes if series else 0,
    }


def schedule_classes(*, teacher, staff: bool):
    """The classes the form offers: the teacher's own; every active class for staff."""
    if teacher is not None and not staff:
        return teacher_classes(teacher).order_by("-order", "pk")
    return Department.objects.filter(type=Department.Type.CLASS, is_active=True).order_by(
        "-order", "pk"
    )
