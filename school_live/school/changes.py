"""A version of each class's attendance, for what a page keeps between requests.

The writes the verdicts read call ``attendance_changed``: the sync's store (a lesson's info
and watch rows: its classes before and after; the directory: every class), the corrections'
services (an excuse or a revoke: every class; a nickname claim: its class) and a lesson's
cancel (its classes). A reader keys what it keeps by ``attendance_version``
(``attendance/queries/kept.py``: the class page's warnings and rows), so a change is seen at the
next request. A write that calls nothing here (an edit in the admin) is seen when what was kept
expires.

The versions live in the shared cache (the default one: every web process and the worker see
the same). A version is bumped twice: at once, in the writer's transaction (the database cache
writes it with the rows), and again once the transaction has committed — with a cache outside the
database, a page that read the new version before the commit and computed from the old rows
has then kept them under a version no longer current.
"""

import uuid
from collections.abc import Iterable

from django.core.cache import cache
from django.db import transaction

EVERY_CLASS = "all"


def _key(department_id) -> str:
    return f"attendance-version:{department_id}"


def attendance_changed(department_ids: Iterable[int] | None = None) -> None:
    """The attendance of the classes ``department_ids`` (None: every class) changed."""
    keys = [_key(pk) for pk in (department_ids if department_ids is not None else [EVERY_CLASS])]
    if not keys:
        return

    def bump() -> None:
        cache.set_many({key: uuid.uuid4().hex for key in keys}, timeout=None)

    bump()
    if transaction.get_connection().in_atomic_block:
        transaction.on_commit(bump)


def attendance_version(department_id: int) -> str:
    """The class's version: changes whenever ``attendance_changed`` names the class (or every
    class). One read of the shared cache."""
    keys = [_key(department_id), _key(EVERY_CLASS)]
    found = cache.get_many(keys)
    return "/".join(str(found.get(key, "")) for key in keys)
