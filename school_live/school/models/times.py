"""WeCom's Unix seconds and aware datetimes."""

import datetime as dt


def from_unix(seconds: int | None) -> dt.datetime | None:
    """WeCom's Unix seconds as an aware datetime; 0 (not known yet) becomes None."""
    if not seconds:
        return None
    return dt.datetime.fromtimestamp(int(seconds), tz=dt.UTC)


def to_unix(moment: dt.datetime | None) -> int:
    """The exact Unix seconds WeCom sent; None goes back to 0."""
    if moment is None:
        return 0
    return int(moment.timestamp())
