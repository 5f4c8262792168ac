"""Starting a sync from the dashboard and watching it: JSON endpoints, scoped like every page.

A teacher may sync only a living they can see (visible_livings), and may read only runs of such
livings; anything else is a 404 (never a 403: other classes' livings do not exist for them).
"""

from django.contrib import messages
from django.contrib.admin.views.decorators import staff_member_required
from django.contrib.auth.decorators import login_required
from django.http import Http404, JsonResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from school_live.attendance.scope import living_or_404, visible_livings
from school_live.school.models import SyncRun
from school_live.school.tenancy import user_school
from school_live.sync.triggers import (
    MANUAL_SYNC_EVERY,
    manual_living_sync_request,
    school_sync_request,
)


def run_json(run: SyncRun) -> dict:
    return {
        "run": run.pk,
        "status": run.status,
        "status_display": str(run.get_status_display()),
        "pages": run.pages,
        "rows": run.rows,
        "error": run.error,
        "finished_at": run.finished_at.isoformat() if run.finished_at else None,
        "living": run.livingid or None,
        "status_url": reverse("sync:run", args=[run.pk]),
    }


@login_required
@require_POST
def living_sync(request, livingid: str):
    living = living_or_404(request.user, livingid)
    run, created = manual_living_sync_request(
        school=living.school, livingid=living.livingid, user=request.user
    )
    if run is None:
        error = _(
            "You asked for a sync of this lesson less than %(seconds)s seconds ago. "
            "Wait a minute, then try again."
        ) % {"seconds": MANUAL_SYNC_EVERY}
        return JsonResponse({"error": error}, status=429)
    return JsonResponse(run_json(run), status=202 if created else 200)


@login_required
@require_GET
def run_status(request, run_id: int):
    run = get_object_or_404(SyncRun, pk=run_id)
    if run.livingid:
        visible = visible_livings(request.user)
        if not visible.filter(school=run.school_id, livingid=run.livingid).exists():
            raise Http404
    elif not (request.user.is_staff or request.user.is_superuser):
        raise Http404  # roster and school runs are the admins' business
    return JsonResponse(run_json(run))


@staff_member_required
@require_POST
def school_sync(request):
    run, created = school_sync_request(school=user_school(request.user), requested_by=request.user)
    if created:
        messages.success(request, _("A full school sync was queued (run %(id)s).") % {"id": run.pk})
    else:
        messages.info(
            request, _("A full school sync is already under way (run %(id)s).") % {"id": run.pk}
        )
    return redirect(reverse("admin:school_syncrun_changelist"))
