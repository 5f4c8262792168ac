"""/wecom/suite/callback/: the 代开发 template's command URL (api.md §18.0).

WeCom wants ``success`` within 1000 ms, so the view only verifies, stores and answers: a
suite_ticket is stored here (one row), every other event is stored as a ``SuiteEvent`` and
worked on by a task queued when the transaction commits. The same event again (WeCom's retry,
the same AuthCode twice, an exact replay) finds its row and queues nothing.

Unset vendor settings → 404. A bad signature, a receiveid that is neither the SuiteID nor the
provider's corp id, another suite's event, XML that is not UTF-8 or is malformed, an event
without the fields it needs, or a timestamp outside ``WECOM_CALLBACK_MAX_SKEW_SECONDS`` → 400,
and nothing changes. Refusals are logged at INFO, without the token, the key or a code.
"""

import logging
import time

from django.conf import settings
from django.http import Http404, HttpResponse, HttpResponseBadRequest
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from school_live.wecom.callback_crypto import CallbackError
from school_live.wecom.suite import SuiteSettings
from school_live.wecom.suite_callback import SUITE_TICKET, CommandCrypto

from .events import suite_event_receive
from .suite import ticket_store

logger = logging.getLogger(__name__)

# The view's clock (seconds since the epoch): tests may freeze it.
clock = time.time
SUCCESS = "success"  # 97172: any other body is shown to the user as an error


def _crypto() -> CommandCrypto:
    suite = SuiteSettings.from_settings()
    if suite is None:
        raise Http404
    try:
        return CommandCrypto(
            token=suite.token,
            aes_key=suite.aes_key,
            suite_id=suite.suite_id,
            provider_corp_id=suite.provider_corp_id,
            max_skew=settings.WECOM_CALLBACK_MAX_SKEW_SECONDS,
        )
    except CallbackError as error:
        logger.error("WeCom suite callbacks are off: %s", error)
        raise Http404 from None


@csrf_exempt
@require_http_methods(["GET", "POST"])
def suite_callback(request):
    """GET: WeCom's URL check (answer the decrypted echostr). POST: a command event."""
    crypto = _crypto()
    query = request.GET
    signature = query.get("msg_signature", "")
    timestamp = query.get("timestamp", "")
    nonce = query.get("nonce", "")
    try:
        if request.method == "GET":
            echo = crypto.verify_url(
                signature, timestamp, nonce, query.get("echostr", ""), now=clock()
            )
            return HttpResponse(echo, content_type="text/plain; charset=utf-8")
        inner = crypto.open_post(signature, timestamp, nonce, request.body, now=clock())
        event = crypto.event(inner)
    except CallbackError as error:
        logger.info("WeCom suite callback refused (%s): %s", error.code, error)
        return HttpResponseBadRequest(f"refused ({error.code})", content_type="text/plain")
    if event is None:
        logger.info("WeCom suite callback %r acknowledged and ignored", inner.get("InfoType"))
    elif event.info_type == SUITE_TICKET:
        ticket_store(event)
    else:
        row, created = suite_event_receive(event)
        logger.info(
            "WeCom suite callback %s stored as event %s%s",
            event.info_type,
            row.pk,
            "" if created else " (a repeat: nothing queued)",
        )
    return HttpResponse(SUCCESS, content_type="text/plain; charset=utf-8")
