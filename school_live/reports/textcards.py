"""The WeCom ``textcard`` a teacher gets after a lesson (the numbers that matter and a link), and
the one of the weekly digest (the early warnings first, then the week's lessons).

WeCom doc 90236: a textcard has a title (≤128 bytes), a description (≤512 bytes, a few ``<div
class="gray|normal|highlight">`` tags allowed), a url and a button text. The description is HTML to
WeCom, so every value from WeCom (theme, class names) is escaped.
"""

from django.utils import timezone, translation
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from school_live.attendance.namesakes import student_label
from school_live.reports.living import LivingReport
from school_live.reports.weekly import TeacherDigest

TITLE_MAX_BYTES = 128
DESCRIPTION_MAX_BYTES = 512


def living_textcard(*, report: LivingReport, language: str) -> dict:
    """The ``body`` for ``WeComClient.send_message(msgtype="textcard", ...)``."""
    living = report.living
    with translation.override(language):
        title = _truncate_bytes(
            _("Attendance: %(theme)s") % {"theme": living.theme or living.livingid},
            TITLE_MAX_BYTES,
        )
        parts = []
        if living.living_start:
            start = timezone.localtime(living.living_start, timezone.get_default_timezone())
            parts.append(
                format_html('<div class="gray">{}</div>', start.strftime("%Y-%m-%d %H:%M"))
            )
        for section in report.classes:
            summary = section.summary
            parts.append(
                format_html(
                    '<div class="normal">{}</div>',
                    _(
                        "%(class)s: present %(present)s/%(total)s, absent %(absent)s, "
                        "unreachable %(unreachable)s, excused %(excused)s"
                    )
                    % {
                        "class": section.department.name,
                        "present": summary.get("present") or 0,
                        "total": summary.get("total") or 0,
                        "absent": summary.get("absent") or 0,
                        "unreachable": summary.get("unreachable") or 0,
                        "excused": summary.get("excused") or 0,
                    },
                )
            )
        totals = report.totals
        if totals["late"] or totals["left_early"]:
            parts.append(
                format_html(
                    '<div class="highlight">{}</div>',
                    _("late %(late)s, left early %(left_early)s") % totals,
                )
            )
        description = _join_within(parts, DESCRIPTION_MAX_BYTES)
        url = report.classes[0].url if report.classes else ""
        button = _("Details")
    return {"textcard": {"title": title, "description": description, "url": url, "btntxt": button}}


def weekly_textcard(
    *, digest: TeacherDigest, monday, sunday, language: str, fallback_url: str
) -> dict:
    """The weekly digest as a ``textcard``: it opens with the early warnings, one line per
    student (class · name: evidence), then how many lessons each class had."""
    with translation.override(language):
        title = _truncate_bytes(
            _("Attendance this week (%(monday)s – %(sunday)s)")
            % {"monday": monday.strftime("%m-%d"), "sunday": sunday.strftime("%m-%d")},
            TITLE_MAX_BYTES,
        )
        parts = []
        for item in digest.warnings:
            for student in item.students:
                parts.append(
                    format_html(
                        '<div class="highlight">{} · {}: {}</div>',
                        item.department.name,
                        student_label(student.name, student.namesake),
                        "; ".join(warning.text for warning in student.warnings),
                    )
                )
        if not digest.warnings:
            parts.append(
                format_html('<div class="normal">{}</div>', _("No student needs attention."))
            )
        for section in digest.classes:
            parts.append(
                format_html(
                    '<div class="gray">{}</div>',
                    ngettext(
                        "%(class)s: %(count)s live lesson",
                        "%(class)s: %(count)s live lessons",
                        len(section.livings),
                    )
                    % {"class": section.department.name, "count": len(section.livings)},
                )
            )
        description = _join_within(parts, DESCRIPTION_MAX_BYTES)
        urls = [item.url for item in digest.warnings] or [item.url for item in digest.classes]
        button = _("Details")
    return {
        "textcard": {
            "title": title,
            "description": description,
            "url": urls[0] if urls else fallback_url,
            "btntxt": button,
        }
    }


def _truncate_bytes(text: str, limit: int) -> str:
    encoded = text.encode()
    if len(encoded) <= limit:
        return text
    return encoded[: limit - 3].decode(errors="ignore") + "…"


def _join_within(parts: list[str], limit: int) -> str:
    """Whole lines only, so no tag is ever cut in half; "…" marks lines left out."""
    kept: list[str] = []
    for part in parts:
        candidate = "".join([*kept, part])
        if len(candidate.encode()) > limit - len("<div>…</div>".encode()):
            kept.append("<div>…</div>")
            break
        kept.append(part)
    return "".join(kept)
