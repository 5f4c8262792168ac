"""Which school: the one place that answers it while the entry points serve the default school.

Every row a school owns names its school, and every write sets it (issue 22). The entry points
(Celery tasks, views, commands) do not know theirs yet: they take ``default_school()`` — or, for a
signed-in teacher, ``user_school()`` — and pass it down explicitly (never through a thread-local,
which a Celery worker carries from one task into the next). Scoping each request, task and
command by its own school is the next step, and changes these functions and their callers only.
"""

from django.apps import apps
from django.forms.models import BaseInlineFormSet
from django.utils.translation import gettext_lazy as _

from school_live.school.default_school import default_school_seed
from school_live.school.models import School


def default_school() -> School:
    """The school defined by the ``WECOM_*`` settings (``from_environment``): every migrate makes
    it (``default_school_seed``), and so does this, should a database not have it yet."""
    school = School.objects.filter(from_environment=True).first()
    if school is None:
        school, _written = default_school_seed(apps)
    return school


def user_school(user) -> School:
    """The school a signed-in person acts in: a teacher's own school; anyone else's is the
    default school for now."""
    teacher = getattr(user, "teacher", None) if user is not None else None
    if teacher is not None and teacher.school_id is not None:
        return teacher.school
    return default_school()


def of_user_school(user, field: str = "school") -> dict:
    """Filter arguments for the rows of ``user_school(user)`` (``field``: the lookup of the
    school), with no query of their own: a page's query budget has no room for one."""
    teacher = getattr(user, "teacher", None) if user is not None else None
    if teacher is not None and teacher.school_id is not None:
        return {f"{field}_id": teacher.school_id}
    return {f"{field}__from_environment": True}


# The admin: a row added there belongs to the school of what it is about ----------------------


class SchoolOwnedAdmin:
    """For a ModelAdmin of a school-owned model: the form shows the row's school and cannot
    change it; a new row is of the admin's own school (``user_school``), and what it is about
    (``school_from``: its class, student, teacher) must be of that school too. The school takes
    part in the form's checks, so a row that already exists in the school is refused with the
    model's words, not a database error."""

    school_from: tuple[str, ...] = ()

    def get_form(self, request, obj=None, **kwargs):
        form = super().get_form(request, obj, **kwargs)
        if "school" not in form.base_fields:
            return form
        school_from = self.school_from

        class SchoolOwnedForm(form):
            def clean(self):
                cleaned = super().clean()
                school = cleaned.get("school")
                for name in school_from:
                    related = cleaned.get(name)
                    if school and related and related.school_id != school.pk:
                        self.add_error(
                            name, _("Choose one of this school's classes, students or teachers.")
                        )
                return cleaned

        # The subclass has fields of its own: the school's is set there.
        field = SchoolOwnedForm.base_fields["school"]
        field.disabled = True
        field.initial = obj.school_id if obj is not None else user_school(request.user).pk
        return SchoolOwnedForm


class SchoolOwnedInlineFormSet(BaseInlineFormSet):
    """An inline's new rows belong to the school of the row they are shown under."""

    def save_new(self, form, commit=True):
        form.instance.school_id = self.instance.school_id
        return super().save_new(form, commit=commit)


class SchoolOwnedInline:
    """For an inline of a school-owned model (``SchoolOwnedInlineFormSet``)."""

    formset = SchoolOwnedInlineFormSet

    def get_exclude(self, request, obj=None):
        return [*(super().get_exclude(request, obj) or ()), "school"]
