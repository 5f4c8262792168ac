"""Keep WeCom credentials out of every log record.

urllib3 logs full request URLs at DEBUG, and WeCom puts the access token (and, for gettoken, the
secret) in the query string, so the filter rewrites the message of every record that passes it.
Besides the ``name=value`` patterns, the client registers the secret and every token it holds with
``register_secret`` so that they are masked wherever they appear (a JSON body, an exception repr).

A filter on a logger only sees records logged through that very logger, not those of its children,
so ``install_filter`` puts it on each logger that can see a WeCom URL; settings.LOGGING also puts it
on the console handler.
"""

import logging
import re
import threading
from collections import OrderedDict

REDACTED = "[redacted]"

_SECRET_PARAM = re.compile(
    r"(?<![A-Za-z0-9_])(access_token|corpsecret|secret|code)(=|%3D)([^&\s'\"<>]+)",
    re.IGNORECASE,
)
_SECRET_JSON = re.compile(
    r"([\"']?(?:access_token|corpsecret|secret)[\"']?\s*:\s*[\"'])([^\"']+)", re.IGNORECASE
)

# Known secret values (the app secret, current tokens), newest last; bounded so it cannot grow.
_KNOWN: OrderedDict[str, None] = OrderedDict()
_KNOWN_LIMIT = 64
_KNOWN_LOCK = threading.Lock()

# Loggers that log request URLs; urllib3 logs through its submodules' loggers.
WATCHED_LOGGERS = (
    "urllib3",
    "urllib3.connectionpool",
    "urllib3.connection",
    "urllib3.poolmanager",
    "urllib3.response",
    "urllib3.util.retry",
    "requests",
    "school_live",
    "school_live.wecom",
    "school_live.wecom.client",
    "school_live.wecom.transport",
)


def register_secret(value: str | None) -> None:
    """Mask ``value`` in every later redaction (short values are ignored: too many false hits)."""
    if not value or len(value) < 8:
        return
    with _KNOWN_LOCK:
        _KNOWN[value] = None
        _KNOWN.move_to_end(value)
        while len(_KNOWN) > _KNOWN_LIMIT:
            _KNOWN.popitem(last=False)


def redact(text: str) -> str:
    text = _SECRET_PARAM.sub(lambda m: f"{m.group(1)}{m.group(2)}{REDACTED}", text)
    text = _SECRET_JSON.sub(lambda m: f"{m.group(1)}{REDACTED}", text)
    with _KNOWN_LOCK:
        known = list(_KNOWN)
    for value in known:
        if value in text:
            text = text.replace(value, REDACTED)
    return text


class RedactSecretsFilter(logging.Filter):
    """Rewrites the formatted message (msg % args), the traceback text and the stack text."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: let logging report it, but without args
            message = f"{record.msg} {record.args!r}"
        cleaned = redact(message)
        if cleaned != message:
            record.msg = cleaned
            record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


_FILTER = RedactSecretsFilter()
_INSTALL_LOCK = threading.Lock()


def install_filter() -> None:
    """Attach the filter to every watched logger, once."""
    with _INSTALL_LOCK:
        for name in WATCHED_LOGGERS:
            logger = logging.getLogger(name)
            if not any(isinstance(f, RedactSecretsFilter) for f in logger.filters):
                logger.addFilter(_FILTER)
