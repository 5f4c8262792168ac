"""The nickname book on a lesson's page: which WeChat visitor is the family of which student.

A teacher of the class (班主任 or 任课老师, ``scope.nickname_class_or_404``) or an admin claims a
visitor's nickname for a student of the class, or removes a claim; from then on that nickname's
visits to the class's lessons count for the student (``attendance.claimed``). Out of scope is a
404. The writes are ``school_live.corrections.nicknames`` services; who did it reaches the history
through ``by`` (and simple-history's middleware)."""

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import OuterRef, Subquery, Value
from django.db.models.functions import Coalesce, NullIf
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from school_live.attendance import scope
from school_live.attendance.namesakes import namesake_marks, student_label
from school_live.attendance.queries.living import active_roster
from school_live.corrections.models import NicknameClaim
from school_live.corrections.nicknames import (
    NicknameRefused,
    nickname_claim_create,
    nickname_claim_revoke,
)
from school_live.school.models import Department, Living, VisitorWatch


class NicknameClaimForm(forms.Form):
    """A nickname among the lesson's visitors (exactly as WeCom sent it: a choice, never
    stripped) and a student of the class."""

    nickname = forms.ChoiceField(label=gettext_lazy("WeChat visitor"))
    student = forms.ModelChoiceField(
        label=gettext_lazy("is the family of"),
        queryset=None,
        to_field_name="student_userid",
        empty_label=gettext_lazy("— choose a student —"),
    )
    why = forms.CharField(label=gettext_lazy("Why (optional)"), required=False, max_length=100)

    def __init__(
        self,
        *args,
        nicknames: list[str],
        department: Department,
        marks: dict[str, str] | None = None,
        **kwargs,
    ):
        """``marks``: the class's ``namesake_marks``, when the caller has read them."""
        super().__init__(*args, **kwargs)
        self.fields["nickname"].choices = [(name, name) for name in nicknames]
        self.fields["student"].queryset = active_roster(department).order_by(
            "name", "student_userid"
        )
        if marks is None:
            marks = namesake_marks(departments=[department])
        # Two students of the same name: the mark tells the teacher which child to pick.
        self.fields["student"].label_from_instance = lambda s: student_label(
            s.name or s.student_userid, marks.get(s.student_userid, "")
        )


def visitor_nicknames(living: Living) -> list[str]:
    """The distinct nicknames among the lesson's visitors, in sort order."""
    return list(
        VisitorWatch.objects.filter(living=living)
        .exclude(nickname="")
        .order_by("nickname")
        .values_list("nickname", flat=True)
        .distinct()
    )


def visitors_with_claims(living: Living, department: Department | None):
    """The lesson's visitor rows, each with ``claimed_for``: the student of ``department`` its
    nickname is claimed for (their name, else userid; None without a claim or a class)."""
    visitors = VisitorWatch.objects.filter(living=living).order_by("position")
    if department is None:
        return visitors
    claims = NicknameClaim.objects.active().filter(
        department=department, nickname=OuterRef("nickname")
    )
    label = Coalesce(NullIf("student__name", Value("")), "student__student_userid")
    return visitors.annotate(claimed_for=Subquery(claims.values(label=label).values("label")[:1]))


def nickname_book(*, living: Living, department: Department) -> dict:
    """The living page's context for a class the user may claim in: the form (only nicknames
    not yet claimed in the class are offered) and the class's active claims."""
    claims = list(
        NicknameClaim.objects.active()
        .filter(department=department)
        .select_related("student")
        .order_by("nickname", "pk")
    )
    claimed = {claim.nickname for claim in claims}
    nicknames = [name for name in visitor_nicknames(living) if name not in claimed]
    marks = namesake_marks(departments=[department])
    for claim in claims:
        claim.student.namesake = marks.get(claim.student.student_userid, "")
    return {
        "department": department,
        "claims": claims,
        "form": NicknameClaimForm(nicknames=nicknames, department=department, marks=marks)
        if nicknames
        else None,
    }


def _back(living: Living, department: Department):
    url = reverse("dashboard:living", args=[living.livingid])
    return redirect(f"{url}?class={department.wecom_id}#visitors-title")


@require_POST
@login_required
def nickname_claim_add(request, livingid, class_id):
    living = scope.living_or_404(request.user, livingid)
    department = scope.nickname_class_or_404(request.user, living, class_id)
    form = NicknameClaimForm(
        request.POST, nicknames=visitor_nicknames(living), department=department
    )
    if not form.is_valid():
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, error)
        return _back(living, department)
    student = form.cleaned_data["student"]
    try:
        claim = nickname_claim_create(
            department=department,
            nickname=form.cleaned_data["nickname"],
            student=student,
            by=request.user,
            why=form.cleaned_data["why"],
        )
    except NicknameRefused as refused:
        messages.error(request, str(refused))
        return _back(living, department)
    messages.success(
        request,
        _("The WeChat visitor “%(nickname)s” now counts for %(name)s in %(class)s.")
        % {
            "nickname": claim.nickname,
            "name": student_label(
                student.name or student.student_userid,
                namesake_marks(departments=[department]).get(student.student_userid, ""),
            ),
            "class": department.name,
        },
    )
    return _back(living, department)


@require_POST
@login_required
def nickname_claim_remove(request, livingid, class_id, claim_id):
    living = scope.living_or_404(request.user, livingid)
    department = scope.nickname_class_or_404(request.user, living, class_id)
    claim = get_object_or_404(NicknameClaim, pk=claim_id, department=department)
    why = request.POST.get("why", "").strip()[:100]
    nickname_claim_revoke(claim=claim, by=request.user, why=why)
    messages.success(
        request,
        _(
            "The WeChat visitor “%(nickname)s” no longer counts for anyone; the claim stays on record."
        )
        % {"nickname": claim.nickname},
    )
    return _back(living, department)
