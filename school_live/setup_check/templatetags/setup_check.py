"""``{% setup_check_banner %}``: on the admin index and on an admin's home page, a banner for
every school they look after whose last WeCom set-up check failed (one query; none for a
teacher)."""

from django import template
from django.template.loader import render_to_string
from django.urls import reverse

from school_live.setup_check.models import SchoolWeComState
from school_live.setup_check.schools import is_checker, schools_visible

register = template.Library()


@register.simple_tag(takes_context=True)
def setup_check_banner(context) -> str:
    request = context.get("request")
    user = getattr(request, "user", None)
    if not is_checker(user):
        return ""
    failing = list(
        SchoolWeComState.objects.filter(
            school__in=schools_visible(user), last_check__ok=False
        ).select_related("school")
    )
    if not failing:
        return ""
    link = reverse("admin:setup_check_setupcheck_changelist")
    return render_to_string(
        "setup_check/_banner.html", {"failing": failing, "link": link}, request=request
    )
