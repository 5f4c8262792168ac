"""The shapes of WeCom's ids: checked wherever an id arrives from outside (a URL, a form, a JSON
body, a callback, WeCom itself) before it is used or stored, so that a made-up or hostile value is
a 400 or a 404 and never reaches the database, a URL or a page.

- A userid (member, student, parent) is 1–64 bytes (doc 92337) of letters, digits and ``_-@.``
  (the member rules of the address book).
- A livingid is WeCom's opaque string. Those seen are letters, digits, ``_`` and ``-``; we also take
  the other characters of base64 and URL-safe tokens (``=+.~``), never ``/``, ``?``, ``#``, ``%``,
  spaces or markup, and at most 128 characters.
- A department (class) id is an unsigned 32-bit integer; the root is 1.
"""

import re

USERID_MAX = 64
LIVINGID_MAX = 128
DEPARTMENT_ID_MAX = 2**32 - 1

USERID_PATTERN = r"[A-Za-z0-9_.@-]{1,64}"
LIVINGID_PATTERN = r"[A-Za-z0-9_=+.~-]{1,128}"

_USERID = re.compile(USERID_PATTERN)
_LIVINGID = re.compile(LIVINGID_PATTERN)


def userid_valid(value: object) -> bool:
    return isinstance(value, str) and _USERID.fullmatch(value) is not None


def livingid_valid(value: object) -> bool:
    return isinstance(value, str) and _LIVINGID.fullmatch(value) is not None


def department_id(value: object) -> int | None:
    """The department id in ``value`` (an int or its decimal text), or None when it is not one:
    not a whole number, out of WeCom's range, or text of more than 10 digits."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        text = value.strip()
        if not text.isascii() or not text.isdigit() or len(text) > 10:
            return None
        value = int(text)
    if not isinstance(value, int) or not 1 <= value <= DEPARTMENT_ID_MAX:
        return None
    return value


def not_a(kind: str, value: object) -> str:
    """The problem of an id of the wrong shape, for a WeComDataError: the value is cut short (it
    is untrusted, and shown escaped wherever the error is)."""
    return f"is not a WeCom {kind} ({str(value)[:40]!r})"
