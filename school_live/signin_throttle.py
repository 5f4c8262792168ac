"""Sign-in throttling with django-axes: who is counted, and what a locked-out person reads.

Axes counts failed sign-ins on every login form that goes through ``authenticate`` (the teacher
login and the admin login) and refuses a username or an address for ``AXES_COOLOFF_TIME`` after
``AXES_FAILURE_LIMIT`` failures — a correct password included. The WeCom sign-in is not password
based and logs teachers in without ``authenticate``.
"""

import ipaddress

from axes.backends import AxesStandaloneBackend
from axes.helpers import get_cool_off
from django.conf import settings
from django.shortcuts import render
from django.utils import timezone


class ThrottledSignInBackend(AxesStandaloneBackend):
    """Axes' lockout check for sign-ins made by a visitor's request. Without a request (the test
    client's ``login()``, a shell) there is nobody to throttle, where axes' own backend refuses."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        if request is None:
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)


def _address(value: str) -> str | None:
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        return None


def client_ip(request) -> str | None:
    """The address failures are counted for. Behind a TLS proxy (``BEHIND_TLS_PROXY=1``) it is the
    last ``X-Forwarded-For`` entry, the one our proxy appended: the entries before it are whatever
    the client sent. Without a proxy the header is the client's word, and only the connection's
    own address counts."""
    if settings.BEHIND_TLS_PROXY:
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")
        proxied = _address(forwarded[-1])
        if proxied is not None:
            return proxied
    return _address(request.META.get("REMOTE_ADDR", ""))


def lockout_response(request, original_response=None, credentials=None):
    """The page a locked-out sign-in gets, on either login: what happened and when to try again
    (the lockout runs from the latest failure, this one)."""
    cool_off = get_cool_off(request)
    started = getattr(request, "axes_attempt_time", None) or timezone.now()
    return render(
        request,
        "registration/locked_out.html",
        {
            "until": started + cool_off,
            "minutes": max(1, round(cool_off.total_seconds() / 60)),
        },
        status=settings.AXES_HTTP_RESPONSE_CODE,
    )
