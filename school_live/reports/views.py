from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from school_live.attendance.scope import teacher_for
from school_live.reports.forms import ReportPreferenceForm
from school_live.reports.models import ReportPreference


@login_required
def preferences(request):
    """A teacher's own report choices; logins without a teacher have none to change."""
    teacher = teacher_for(request.user)
    if teacher is None:
        raise Http404(_("Only teachers receive reports."))
    preference = ReportPreference.for_teacher(teacher)
    form = ReportPreferenceForm(request.POST or None, instance=preference)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, _("Your report preferences are saved."))
        return redirect("reports:preferences")
    return render(
        request,
        "reports/preferences.html",
        {"form": form, "teacher": teacher, "wecom_address": teacher.email},
    )
