"""Install links: a pending school and WeCom's install QR for it (api.md §18.5).

WeCom is asked first (get_customized_auth_url, with the provider token); only when it answered
are the pending school and the link stored, so a refusal leaves nothing half made. The ``state``
(32 random hex characters: WeCom allows a-zA-Z0-9, at most 32) is how the scan finds the school
again. The QR is drawn here, on the server, by segno: WeCom gives a URL, not an image.
"""

import datetime as dt
import re
import secrets

import segno
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from school_live.school.models import School

from .models import InstallLink, SchoolAudit, audit
from .suite import suite_client

LINK_DAYS = 10  # 98744: expires_in 864000 s
_URL = re.compile(r"https?://[^\s<>\"']{1,1990}")


class LinkRefused(ValueError):
    """What an operator gave cannot make a link; the message says why."""


def install_link_make(
    *, name: str = "", school: School | None = None, created_by=None
) -> InstallLink:
    """A new pending school named ``name`` with its install link; or, given a pending
    ``school``, a fresh link for it (the last one expired). Raises ``LinkRefused``,
    ``SuiteNotConfigured`` or a ``WeComError``."""
    if school is None:
        name = (name or "").strip()
        if not name:
            raise LinkRefused(_("Give the school's name, as its teachers know it."))
        if len(name) > 200:
            raise LinkRefused(_("The school's name is longer than 200 characters."))
    elif school.status != School.Status.PENDING:
        raise LinkRefused(_("This school is installed already: it needs no install link."))
    state = secrets.token_hex(16)
    with suite_client() as suite:
        answer = suite.customized_auth_url(state=state)
    if not _URL.fullmatch(answer.qrcode_url):
        raise LinkRefused(_("WeCom's answer held no install link; try again in a minute."))
    now = timezone.now()
    seconds = answer.expires_in if answer.expires_in > 0 else LINK_DAYS * 24 * 3600
    with transaction.atomic():
        if school is None:
            school = School.objects.create(
                name=name, status=School.Status.PENDING, status_changed_at=now
            )
        link = InstallLink.objects.create(
            school=school,
            state=state,
            qrcode_url=answer.qrcode_url,
            expires_at=now + dt.timedelta(seconds=seconds),
            created_by=created_by,
        )
        by = getattr(created_by, "username", "") or "manage.py"
        audit(
            school, SchoolAudit.Event.LINK_MADE, detail=f"expires {link.expires_at:%Y-%m-%d}", by=by
        )
    return link


def qr_data_uri(url: str) -> str:
    """The QR code of ``url`` as an SVG data URI, for an ``<img src>``."""
    return segno.make(url, error="m").svg_data_uri(scale=5, border=2)


def qr_terminal(url: str, out) -> None:
    """The QR code of ``url`` drawn in a terminal."""
    segno.make(url, error="m").terminal(out=out, compact=True)
