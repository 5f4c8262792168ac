"""请假 on the student's page: the form and the list for whoever ``scope`` lets correct the
student (staff, the student's 班主任), the list alone for anyone else who reads the student, and
the two POSTs (mark, revoke). Marking or revoking out of scope is a 404, as any page out of scope.
The writes are ``school_live.corrections`` services; who did it reaches the history through
simple-history's middleware and ``by``."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import F
from django.shortcuts import get_object_or_404, redirect
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from school_live.attendance import scope, state
from school_live.corrections.history import student_excuses, student_nickname_claims
from school_live.corrections.services import excuse_create, excuse_revoke
from school_live.school.models import Department, Living, Student

from .forms import ExcuseForm, RevokeForm

# The lessons offered in the form: the student's latest (older ones: give the date).
FORM_LIVINGS = 30


def excusable_livings(*, user, student: Student) -> list[Living]:
    """The student's latest lessons that have started, among those the user sees."""
    livings = Living.objects.filter(
        state.started_q(),
        classes__in=Department.objects.filter(
            enrollments__student=student, type=Department.Type.CLASS
        ),
        pk__in=scope.visible_livings(user).values("pk"),
    ).distinct()
    return list(livings.order_by(F("living_start").desc(), "-pk")[:FORM_LIVINGS])


def student_corrections(*, user, student: Student, livings: list[Living]) -> dict:
    """The student page's context: ``can_correct``, ``excuse_form`` (None for a user who may
    not correct the student), ``excuses`` and ``nickname_claims`` (the nickname book's claims
    for the student, with their history). ``livings``: the student's lessons the page has
    already read, newest first, offered in the form (no query of their own)."""
    can_correct = scope.correctable_students(user).filter(pk=student.pk).exists()
    form = None
    if can_correct:
        started = [living for living in livings if living.living_start is not None]
        form = ExcuseForm(student=student, livings=started[:FORM_LIVINGS])
    return {
        "can_correct": can_correct,
        "excuse_form": form,
        "excuses": student_excuses(student=student),
        "nickname_claims": student_nickname_claims(student=student),
    }


def _student_page(student):
    return redirect("dashboard:student", student.student_userid)


@require_POST
@login_required
def excuse_add(request, student_userid):
    student = scope.correctable_student_or_404(request.user, student_userid)
    form = ExcuseForm(
        request.POST,
        student=student,
        livings=excusable_livings(user=request.user, student=student),
    )
    if not form.is_valid():
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, error)
        return _student_page(student)
    excuse = excuse_create(request=form.cleaned_data["request"], by=request.user)
    messages.success(
        request,
        _("%(name)s is excused (%(period)s).")
        % {"name": student.name or student.student_userid, "period": excuse.period_label},
    )
    return _student_page(student)


@require_POST
@login_required
def excuse_revoke_view(request, student_userid, excuse_id):
    student = scope.correctable_student_or_404(request.user, student_userid)
    excuse = get_object_or_404(student.excuses, pk=excuse_id)
    form = RevokeForm(request.POST)
    why = form.cleaned_data["why"] if form.is_valid() else ""
    excuse_revoke(excuse=excuse, by=request.user, why=why)
    messages.success(request, _("The excuse is revoked; it stays on record."))
    return _student_page(student)
