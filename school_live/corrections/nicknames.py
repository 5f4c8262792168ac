"""Writing the nickname book: claim a WeChat visitor's nickname for a student of a class, and
remove a claim.

Every write goes through ``nickname_claim_create`` or ``nickname_claim_revoke``: each saves one
history row (django-simple-history) with who did it and why. Nothing is deleted; a removed claim
stays on record, revoked, and the verdicts it changed go back to what WeCom's rows alone say.
"""

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from school_live.school.changes import attendance_changed
from school_live.school.models import Department, Enrollment, Student

from .models import NicknameClaim
from .services import history_note, record_revoke

# WeChat caps nicknames far below this: a longer one is no nickname WeCom sent.
NICKNAME_MAX = 255


class NicknameRefused(ValueError):
    """A claim that cannot be made as asked; the message says why and what to do."""


def nickname_claim_create(
    *, department: Department, nickname: str, student: Student, by=None, why: str = ""
) -> NicknameClaim:
    """Claim ``nickname`` (exactly as WeCom sent it) for ``student`` in ``department``.

    Refused when the student is not in the class, the nickname is empty or too long, or the
    nickname already has an active claim in the class (for this student or another one)."""
    if not nickname.strip() or len(nickname) > NICKNAME_MAX:
        raise NicknameRefused(_("Choose a WeChat visitor's nickname from the lesson's list."))
    if not Enrollment.objects.filter(
        department=department, student=student, student__is_active=True
    ).exists():
        raise NicknameRefused(_("Choose a student of this class."))
    claim = NicknameClaim(
        school_id=department.school_id,
        department=department,
        nickname=nickname,
        student=student,
        reason=why.strip()[:200],
        created_by=by,
    )
    history_note(claim, by=by, why=why or _("nickname claimed"))
    try:
        with transaction.atomic():
            _refuse_if_claimed(department=department, nickname=nickname)
            claim.save()
    except IntegrityError:
        # Another teacher claimed it between the check and the save.
        _refuse_if_claimed(department=department, nickname=nickname)
        raise
    attendance_changed([department.pk])
    return claim


def _refuse_if_claimed(*, department: Department, nickname: str) -> None:
    current = (
        NicknameClaim.objects.active()
        .filter(department=department, nickname=nickname)
        .select_related("student")
        .first()
    )
    if current is not None:
        raise NicknameRefused(
            _(
                "This nickname is already claimed for %(name)s in this class. Remove that claim "
                "first if it is wrong."
            )
            % {"name": current.student.name or current.student.student_userid}
        )


def nickname_claim_revoke(*, claim: NicknameClaim, by=None, why: str = "") -> NicknameClaim:
    """Remove a claim: it stays on record, revoked. Removing twice changes nothing."""
    return record_revoke(claim, by=by, why=why or _("nickname claim removed"))
