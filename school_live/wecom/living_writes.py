"""The WeCom calls that create and change livings, and the JS-SDK tickets (api.md §14, §15).

A mixin of ``WeComClient``: the same session, token and errcode handling. These calls write in
WeCom, so unlike the reads they are never retried on a lost reply by this module: a caller that
retries ``living/create`` must first look for the living it may already have created (see
``school_live.lessons.services``).
"""

import datetime as dt
from typing import Any

from school_live.wecom.errors import WeComDataError
from school_live.wecom.reader import Reader
from school_live.wecom.redact import register_secret

# living/create's theme: at most 20 UTF-8 characters (doc 93637).
THEME_MAX_CHARS = 20
DESCRIPTION_MAX_CHARS = 100
# living/create's `type` (doc 93637); ww.startLiving numbers them differently (LIVE_TYPE_JSSDK).
TYPE_SMALL_CLASS = 1
TYPE_BIG_CLASS = 2
LIVING_TYPES = frozenset({0, 1, 2, 3, 4})
# ww.startLiving's liveType (doc 93824): 2 大班课, 3 小班课.
JSSDK_LIVE_TYPE = {TYPE_BIG_CLASS: 2, TYPE_SMALL_CLASS: 3}


def check_living_fields(
    *, theme: str, living_start: int, living_duration: int, type: int, remind_time: int
) -> None:
    """What WeCom would refuse, refused before it is called (a ValueError naming the field)."""
    if not theme or not theme.strip():
        raise ValueError("theme: a lesson needs a theme")
    if len(theme) > THEME_MAX_CHARS:
        raise ValueError(f"theme: at most {THEME_MAX_CHARS} characters, got {len(theme)}")
    if living_start <= 0:
        raise ValueError("living_start: must be a Unix time")
    if not 60 <= living_duration <= 24 * 3600:
        raise ValueError("living_duration: between 1 minute and 24 hours")
    if type not in LIVING_TYPES:
        raise ValueError(f"type: one of {sorted(LIVING_TYPES)}")
    if not 0 <= remind_time <= 7 * 24 * 3600:
        raise ValueError("remind_time: between 0 and 7 days before the start")


def _living_body(
    *,
    theme: str,
    living_start: int,
    living_duration: int,
    type: int,
    remind_time: int,
    description: str,
) -> dict[str, Any]:
    """living/create's and living/modify's shared fields, checked first."""
    check_living_fields(
        theme=theme,
        living_start=living_start,
        living_duration=living_duration,
        type=type,
        remind_time=remind_time,
    )
    body: dict[str, Any] = {
        "theme": theme,
        "living_start": living_start,
        "living_duration": living_duration,
        "type": type,
        "remind_time": remind_time,
    }
    if description:
        body["description"] = description[:DESCRIPTION_MAX_CHARS]
    return body


class LivingWrites:
    """living/create, living/modify, living/cancel and the JS-SDK tickets."""

    # WeCom doc 93637: living/create
    def create_living(
        self,
        *,
        anchor_userid: str,
        theme: str,
        living_start: int,
        living_duration: int,
        type: int = TYPE_BIG_CLASS,
        remind_time: int = 0,
        description: str = "",
    ) -> str:
        """A reserved living (status 0) with ``anchor_userid`` as host; returns its livingid."""
        body = _living_body(
            theme=theme,
            living_start=living_start,
            living_duration=living_duration,
            type=type,
            remind_time=remind_time,
            description=description,
        )
        if not anchor_userid:
            raise ValueError("anchor_userid: the host teacher's userid is required")
        path = "living/create"
        reader = Reader.root(
            path, self._call("POST", path, body={"anchor_userid": anchor_userid, **body})
        )
        livingid = reader.string("livingid", required=True)
        if len(livingid) > 128:
            raise WeComDataError("livingid is longer than 128 characters", path)
        return livingid

    # WeCom doc 93640: living/modify
    def modify_living(self, *, livingid: str, **fields: Any) -> None:
        """Only while the living is reserved; 92006 once it started or was cancelled. ``fields``
        as for ``create_living`` (theme, living_start, living_duration, type, remind_time,
        description)."""
        fields.setdefault("type", TYPE_BIG_CLASS)
        fields.setdefault("remind_time", 0)
        fields.setdefault("description", "")
        body = _living_body(**fields)
        self._call("POST", "living/modify", body={"livingid": livingid, **body})

    # WeCom doc 93638: living/cancel
    def cancel_living(self, livingid: str) -> None:
        """Only reserved livings; 92006 if it already started or was cancelled."""
        self._call("POST", "living/cancel", body={"livingid": livingid})

    # WeCom doc 90506: get_jsapi_ticket (corp) and ticket/get?type=agent_config (app)
    def get_jsapi_ticket(self, *, agent: bool) -> tuple[str, int]:
        """(ticket, expires_in). Cache it: ≤ 400 fetches an hour per corp, ≤ 100 per app."""
        if agent:
            path, params = "ticket/get", {"type": "agent_config"}
        else:
            path, params = "get_jsapi_ticket", {}
        reader = Reader.root(path, self._call("GET", path, params=params))
        ticket = reader.string("ticket", required=True)
        register_secret(ticket)
        expires_in = reader.integer("expires_in", default=7200)
        if expires_in <= 0:
            raise reader.fail("expires_in", "must be a positive number of seconds", expires_in)
        return ticket, expires_in


def unix(moment: dt.datetime) -> int:
    return int(moment.timestamp())
