"""Progress per unit (a class of the roster, a teacher of discovery, a living of the sweep).

Each unit is done on its own: one that fails is recorded and the others go on. A unit that failed
on a transient error (after the client's waiter gave up on it) is tried again in the next round,
after the others; one WeCom refused for good is not (its error says what to fix). An error about
the app's setup (wrong secret, untrusted IP, an API the app may not call) stops everything at
once: every other unit would fail the same way.
"""

from collections.abc import Callable, Mapping
from typing import TypeVar

from school_live.sync.runs import error_app_wide
from school_live.wecom.errors import WeComError

ROUNDS = 2

Unit = TypeVar("Unit")


def units_each(
    units: Mapping[str, Unit], work: Callable[[Unit], None], *, rounds: int = ROUNDS
) -> dict[str, WeComError]:
    """``work(unit)`` for each of ``units`` (keyed by how the admin reads them); returns the
    failures left after ``rounds`` rounds, by key."""
    pending = dict(units)
    failed: dict[str, WeComError] = {}
    for _round in range(rounds):
        again = {}
        for key, unit in pending.items():
            try:
                work(unit)
            except WeComError as error:
                if error_app_wide(error):
                    raise
                failed[key] = error
                if error.transient:
                    again[key] = unit
                continue
            failed.pop(key, None)
        pending = again
        if not pending:
            break
    return failed
