"""The teacher's pages. Every object comes through ``school_live.attendance.scope`` (out of scope is
a 404) and every number through ``school_live.attendance.queries``; each page runs a fixed number of
queries whatever the size of the class or the number of livings (pinned by tests)."""

from django.contrib.auth.decorators import login_required
from django.db.models import F
from django.http import Http404
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from school_live.attendance import queries, scope, state
from school_live.attendance.queries.rollcall import livings_rollcall_totals
from school_live.attendance.rules import Verdict
from school_live.lessons import pages
from school_live.reminders.queries import reminded_families
from school_live.school.models import ClassAssignment

from . import charts
from .class_views import PER_PAGE, freshness, paginate, student_rows
from .excuses import student_corrections
from .filters import StudentAttendanceFilter
from .nicknames import nickname_book, visitors_with_claims
from .rollcall import rollcall_context
from .tables import (
    ClassAttendanceTable,
    RosterTable,
    StudentHistoryTable,
    UnknownWatcherTable,
    VisitorTable,
    table_paginate,
)

# Started livings on the home page, with their per-class verdict counts (three queries for all).
RECENT_LIVINGS = 10
# Livings still ahead, listed on the home page without numbers.
UPCOMING_LIVINGS = 5


@require_GET
@login_required
def home(request):
    user = request.user
    teacher = scope.teacher_for(user)
    if scope.is_staff(user) or teacher is None:
        classes = [
            {"department": department, "roles": []}
            for department in scope.visible_classes(user).select_related("parent")
        ]
    else:
        by_class: dict[int, dict] = {}
        assignments = (
            ClassAssignment.objects.filter(
                teacher=teacher, department__in=scope.visible_classes(user)
            )
            .select_related("department__parent")
            .order_by("department__type", "-department__order", "department_id", "role")
        )
        for assignment in assignments:
            entry = by_class.setdefault(
                assignment.department_id, {"department": assignment.department, "roles": []}
            )
            role = assignment.get_role_display()
            entry["roles"].append(
                f"{role} · {assignment.subject}" if assignment.subject else str(role)
            )
        classes = list(by_class.values())
    now = timezone.now()
    visible = scope.visible_livings(user)
    # Only lessons that have started: a lesson still ahead has nobody watching yet and would
    # show the whole class absent.
    livings = list(
        state.started_livings(visible, now=now).order_by(F("living_start").desc(), "-pk")[
            :RECENT_LIVINGS
        ]
    )
    statuses = {living.pk: state.living_status(living, now=now) for living in livings}
    # A lesson under way shows its roll call, never verdicts (everyone still watching would be
    # "partial", everyone yet to come "absent").
    live = [living for living in livings if statuses[living.pk].live]
    breakdowns = queries.livings_breakdown(
        livings=[
            living
            for living in livings
            if statuses[living.pk].counted and not statuses[living.pk].live
        ],
        user=user,
    )
    rollcalls = livings_rollcall_totals(livings=live, user=user)
    reminded = reminded_families(living_ids=[living.pk for living in live], user=user)
    recent = []
    for living in livings:
        breakdown = breakdowns.get(living.pk, [])
        recent.append(
            {
                "living": living,
                "status": statuses[living.pk],
                "breakdown": breakdown,
                "totals": queries.summaries_total(breakdown),
                "rollcall": rollcalls.get(living.pk),
                "reminded": reminded.get(living.pk, 0),
                "freshness": freshness(living),
            }
        )
    upcoming = list(
        state.upcoming_livings(visible, now=now).order_by("living_start", "pk")[:UPCOMING_LIVINGS]
    )
    return render(
        request,
        "dashboard/home.html",
        {
            "classes": classes,
            "recent": recent,
            "upcoming": upcoming,
            "is_staff": scope.is_staff(user),
            "can_schedule": scope.is_staff(user) or bool(classes),
        },
    )


@require_GET
@login_required
def living_detail(request, livingid):
    living = scope.living_or_404(request.user, livingid)
    status = state.living_status(living)
    context = {
        "living": living,
        "status": status,
        "freshness": freshness(living),
        "can_refresh": True,
    }
    if status.live:
        # Under way: who is in the room, not verdicts everyone still watching would fail.
        classes = scope.living_classes(request.user, living)
        context.update(rollcall_context(living, classes, request.GET.get("class")))
        return _living_page(request, living, context, department=context["rollcall_class"])
    if status.counted:
        breakdown = queries.living_breakdown(living=living, user=request.user)
    else:
        # No numbers before the start or the first sync: only the classes, to list their roster.
        breakdown = [
            {"department": department} for department in scope.living_classes(request.user, living)
        ]
    context.update({"breakdown": breakdown, "totals": queries.summaries_total(breakdown)})
    selected = department = None
    wanted = request.GET.get("class")
    for entry in breakdown:
        if wanted and str(entry["department"].wecom_id) == wanted:
            selected = entry
    if wanted and selected is None:
        raise Http404(_("This class is not one of the live lesson's."))
    if selected is None and breakdown:
        selected = breakdown[0]
    if selected is not None:
        department = selected["department"]
        filterset = None
        if status.counted:
            filterset = StudentAttendanceFilter(
                request.GET or None, queryset=student_rows(department, living)
            )
            table = ClassAttendanceTable(filterset.qs)
        else:
            table = RosterTable(queries.class_roster(department=department))
        paginate(request, table)
        class_visible = scope.visible_classes(request.user).filter(pk=department.pk).exists()
        context.update(
            {
                "selected": selected,
                "filter": filterset,
                "table": table,
                "keep": [("class", department.wecom_id)],
                "class_visible": class_visible,
                # Its teachers write the class's nickname book (scope.nickname_class_or_404).
                "nickname_book": (
                    nickname_book(living=living, department=department) if class_visible else None
                ),
            }
        )
    return _living_page(request, living, context, department=department)


def _living_page(request, living, context, *, department):
    """The parts every state of the lesson's page shows; ``department``: the class whose
    nickname claims label the visitors (None: no claims shown)."""
    unknown = UnknownWatcherTable(queries.unknown_watchers(living=living))
    paginate(request, unknown)
    visitors = VisitorTable(visitors_with_claims(living, department))
    paginate(request, visitors)
    context.update({"unknown_table": unknown, "visitor_table": visitors})
    lesson = pages.lesson_side(request.user, living)
    context["lesson"] = lesson
    if lesson.can_start:
        context.update(pages.jssdk_context(request.user))
    return render(request, "dashboard/living_detail.html", context)


@require_GET
@login_required
def student_detail(request, student_userid):
    student = scope.student_or_404(request.user, student_userid)
    history = queries.student_history(student=student, user=request.user)
    table = StudentHistoryTable(history)
    table_paginate(request, table, per_page=PER_PAGE)
    chart = charts.history_chart(
        points=[
            {"living_start": item["living"].living_start, "coverage": item["coverage"]}
            for item in reversed(history)
            if item["living"].living_start is not None
        ]
    )
    counts = dict.fromkeys(Verdict.values, 0)
    for item in history:
        counts[item["verdict"]] = counts.get(item["verdict"], 0) + 1
    guardianships = list(
        student.guardianships.select_related("parent").order_by("relation", "parent__parent_userid")
    )
    classes = list(scope.visible_classes(request.user).filter(enrollments__student=student))
    return render(
        request,
        "dashboard/student_detail.html",
        {
            "student": student,
            "history": history,
            "table": table,
            "history_chart": chart,
            "counts": counts,
            "guardianships": guardianships,
            "classes": classes,
            **student_corrections(
                user=request.user,
                student=student,
                livings=[item["living"] for item in history],
            ),
        },
    )
