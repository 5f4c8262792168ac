"""The 提醒未进入的家长 pages: confirm (GET) and send (POST) for one class of a live lesson, and
one reminder's record.

Who may: the class's teachers, the lesson's host and admins, exactly as for the class's
attendance on the lesson's page (``scope.living_class_or_404``); anyone else gets a 404.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from school_live.attendance import scope
from school_live.attendance.namesakes import namesake_marks
from school_live.attendance.state import LivingState, living_state
from school_live.reminders.templatetags.reminders import reminded_namesakes_attach
from school_live.school.models import Department
from school_live.school.templatetags.people import reminded_parents_attach
from school_live.wecom.client import WeComClient
from school_live.wecom.error_texts import REMINDER, error_text
from school_live.wecom.errors import StoredWeComError, WeComError

from .models import Reminder
from .queries import reminder_effect, reminder_rows
from .services import (
    ReminderRefused,
    families_count,
    joined_text,
    reminder_preview,
    reminder_send,
    reminder_text,
)


def _problem(error: WeComError) -> str:
    return error_text(error, doing=REMINDER)


def sent_text(reached: int, refused: int) -> str:
    return _("Reminded %(reached)d families; %(refused)d invalid.") % {
        "reached": reached,
        "refused": refused,
    }


def _client_or_problem(school) -> tuple[WeComClient | None, str]:
    try:
        return WeComClient.for_school(school), ""
    except WeComError as error:
        return None, _problem(error)


@login_required
@require_http_methods(["GET", "POST"])
def reminder_confirm(request, livingid, class_id):
    living = scope.living_or_404(request.user, livingid)
    department = scope.living_class_or_404(request.user, living, class_id)
    here = reverse("reminders:confirm", args=[living.livingid, department.wecom_id])
    live = living_state(living) == LivingState.LIVE
    context = {"living": living, "department": department, "live": live}
    if not live:
        if request.method == "POST":
            messages.error(request, _("This live lesson is not live now: nothing was sent."))
            return redirect(here)
        return render(request, "reminders/confirm.html", context)
    client, problem = _client_or_problem(living.school)
    if client is None:
        messages.error(request, problem)
        return render(request, "reminders/confirm.html", context)
    with client:
        if request.method == "POST":
            return _send(request, client, living, department, here)
        try:
            context["selection"] = reminder_preview(
                client=client, living=living, department=department
            )
            marks = namesake_marks(departments=[department])
            context["families"] = [
                {
                    "student_userid": family.student_userid,
                    "name": family.name or family.student_userid,
                    "namesake": marks.get(family.student_userid, ""),
                }
                for family in context["selection"].families
            ]
        except WeComError as error:
            context["problem"] = _problem(error)
    context["text"] = reminder_text(living=living, department=department)
    return render(request, "reminders/confirm.html", context)


def _send(request, client, living, department, here):
    try:
        outcome = reminder_send(
            client=client, living=living, department=department, sender=request.user
        )
    except ReminderRefused as refused:
        messages.warning(request, str(refused))
        return redirect(here)
    selection = outcome.selection
    joined = ""  # said after whatever else is said
    if selection.joined_before_sending:
        joined = " " + joined_text(selection.joined_before_sending)
    if outcome.reminder is None:
        if selection.joined_before_sending and not selection.recently_reminded:
            messages.info(request, _("Nothing was sent.") + joined)
        elif selection.recently_reminded:
            messages.info(
                request,
                _(
                    "Nothing was sent: the families of %(count)d students were reminded less "
                    "than 10 minutes ago. Wait a few minutes before reminding them again."
                )
                % {"count": selection.recently_reminded}
                + joined,
            )
        else:
            messages.info(request, _("Nothing was sent: no family is left to remind."))
        return redirect(here)
    detail = reverse("reminders:detail", args=[outcome.reminder.pk])
    if outcome.error is not None:
        messages.error(request, _problem(outcome.error))
    else:
        messages.success(request, sent_text(*families_count(outcome.reminder)) + joined)
    return redirect(detail)


@require_GET
@login_required
def reminder_detail(request, reminder_id):
    reminder = get_object_or_404(
        Reminder.objects.select_related("living", "department"), pk=reminder_id
    )
    # The reminder's own lesson (by our key: its livingid may name another school's lesson too).
    scope.livingid_or_404(reminder.living.livingid)
    living = get_object_or_404(scope.visible_livings(request.user), pk=reminder.living_id)
    department = scope.living_class_or_404(request.user, living, reminder.department.wecom_id)
    rows = reminder_rows(living=living, departments=Department.objects.filter(pk=department.pk))
    reminded_parents_attach(rows)  # parents as 何诺文的爸爸 (school/templatetags/people.py)
    reminded_namesakes_attach(rows)
    effect = [entry for entry in reminder_effect(rows) if entry["reminder"].pk == reminder.pk]
    reached, refused = families_count(reminder)
    problem = ""
    if reminder.status == Reminder.Status.FAILED:
        problem = _problem(StoredWeComError(reminder.errcode, reminder.error))
    return render(
        request,
        "reminders/detail.html",
        {
            "reminder": reminder,
            "living": living,
            "department": department,
            "students": effect[0]["students"] if effect else [],
            "summary": sent_text(reached, refused),
            "joined": joined_text(reminder.joined_before_sending),
            "problem": problem,
        },
    )
