"""Lessons on the web: schedule (teachers for their own classes, staff for any teacher), edit and
cancel while reserved, and what the phone reports after ``ww.startLiving``.

Scope as everywhere: a class the teacher is not assigned to, or a lesson outside their classes, is
a 404. WeCom's answers become a message on the form, never a 500.
"""

import datetime as dt
import logging

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from school_live.attendance import scope
from school_live.lessons.forms import (
    LessonEditForm,
    LessonScheduleForm,
    edit_initial,
    schedule_classes,
)
from school_live.lessons.models import LessonOccurrence, LessonSeries, LessonStartReport
from school_live.lessons.pages import state_payload
from school_live.lessons.services import (
    LessonError,
    LessonPlan,
    lesson_cancel,
    lesson_changeable,
    lesson_is_reserved,
    lesson_modify,
    lesson_schedule,
    lesson_startable,
    occurrence_key,
)
from school_live.lessons.starts import (
    reserved_lesson_confirm,
    start_confirm_request,
    start_report_confirm,
    start_report_record,
)
from school_live.school.models import Department, Living, Teacher
from school_live.school.tenancy import of_user_school
from school_live.sync.triggers import living_sync_request
from school_live.wecom import ids
from school_live.wecom.client import WeComClient, school_client
from school_live.wecom.error_texts import LESSON, error_text
from school_live.wecom.errors import WeComError
from school_live.wecom.living_writes import THEME_MAX_CHARS

logger = logging.getLogger(__name__)


def _class_id_or_404(value) -> int:
    """A class's WeCom id from a URL or query string; anything else is a missing page, not a
    500."""
    wecom_id = ids.department_id(value)
    if wecom_id is None:
        raise Http404
    return wecom_id


def _changeable_or_404(user, livingid) -> Living:
    """A lesson the user may change or cancel: its host's, or any for the school's admins.
    Whoever else sees it gets the same 404 as for a lesson they cannot see."""
    living = scope.living_or_404(user, livingid)
    if not lesson_changeable(user, living):
        raise Http404
    return living


def _partial_note(plan: LessonPlan) -> str:
    keys = [
        occurrence_key(teacher=plan.teacher, start=start, theme=plan.theme.strip())
        for start in plan.starts()
    ]
    done = LessonOccurrence.objects.filter(
        school=plan.teacher.school_id, key__in=keys, state=LessonOccurrence.State.CREATED
    ).count()
    if not done:
        return ""
    return _(
        "%(done)d of %(total)d weeks are already in WeCom; submitting the same form again "
        "creates only the rest."
    ) % {"done": done, "total": len(keys)}


def _schedule_initial(classes, chosen, teacher) -> dict:
    tomorrow = timezone.localtime(
        timezone.now(), timezone.get_default_timezone()
    ).date() + dt.timedelta(days=1)
    initial = {"date": tomorrow, "time": dt.time(8, 0)}
    if chosen is not None:
        initial["classes"] = [chosen.pk]
    elif len(classes) == 1:
        initial["classes"] = [classes[0].pk]
    if teacher is not None:
        initial["teacher"] = teacher.pk
    return initial


@login_required
@require_http_methods(["GET", "POST"])
def lesson_new(request):
    """``?class=ID`` (WeCom's id) preselects one of the teacher's classes (another class is a
    404)."""
    user = request.user
    staff = scope.is_staff(user)
    teacher = scope.teacher_for(user)
    if teacher is None and not staff:
        raise Http404(_("Scheduling a lesson needs a teacher's account."))
    classes = schedule_classes(teacher=teacher, staff=staff)
    chosen = None
    if "class" in request.GET:
        chosen = get_object_or_404(
            classes, wecom_id=_class_id_or_404(request.GET["class"]), **of_user_school(user)
        )
    teachers = None
    if staff:
        teachers = Teacher.objects.filter(is_active=True, assignments__department__in=classes)
        if chosen is not None:
            teachers = teachers.filter(assignments__department=chosen)
        teachers = teachers.distinct().order_by("name", "userid")
    classes = list(classes)
    form = LessonScheduleForm(
        request.POST or None,
        initial=_schedule_initial(classes, chosen, teacher),
        teacher=None if staff else teacher,
        teachers=teachers,
        classes=schedule_classes(teacher=teacher, staff=staff),
    )
    if request.method == "POST" and form.is_valid():
        plan = form.plan
        try:
            with school_client(school=plan.teacher.school) as client:
                series = lesson_schedule(
                    client=client, plan=plan, source=LessonSeries.Source.WEB, requested_by=user
                )
        except (LessonError, ValueError) as error:
            form.add_error(None, str(error))
        except WeComError as error:
            logger.warning("scheduling failed: %s", error)
            form.add_error(None, error_text(error, doing=LESSON))
            note = _partial_note(plan)
            if note:
                form.add_error(None, note)
        else:
            first = series.occurrences.filter(living__isnull=False).select_related("living").first()
            count = series.occurrences.filter(state=LessonOccurrence.State.CREATED).count()
            messages.success(
                request,
                _("Scheduled in WeCom: “%(theme)s”, %(count)d lesson(s).")
                % {"theme": series.theme, "count": count},
            )
            return redirect("dashboard:living", first.living.livingid)
    return render(
        request,
        "lessons/schedule.html",
        {"form": form, "chosen": chosen, "is_staff": staff, "theme_max": THEME_MAX_CHARS},
    )


@login_required
@require_http_methods(["GET", "POST"])
def lesson_edit(request, livingid):
    living = _changeable_or_404(request.user, livingid)
    if not lesson_is_reserved(living):
        messages.info(request, _("This lesson has already started or was cancelled."))
        return redirect("dashboard:living", living.livingid)
    form = LessonEditForm(request.POST or None, initial=edit_initial(living))
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            with school_client(school=living.school) as client:
                lesson_modify(
                    client=client,
                    living=living,
                    theme=data["theme"],
                    start=form.start(),
                    minutes=data["minutes"],
                    living_type=data["living_type"],
                    remind_minutes=data["remind_minutes"],
                )
        except LessonError as error:
            form.add_error(None, str(error))
        else:
            messages.success(request, _("The lesson was changed in WeCom."))
            return redirect("dashboard:living", living.livingid)
    return render(
        request,
        "lessons/edit.html",
        {"form": form, "living": living, "theme_max": THEME_MAX_CHARS},
    )


@login_required
@require_POST
def lesson_cancel_view(request, livingid):
    """Cancel in WeCom; the form carries a confirmation box that must be ticked."""
    living = _changeable_or_404(request.user, livingid)
    if request.POST.get("confirm") != "yes":
        messages.error(request, _("Tick the box to confirm that the lesson should be cancelled."))
        if lesson_is_reserved(living):
            return redirect("lessons:edit", living.livingid)
        return redirect("dashboard:living", living.livingid)
    try:
        with school_client(school=living.school) as client:
            lesson_cancel(client=client, living=living)
    except LessonError as error:
        messages.error(request, str(error))
    else:
        messages.success(
            request,
            _("“%(theme)s” was cancelled in WeCom.") % {"theme": living.theme or living.livingid},
        )
    return redirect("dashboard:living", living.livingid)


@never_cache
@login_required
@require_GET
def living_state(request, livingid):
    living = scope.living_or_404(request.user, livingid)
    return JsonResponse(state_payload(living))


def _waiting(message: str) -> JsonResponse:
    """WeCom could not be asked: the phone's report waits, and is not a lesson yet."""
    return JsonResponse({"state": "waiting", "message": message, "changed": False}, status=202)


@login_required
@require_POST
def living_started(request, livingid):
    """The host's phone started this reserved lesson (``ww.startLiving({livingId})``). The
    browser's word makes nothing live: WeCom is asked, and its start time decides."""
    living = scope.living_or_404(request.user, livingid)
    if not lesson_changeable(request.user, living):
        return JsonResponse({"error": _("Only the lesson's host can start it.")}, status=400)
    if not lesson_startable(living):
        return JsonResponse({**state_payload(living), "changed": False})
    try:
        with school_client(school=living.school) as client:
            changed = reserved_lesson_confirm(client=client, living=living)
    except WeComError as error:
        if not error.transient:
            logger.warning("start of %s not confirmed: %s", living.livingid, error)
            return JsonResponse({"error": error_text(error, doing=LESSON)}, status=400)
        living_sync_request(school=living.school, livingid=living.livingid)
        return _waiting(
            _(
                "WeCom has not confirmed the lesson yet. This page shows it live as soon as "
                "WeCom does, usually within a minute."
            )
        )
    living.refresh_from_db()
    return JsonResponse({**state_payload(living), "changed": changed})


def _startable_class(user, class_id) -> Department:
    wecom_id = ids.department_id(class_id)
    if wecom_id is None:
        raise Http404
    if scope.is_staff(user):
        return scope.class_or_404(user, wecom_id)
    return get_object_or_404(scope.visible_classes(user), wecom_id=wecom_id, **of_user_school(user))


def _started_answer(living: Living) -> JsonResponse:
    return JsonResponse(
        {**state_payload(living), "url": reverse("dashboard:living", args=[living.livingid])}
    )


@login_required
@require_POST
def class_started(request, class_id):
    """The teacher's phone started a class lesson (``ww.startLiving({liveType, theme,
    departmentIds: [class]})``) and sends WeCom's livingId. It becomes a lesson of this class
    only once WeCom confirms it is this teacher's and live (starts.py); until WeCom can be
    asked, the answer is "waiting" and nothing is live."""
    department = _startable_class(request.user, class_id)
    teacher = scope.teacher_for(request.user)
    if teacher is None:
        return JsonResponse(
            {"error": _("Starting a lesson needs a teacher's WeCom account.")}, status=400
        )
    livingid = request.POST.get("livingid", "").strip()
    theme = request.POST.get("theme", "").strip()[:THEME_MAX_CHARS]
    if not ids.livingid_valid(livingid):
        return JsonResponse({"error": _("WeCom did not return a valid living id.")}, status=400)
    if Living.objects.filter(school=department.school_id, livingid=livingid).exists():
        # Stored already (from WeCom: a sync, a callback, an earlier confirmation): a retry of
        # the same report changes nothing, and a lesson the teacher cannot see is not theirs.
        return _started_answer(scope.living_or_404(request.user, livingid))
    report = start_report_record(
        livingid=livingid, teacher=teacher, department=department, theme=theme
    )
    if report.state != LessonStartReport.State.REFUSED:
        # Waiting, or confirmed once for a lesson no longer stored: WeCom is asked (again).
        try:
            client = WeComClient.for_school(department.school)
        except WeComError as error:  # not configured: the report waits, nothing is live
            return JsonResponse({"error": error_text(error, doing=LESSON)}, status=503)
        with client:
            report = start_report_confirm(client=client, report=report)
    if report.state == LessonStartReport.State.REFUSED:
        logger.info("start of %s by %s refused: %s", livingid, teacher.userid, report.reason)
        return JsonResponse({"state": "refused", "error": report.reason}, status=400)
    if report.state == LessonStartReport.State.WAITING:
        start_confirm_request(report=report)
        return _waiting(
            _(
                "WeCom has not confirmed the lesson yet, so it is not recorded as live. This site "
                "asks WeCom again in a minute; the lesson appears on your class page once WeCom "
                "confirms it."
            )
        )
    return _started_answer(Living.objects.get(school=department.school_id, livingid=livingid))
