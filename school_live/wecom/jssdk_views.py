"""The signatures a page needs for ``ww.register`` (api.md §15), for pages of this site only."""

import logging
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import JsonResponse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from .client import school_client
from .errors import WeComError
from .jsapi import AGENT, CORP, MAX_URL_LENGTH, TicketStore

logger = logging.getLogger(__name__)


@never_cache
@login_required
@require_GET
def jssdk_signature(request):
    """``?url=<the page's URL>`` → ``{"corpId", "agentId", "config": {...}, "agentConfig": {...}}``
    with ``timestamp``, ``nonceStr`` and ``signature`` in each, as ww.register's signature
    functions return them. Only URLs of this site are signed."""
    url = request.GET.get("url", "")
    parts = urlsplit(url) if len(url) <= MAX_URL_LENGTH else None
    if parts is None or parts.scheme not in ("http", "https") or parts.netloc != request.get_host():
        return JsonResponse({"error": _("Only pages of this site can be signed.")}, status=400)
    if not (settings.WECOM_CORP_ID and settings.WECOM_SECRET and settings.WECOM_AGENT_ID):
        return JsonResponse(
            {"error": _("Starting a lesson from the phone needs the WeCom app to be set up.")},
            status=503,
        )
    try:
        with school_client() as client:
            store = TicketStore(client)
            corp = store.sign(url, kind=CORP)
            agent = store.sign(url, kind=AGENT)
    except WeComError as error:
        logger.warning("JS-SDK signature failed: %s", error)
        return JsonResponse(
            {"error": _("WeCom did not answer; try again in a minute.")}, status=503
        )
    return JsonResponse(
        {
            "corpId": settings.WECOM_CORP_ID,
            "agentId": settings.WECOM_AGENT_ID,
            "config": corp.as_json(),
            "agentConfig": agent.as_json(),
        }
    )
