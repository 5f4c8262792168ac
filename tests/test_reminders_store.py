"""The reminder's store step takes its eight values by name (issue 21): a swapped sender and
kind, or text and status, cannot pass unnoticed."""

import inspect

from school_live.reminders import services


def test_store_takes_every_value_by_keyword():
    parameters = inspect.signature(services._store).parameters.values()
    assert [p.name for p in parameters] == [
        "living",
        "department",
        "sender",
        "kind",
        "now",
        "text",
        "selection",
        "status",
    ]
    assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in parameters)
