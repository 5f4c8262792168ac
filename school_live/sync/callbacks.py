"""WeCom's status callbacks (api.md §16): a hint that a lesson went live, ended or was cancelled.

The view answers within WeCom's 5 s and never syncs inside the request: it verifies and decrypts
the event, moves the living's status forward and queues the sync. Events may repeat, arrive late
or out of order, or never come: a status only ever moves forward (reserved → live → ended;
cancelled only from reserved), so a repeated or stale event changes nothing, and the sweep still
syncs every recent lesson whether or not its events arrived.

Unset ``WECOM_CALLBACK_TOKEN`` / ``WECOM_CALLBACK_AES_KEY`` → 404. A bad signature, another corp
id, XML that is not UTF-8 or is malformed, or a signed timestamp that is not whole seconds or is
outside ``WECOM_CALLBACK_MAX_SKEW_SECONDS`` of our clock → 400 and nothing changes; never a 500.
Every refusal is logged at INFO, without the token or the key.

An exact replay (the same signature and nonce, so the same signed request) is answered 200 and
changes nothing: the first delivery of each is recorded with an atomic ``cache.add`` in the shared
cache (Redis in production, the database cache otherwise: every process sees it) for as long as
its timestamp can stay in the window. A request that fails (500) is forgotten, so that WeCom's
retry is applied.
"""

import hashlib
import logging
import time

from django.core.cache import cache
from django.db import transaction
from django.http import Http404, HttpResponse, HttpResponseBadRequest
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from school_live.school.models import Living, School
from school_live.school.tenancy import default_school
from school_live.sync.triggers import living_sync_request
from school_live.wecom.callback_crypto import (
    CallbackCrypto,
    CallbackError,
    LivingStatusChange,
    living_status_change,
    parse_xml,
)
from school_live.wecom.signals import wecom_callback_received

logger = logging.getLogger(__name__)

# The view's clock (seconds since the epoch): tests freeze it.
clock = time.time
SEEN_KEY = "wecom-callback-seen:"

# How far along a lesson is; an event may only move a living forward.
_RANK = {
    None: -1,
    Living.Status.RESERVED: 0,
    Living.Status.LIVE: 1,
    Living.Status.ENDED: 2,
    Living.Status.EXPIRED: 2,
    Living.Status.CANCELLED: 3,
}
# What each status may follow.
_FOLLOWS = {
    Living.Status.RESERVED: {None},
    Living.Status.LIVE: {None, Living.Status.RESERVED},
    Living.Status.ENDED: {None, Living.Status.RESERVED, Living.Status.LIVE},
    Living.Status.EXPIRED: {None, Living.Status.RESERVED},
    Living.Status.CANCELLED: {None, Living.Status.RESERVED},
}
_SYNC_ON = (Living.Status.LIVE, Living.Status.ENDED)


def living_status_apply(event: LivingStatusChange, *, school: School) -> bool:
    """Move the school's living to the event's status if that is a step forward, and queue its
    sync. Returns whether anything changed. A living we do not hold is recorded and synced."""
    with transaction.atomic():
        living = (
            Living.objects.select_for_update()
            .filter(school=school, livingid=event.livingid)
            .first()
        )
        if living is None:
            living = Living.objects.create(
                school=school,
                livingid=event.livingid,
                anchor_userid=event.from_user,
                status=event.status,
                status_changed_at=timezone.now(),
            )
            logger.info("callback for unknown living %s: recorded and queued", event.livingid)
            living_sync_request(school=school, livingid=event.livingid)
            return True
        current = living.status
        if current not in _FOLLOWS[Living.Status(event.status)]:
            logger.info(
                "callback for living %s: status %s after %s changes nothing",
                event.livingid,
                event.status,
                current,
            )
            return False
        living.status = event.status
        living.status_changed_at = timezone.now()
        living.save(update_fields=["status", "status_changed_at"])
        if event.status in _SYNC_ON:
            living_sync_request(school=school, livingid=event.livingid)
    logger.info("callback: living %s is now status %s", event.livingid, event.status)
    return True


def _crypto() -> CallbackCrypto:
    try:
        crypto = CallbackCrypto.from_settings()
    except CallbackError as error:
        logger.error("WeCom callbacks are off: %s", error)
        raise Http404 from None
    if crypto is None:
        raise Http404
    return crypto


def _first_delivery(signature: str, nonce: str, *, max_skew: int) -> str | None:
    """The cache key that now marks this signed request as seen, or None if it was seen before.
    The key lives for the whole window (2 × the skew): a timestamp up to the skew ahead of our
    clock stays acceptable that long."""
    digest = hashlib.sha256(f"{signature}\n{nonce}".encode()).hexdigest()
    key = SEEN_KEY + digest
    return key if cache.add(key, 1, timeout=max(2 * max_skew, 1)) else None


@csrf_exempt
@require_http_methods(["GET", "POST"])
def wecom_callback(request):
    """GET: WeCom's URL check (answer the decrypted echostr). POST: an event (answer empty)."""
    crypto = _crypto()
    query = request.GET
    signature = query.get("msg_signature", "")
    timestamp = query.get("timestamp", "")
    nonce = query.get("nonce", "")
    now = clock()
    try:
        if request.method == "GET":
            echostr = query.get("echostr", "")
            echo = crypto.verify_url(signature, timestamp, nonce, echostr, now=now)
        else:
            inner = parse_xml(crypto.open_post(signature, timestamp, nonce, request.body, now=now))
            event = living_status_change(inner)
    except CallbackError as error:
        logger.info("WeCom callback refused (%s): %s", error.code, error)
        return HttpResponseBadRequest(f"refused ({error.code})", content_type="text/plain")
    wecom_callback_received.send(sender=wecom_callback, school=None)  # for the set-up check
    if request.method == "GET":
        return HttpResponse(echo, content_type="text/plain; charset=utf-8")
    seen = _first_delivery(signature, nonce, max_skew=crypto.max_skew)
    if seen is None:
        livingid = event.livingid if event is not None else "-"
        logger.info("callback for living %s replayed (same signature and nonce): ignored", livingid)
        return HttpResponse("", content_type="text/plain")
    if event is not None:
        try:
            # /wecom/callback/ is the default school's (ARCHITECTURE.md).
            living_status_apply(event, school=default_school())
        except BaseException:
            cache.delete(seen)  # not applied: WeCom's retry of the same request must be
            raise
    return HttpResponse("", content_type="text/plain")
