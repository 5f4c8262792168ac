"""One email to a school's admins when its set-up check's result changed: what now fails and
what to change, or that everything passes again."""

import logging
import smtplib

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation

from school_live.wecom.setup_probes import FAILED

from .describe import check_lines
from .schools import admins_to_tell

logger = logging.getLogger(__name__)

SUBJECT_MAX_CHARS = 200


def change_tell(*, school, check) -> bool:
    """Email the check to ``school``'s admins; True when it went out (or nobody has an email
    address to send it to), False when sending failed (the next run tries again)."""
    recipients = list(admins_to_tell(school).values_list("email", flat=True))
    if not recipients:
        return True
    with (
        translation.override(settings.LANGUAGE_CODE),
        timezone.override(timezone.get_default_timezone()),
    ):
        lines = check_lines(check)
        context = {
            "school": school,
            "check": check,
            "failed": [line for line in lines if line.status == FAILED],
            "url": settings.SITE_URL + reverse("admin:setup_check_setupcheck_changelist"),
        }
        subject = render_to_string("setup_check/email/subject.txt", context)
        text = render_to_string("setup_check/email/body.txt", context)
        html = render_to_string("setup_check/email/body.html", context)
    message = EmailMultiAlternatives(
        subject=" ".join(subject.split())[:SUBJECT_MAX_CHARS],
        body=text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[],
        bcc=recipients,
    )
    message.attach_alternative(html, "text/html")
    try:
        message.send()
    except (smtplib.SMTPException, OSError) as error:
        logger.warning("set-up check of school #%s: the email failed (%s)", school.pk, error)
        return False
    return True
