"""A stored check as people read it: one row per line with its mark, title and sentence, in the
active language (the page, the command and the email all use it)."""

from dataclasses import dataclass

from django.utils.translation import gettext_lazy

from school_live.school.models import School
from school_live.wecom.setup_probes import FAILED, OK, SKIPPED, UNPROBED
from school_live.wecom.setup_texts import line_text, line_title

from .models import SetupCheck

MARKS = {OK: "✓", FAILED: "✗", SKIPPED: "–"}
UNPROBED_MARK = "·"
LABELS = {
    OK: gettext_lazy("passed"),
    FAILED: gettext_lazy("failed"),
    SKIPPED: gettext_lazy("not checked"),
    UNPROBED: gettext_lazy("cannot be checked from the server"),
}


@dataclass(frozen=True)
class LineView:
    key: str
    status: str
    mark: str
    label: str  # the status in words, for screen readers
    title: str
    text: str
    errcode: int | None
    ip: str  # the address WeCom saw when it refused it as untrusted, "" otherwise


def stored_in(school: School) -> str:
    """Where the school's credentials live, as setup_texts.line_text takes it."""
    return "" if school.from_environment else school.name


def check_lines(check: SetupCheck) -> list[LineView]:
    where = stored_in(check.school)
    return [
        LineView(
            key=line.key,
            status=line.status,
            mark=MARKS.get(line.status, UNPROBED_MARK),
            label=str(LABELS.get(line.status, "")),
            title=line_title(line.key),
            text=line_text(line, stored_in=where),
            errcode=line.errcode,
            ip=str(line.params.get("ip", "")),
        )
        for line in check.probe_lines()
    ]


def plain_line(line: LineView) -> str:
    """One line as the command prints it."""
    code = f" [errcode {line.errcode}]" if line.errcode is not None else ""
    return f"{line.mark} {line.title}{code}: {line.text}"


def failed_titles(check: SetupCheck) -> str:
    """The failed lines of a run, named (for the list of recent runs)."""
    failed = [line for line in check.probe_lines() if line.status == FAILED]
    return "、".join(
        line_title(line.key) + (f" {line.errcode}" if line.errcode is not None else "")
        for line in failed
    )
