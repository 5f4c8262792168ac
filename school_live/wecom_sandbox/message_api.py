"""message/send: validated like WeCom, then recorded in state.sent_messages for tests to read."""

import secrets

from .replies import ApiError

# Message types WeCom accepts; the three the project sends are checked field by field.
MSGTYPES = (
    "text", "markdown", "textcard", "image", "voice", "video", "file", "news", "mpnews",
    "miniprogram_notice", "template_card",
)  # fmt: skip


def _content(body: dict, msgtype: str) -> None:
    block = body.get(msgtype)
    if not isinstance(block, dict):
        raise ApiError(40058, f"Warning: wrong json format. {msgtype} must be an object")
    if msgtype in ("text", "markdown") and not block.get("content"):
        raise ApiError(44004, "empty content")
    if msgtype == "textcard":
        for field, code in (("title", 41016), ("description", 41033), ("url", 41010)):
            if not block.get(field):
                raise ApiError(code, f"missing {field}")


def _ids(value) -> list[str]:
    if value is None or value == "":
        return []
    if not isinstance(value, str):
        raise ApiError(40058, "Warning: wrong json format. recipients are a '|'-separated string")
    return [part for part in value.split("|") if part]


def send(state, request) -> dict:
    # WeCom doc 90236: message/send
    body = request.json()
    agentid = body.get("agentid")
    if agentid is None:
        raise ApiError(41011, "missing agentid")
    if isinstance(agentid, bool) or not isinstance(agentid, int) or agentid != state.agent_id:
        raise ApiError(40056, "invalid agentid")
    msgtype = body.get("msgtype")
    if msgtype not in MSGTYPES:
        raise ApiError(40008, "invalid message type")
    _content(body, msgtype)
    users, parties, tags = (
        _ids(body.get("touser")),
        _ids(body.get("toparty")),
        _ids(body.get("totag")),
    )
    if not (users or parties or tags):
        # Doc 90313: 82001 指定的成员/部门/标签全部为空.
        raise ApiError(82001, "touser, toparty and totag are all empty")

    if "@all" in users:
        valid = list(state.school.teachers)
        invalid: list[str] = []
    else:
        # Members are the teachers; students and parents are not members of the corp.
        valid = [u.lower() for u in users if u.lower() in state.school.teachers]
        invalid = [u.lower() for u in users if u.lower() not in state.school.teachers]
    # The sandbox has no corp departments or tags: every party and tag is invalid.
    answer = {}
    if invalid:
        answer["invaliduser"] = "|".join(invalid)
    if parties:
        answer["invalidparty"] = "|".join(parties)
    if tags:
        answer["invalidtag"] = "|".join(tags)
    if not valid:
        raise ApiError(81013, "user & party & tag all invalid", **answer)
    msgid = secrets.token_urlsafe(24)
    state.record_message(
        {"msgid": msgid, "sent_at": state.clock(), "recipients": valid, "body": body}
    )
    return {**answer, "msgid": msgid}
