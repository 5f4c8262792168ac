"""The class page's period picker (one living, the default the latest, or a date range) and the
student page's 请假 form (one lesson or a date range, and a reason)."""

import datetime as dt

from django import forms
from django.core.validators import MaxValueValidator, MinValueValidator
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from school_live.attendance.state import LivingState, living_state
from school_live.corrections.models import Excuse
from school_live.corrections.services import ExcuseRefused, ExcuseRequest, excuse_check

# The dates a period may span. WeCom's 上课直播 is younger than the first and the school's
# records will not outlive the last; beyond them a day's bounds overflow Python's dates.
FIRST_DAY = dt.date(2000, 1, 1)
LAST_DAY = dt.date(2099, 12, 31)


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, attrs=None):
        bounds = {"min": FIRST_DAY.isoformat(), "max": LAST_DAY.isoformat()}
        super().__init__(attrs={**bounds, **(attrs or {})}, format="%Y-%m-%d")


class PeriodDateField(forms.DateField):
    widget = DateInput

    def __init__(self, **kwargs):
        message = _("Pick a date from %(first)s to %(last)s.") % {
            "first": FIRST_DAY.isoformat(),
            "last": LAST_DAY.isoformat(),
        }
        super().__init__(
            required=False,
            validators=[
                MinValueValidator(FIRST_DAY, message=message),
                MaxValueValidator(LAST_DAY, message=message),
            ],
            **kwargs,
        )


class PeriodForm(forms.Form):
    living = forms.CharField(label=_("Live lesson"), required=False, widget=forms.Select)
    start = PeriodDateField(label=_("From (date)"))
    end = PeriodDateField(label=_("To (date)"))

    def __init__(self, *args, livings=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["living"].widget.choices = [
            (living.livingid, living_choice_label(living)) for living in livings
        ]

    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("start"), cleaned.get("end")
        if start and end and start > end:
            self.add_error("end", _("The start date must not be after the end date."))
        return cleaned

    def full_clean(self):
        super().full_clean()
        for name in self.errors.keys() & self.fields.keys():
            self.fields[name].widget.attrs.update(
                {"aria-invalid": "true", "aria-describedby": f"{name}-errors"}
            )

    @property
    def has_period_errors(self) -> bool:
        """Dates were given but do not make a period: the page says so instead of showing a
        lesson the teacher did not ask for."""
        return self.is_bound and not self.is_valid() and bool(self.errors.keys() - {"living"})

    @property
    def is_range(self) -> bool:
        return (
            self.is_bound
            and self.is_valid()
            and bool(self.cleaned_data.get("start") or self.cleaned_data.get("end"))
        )


def living_choice_label(living) -> str:
    """ "05-12 08:00 · 数学" — the start in Beijing time, then the theme (escaped when rendered),
    then "未开始" or "直播中" for a lesson that has not started or is under way."""
    when = (
        timezone.localtime(living.living_start).strftime("%Y-%m-%d %H:%M")
        if living.living_start
        else "—"
    )
    label = f"{when} · {living.theme or living.livingid}"
    current = living_state(living)
    if current != LivingState.ENDED:
        label = f"{label} · {current.label}"
    return label


def day_bounds(
    start: dt.date | None, end: dt.date | None
) -> tuple[dt.datetime | None, dt.datetime | None]:
    """Whole days in Beijing time as aware datetimes: [start 00:00, the day after end 00:00)."""
    zone = timezone.get_default_timezone()
    since = dt.datetime.combine(start, dt.time.min, tzinfo=zone) if start else None
    until = (
        dt.datetime.combine(end + dt.timedelta(days=1), dt.time.min, tzinfo=zone) if end else None
    )
    return since, until


class ExcuseForm(forms.Form):
    living = forms.ChoiceField(label=_("One live lesson"), required=False)
    start = forms.DateField(label=_("Or from (date)"), required=False, widget=DateInput)
    end = forms.DateField(
        label=_("To (date, inclusive)"),
        required=False,
        widget=DateInput,
        help_text=_("Leave empty for one day."),
    )
    kind = forms.ChoiceField(label=_("Reason"), choices=Excuse.Kind.choices)
    reason = forms.CharField(
        label=_("Details"),
        required=False,
        max_length=Excuse._meta.get_field("reason").max_length,
    )

    def __init__(self, *args, student, livings=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.student = student
        self.livings = {living.livingid: living for living in livings}
        self.fields["living"].choices = [("", "—")] + [
            (living.livingid, living_choice_label(living)) for living in livings
        ]

    def clean(self):
        cleaned = super().clean()
        start = cleaned.get("start")
        end = cleaned.get("end") or start
        living = self.livings.get(cleaned.get("living") or "")
        request = ExcuseRequest(
            student=self.student,
            kind=cleaned.get("kind") or "",
            reason=cleaned.get("reason") or "",
            start=start if living is None else None,
            end=end if living is None else None,
            living=living,
        )
        if living is not None and start:
            raise forms.ValidationError(_("Choose one live lesson or a date range, not both."))
        try:
            excuse_check(request)
        except ExcuseRefused as refused:
            raise forms.ValidationError(str(refused)) from None
        cleaned["request"] = request
        return cleaned


class RevokeForm(forms.Form):
    why = forms.CharField(label=_("Why (optional)"), required=False, max_length=100)
