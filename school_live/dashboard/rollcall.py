"""The roll call of a live lesson on its page and its classes' pages, and the JSON that
static/js/rollcall.js polls to keep it current without a reload. Scoped like every page: a
teacher reads only the classes ``scope.living_classes`` gives them, anything else is a 404."""

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import Http404, JsonResponse
from django.template import TemplateDoesNotExist
from django.template.loader import get_template
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from school_live.attendance import scope, state
from school_live.attendance.namesakes import mark_brackets, namesake_marks
from school_live.attendance.queries.rollcall import (
    Group,
    RollCall,
    class_rollcall_students,
    living_rollcall,
)
from school_live.lessons.pages import state_payload
from school_live.school.models import Department, Living

# Built by the reminders feature; the roll call leaves room for it and shows it once it exists.
REMINDER_BUTTON = "reminders/_button.html"


def refresh_seconds() -> int:
    return int(getattr(settings, "ROLLCALL_REFRESH_SECONDS", 20))


def _selected(rollcall: RollCall, wanted: str | None) -> Department | None:
    for entry in rollcall.classes:
        if wanted and str(entry.department.wecom_id) == wanted:
            return entry.department
    if wanted:
        raise Http404(_("This class is not one of the live lesson's."))
    return rollcall.classes[0].department if rollcall.classes else None


def _synced_age(living: Living, now) -> int | None:
    if living.stats_synced_at is None:
        return None
    return max(0, int((now - living.stats_synced_at).total_seconds()))


def _reminder_button() -> str | None:
    try:
        get_template(REMINDER_BUTTON)
    except TemplateDoesNotExist:
        return None
    return REMINDER_BUTTON


def rollcall_context(living: Living, classes, wanted: str | None) -> dict:
    """What templates/dashboard/includes/rollcall.html needs: the counts of ``classes`` (already
    scoped), the students of the selected one (``wanted``, a class id from the query string, or
    the first), grouped."""
    rollcall = living_rollcall(living=living, classes=classes)
    selected = _selected(rollcall, wanted)
    groups = {group: [] for group in Group.ORDER}
    if selected is not None:
        marks = namesake_marks(departments=[selected])
        for student in class_rollcall_students(living=living, department=selected):
            student.namesake = marks.get(student.student_userid, "")
            groups[student.group].append(student)
    url = reverse("dashboard:rollcall", args=[living.livingid])
    if selected is not None:
        url += f"?class={selected.wecom_id}"
    return {
        "rollcall": rollcall,
        "rollcall_totals": rollcall.totals,
        "rollcall_class": selected,
        "rollcall_counts": next(
            (entry.counts for entry in rollcall.classes if entry.department == selected),
            None,
        ),
        "rollcall_groups": [(group, groups[group]) for group in Group.ORDER],
        "rollcall_url": url,
        "rollcall_refresh": refresh_seconds(),
        "rollcall_age": _synced_age(living, rollcall.now),
        "reminder_button": _reminder_button(),
    }


def _student_json(student, marks: dict[str, str]) -> dict:
    if student.own_account and student.parent_account:
        account = "both"
    elif student.own_account:
        account = "own"
    elif student.parent_account:
        account = "parent"
    else:
        account = ""
    first = student.first_enter
    return {
        "userid": student.student_userid,
        "name": student.name,
        # What tells the student apart from a classmate of the same name, in brackets, or "".
        "mark": mark_brackets(marks[student.student_userid])
        if student.student_userid in marks
        else "",
        "url": reverse("dashboard:student", args=[student.student_userid]),
        "group": student.group,
        "first_enter": timezone.localtime(first).strftime("%H:%M") if first else "",
        "account": account,
        # Plain text for textContent: the nickname is WeCom's, untrusted.
        "via": (
            _("via WeChat 访客 %(nickname)s") % {"nickname": student.visitor_nickname}
            if student.visitor_nickname and not account
            else ""
        ),
    }


@require_GET
@login_required
@never_cache
def living_rollcall_json(request, livingid):
    """``{state…, live, synced_age, minutes_since_start, totals, classes, class}``: the counts of
    every class the viewer reads and the students of ``?class=`` (default: the first)."""
    living = scope.living_or_404(request.user, livingid)
    status = state.living_status(living)
    payload = {
        **state_payload(living),
        "live": status.live,
        # The header's WeCom numbers, refreshed with the roll call.
        "viewer_num": living.viewer_num,
        "comment_num": living.comment_num,
    }
    rollcall = living_rollcall(living=living, classes=scope.living_classes(request.user, living))
    selected = _selected(rollcall, request.GET.get("class"))
    synced = living.stats_synced_at
    payload.update(
        {
            "synced_age": _synced_age(living, rollcall.now),
            "synced_at_label": timezone.localtime(synced).strftime("%H:%M") if synced else "",
            "minutes_since_start": rollcall.minutes_since_start,
            "totals": rollcall.totals.as_dict(),
            "classes": [
                {"id": entry.department.wecom_id, "counts": entry.counts.as_dict()}
                for entry in rollcall.classes
            ],
            "class": None,
        }
    )
    if selected is not None:
        students = class_rollcall_students(living=living, department=selected)
        marks = namesake_marks(departments=[selected])
        payload["class"] = {
            "id": selected.wecom_id,
            "students": [_student_json(student, marks) for student in students],
        }
    return JsonResponse(payload)
