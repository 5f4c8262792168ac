"""Absolute links from a report back to the evidence on the dashboard."""

from urllib.parse import urlencode

from django.conf import settings
from django.urls import NoReverseMatch, reverse

from school_live.school.models import Department, Living


def class_page_url(*, department: Department, living: Living | None = None) -> str:
    """SITE_URL + the dashboard's class page, opened on ``living`` when given."""
    try:
        path = reverse("dashboard:class", args=[department.wecom_id])
    except NoReverseMatch:
        # The dashboard names its class page "dashboard:class"; until it exists, its path.
        path = f"/classes/{department.wecom_id}/"
    if living is not None:
        path = f"{path}?{urlencode({'living': living.livingid})}"
    return f"{settings.SITE_URL}{path}"


def home_url() -> str:
    try:
        path = reverse("dashboard:home")
    except NoReverseMatch:
        path = "/"
    return f"{settings.SITE_URL}{path}"


def preferences_url() -> str:
    try:
        path = reverse("reports:preferences")
    except NoReverseMatch:
        path = "/reports/preferences/"
    return f"{settings.SITE_URL}{path}"
