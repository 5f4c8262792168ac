"""Render a report's three templates (subject, text, HTML) into one email, in the reader's words.

Templates live under ``templates/reports/<report>/``. Subjects and text bodies are plain text
(autoescape off inside them); the HTML body is autoescaped, so WeCom text (themes, names,
nicknames) is always escaped there.
"""

from dataclasses import dataclass

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.utils import timezone, translation

SUBJECT_MAX_CHARS = 200


@dataclass(frozen=True)
class Attachment:
    filename: str
    content: bytes
    mimetype: str


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    text: str
    html: str


def email_render(*, report: str, context: dict, language: str | None = None) -> RenderedEmail:
    """The report's subject and bodies, in ``language`` and on the school's clock."""
    language = language or settings.LANGUAGE_CODE
    with translation.override(language), timezone.override(timezone.get_default_timezone()):
        context = {**context, "site_url": settings.SITE_URL}
        subject = render_to_string(f"reports/{report}/subject.txt", context)
        text = render_to_string(f"reports/{report}/body.txt", context)
        html = render_to_string(f"reports/{report}/body.html", context)
    # A header must be one line; templates may wrap for readability.
    subject = " ".join(subject.split())[:SUBJECT_MAX_CHARS]
    return RenderedEmail(subject=subject, text=text, html=html)


def email_message(
    *, rendered: RenderedEmail, to: str, attachments: tuple[Attachment, ...] = ()
) -> EmailMultiAlternatives:
    message = EmailMultiAlternatives(
        subject=rendered.subject,
        body=rendered.text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[to],
    )
    message.attach_alternative(rendered.html, "text/html")
    for attachment in attachments:
        message.attach(attachment.filename, attachment.content, attachment.mimetype)
    return message


def histogram_bars(counts: list[int], labels: list[str]) -> list[dict]:
    """Rows for an HTML bar chart: each bar's width is its share of the tallest bar, in percent."""
    tallest = max(counts, default=0)
    return [
        {
            "label": label,
            "count": count,
            "width": round(count * 100 / tallest) if tallest else 0,
        }
        for label, count in zip(labels, counts, strict=True)
    ]
