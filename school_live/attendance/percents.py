"""How a share (0.625) becomes a percent on every page, download and email: one rule.

Whole percents, halves rounded up (62.5% → 63%, 57.5% → 58%). Float formatting rounds a tie to
the even neighbour, and a share such as 23/40 is stored as 0.57499999…: the share is read back
through its shortest decimal form (``repr``) and rounded as a decimal, so that the page, the
spreadsheet and the report never disagree by one.
"""

from decimal import ROUND_HALF_UP, Decimal


def percent_number(share) -> int | None:
    """0.625 → 63; None (nobody expected, no data) → None."""
    if share is None or share == "":
        return None
    exact = Decimal(repr(float(share))) * 100
    return int(exact.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def percent_text(share, *, empty: str = "—") -> str:
    """0.625 → "63%"; None → ``empty``."""
    number = percent_number(share)
    return empty if number is None else f"{number}%"
