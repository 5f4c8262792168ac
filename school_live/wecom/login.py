"""Teachers sign in with WeCom (doc 91023): WeCom's OAuth screen, then auth/getuserinfo.

Inside WeCom's in-app browser this is one tap, and it is how teachers whose Django user the roster
sync created (with an unusable password) get in. The `state` parameter ties the callback to the
browser session that started it, so a code cannot be replayed into someone else's session.
"""

import logging
import secrets
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.http import HttpResponseRedirect
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from school_live.school.models import Teacher
from school_live.school.tenancy import default_school

from .client import school_client
from .errors import WeComError
from .signals import wecom_signed_in

logger = logging.getLogger(__name__)

SESSION_STATE = "wecom_oauth_state"
SESSION_NEXT = "wecom_oauth_next"


def wecom_login_available() -> bool:
    return bool(settings.WECOM_CORP_ID and settings.WECOM_SECRET)


def _safe_next(request, candidate: str | None) -> str:
    if candidate and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return reverse(settings.LOGIN_REDIRECT_URL)


def _fail(request, message: str):
    messages.error(request, message)
    return redirect(settings.LOGIN_URL)


@require_GET
def wecom_login_start(request):
    if not wecom_login_available():
        return _fail(
            request,
            _(
                "Signing in with WeCom is not set up on this server. Sign in with your "
                "password, or ask the school admin to set WECOM_CORP_ID and WECOM_SECRET."
            ),
        )
    state = secrets.token_hex(16)  # WeCom allows a-zA-Z0-9 only, at most 128 bytes
    request.session[SESSION_STATE] = state
    request.session[SESSION_NEXT] = _safe_next(request, request.GET.get("next"))
    params = {
        "appid": settings.WECOM_CORP_ID,
        "redirect_uri": request.build_absolute_uri(reverse("wecom_login_callback")),
        "response_type": "code",
        "scope": "snsapi_base",
        "state": state,
    }
    if settings.WECOM_AGENT_ID:
        params["agentid"] = settings.WECOM_AGENT_ID
    return HttpResponseRedirect(
        f"{settings.WECOM_OAUTH_BASE}/connect/oauth2/authorize?{urlencode(params)}#wechat_redirect"
    )


@require_GET
def wecom_login_callback(request):
    expected = request.session.pop(SESSION_STATE, None)
    next_url = request.session.pop(SESSION_NEXT, None) or reverse(settings.LOGIN_REDIRECT_URL)
    code = request.GET.get("code", "")
    # Bytes: compare_digest refuses str with non-ASCII characters, which anyone can send.
    given = request.GET.get("state", "").encode()
    if not expected or not secrets.compare_digest(expected.encode(), given):
        return _fail(
            request, _("This WeCom sign-in link has expired or was opened elsewhere. Try again.")
        )
    if not code:
        return _fail(request, _("WeCom did not confirm who you are. Try signing in again."))
    try:
        with school_client() as client:
            identity = client.get_user_identity(code)
    except WeComError as error:
        logger.warning("WeCom sign-in failed: %s", error)
        if error.errcode in (40029, 42003, 42022):
            return _fail(request, _("The WeCom sign-in code was used or expired. Try again."))
        return _fail(
            request,
            _("WeCom sign-in failed (errcode %(errcode)s). Try again, or ask the school admin.")
            % {"errcode": error.errcode},
        )
    # The identity is of the corp the client asked: the default school's, for now.
    teacher = (
        Teacher.objects.filter(
            school=default_school(), userid=identity.userid, is_active=True, user__is_active=True
        )
        .select_related("user")
        .first()
        if identity.userid
        else None
    )
    if teacher is None:
        return _fail(
            request,
            _(
                "Your WeCom account is not a teacher of this school in school_live. If you "
                "teach a class, ask the school admin to run a roster sync."
            ),
        )
    login(request, teacher.user, backend="django.contrib.auth.backends.ModelBackend")
    wecom_signed_in.send(sender=wecom_login_callback, school=None)
    return HttpResponseRedirect(next_url)
