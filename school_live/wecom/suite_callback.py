"""The 代开发 template's command callback (指令回调, api.md §18.0-18.10): its crypto and its events.

The crypto is the one of every WeCom callback (callback_crypto.py, api.md §16); only the
receiveid differs, and WeCom's own pages do not settle it (§18.0, UNVERIFIED):

- an event POST is sealed for the **SuiteID** (97172), though a user saw ``create_auth`` arrive
  with the provider's corp id as ``ToUserName``: either is accepted, and it must equal the outer
  ``ToUserName`` when there is one;
- the GET URL check is sealed, per WeCom's staff, for the **provider's corp id**, per the
  brief for the SuiteID: either is accepted.

Anything else, an event of another suite, or an event without the fields its InfoType needs is a
``CallbackError``: the view answers 400 and nothing changes. An InfoType we do not act on (WeCom
may add some) is read as ``None``: acknowledged and ignored.
"""

import re
from dataclasses import dataclass, field

from school_live.wecom.callback_crypto import (
    RECEIVE_ID_ERROR,
    XML_ERROR,
    CallbackCrypto,
    CallbackError,
    parse_xml,
)

SUITE_TICKET = "suite_ticket"
CREATE_AUTH = "create_auth"
CHANGE_AUTH = "change_auth"
CANCEL_AUTH = "cancel_auth"
RESET_PERMANENT_CODE = "reset_permanent_code"
INFO_TYPES = (SUITE_TICKET, CREATE_AUTH, CHANGE_AUTH, CANCEL_AUTH, RESET_PERMANENT_CODE)

# Ours: an event for another suite (the SuiteId inside is not ours).
OTHER_SUITE_ERROR = -40101

MAX_CODE_BYTES = 512  # SuiteTicket, AuthCode: at most 512 bytes (90628, 90642)
_STATE = re.compile(r"[A-Za-z0-9]{0,32}")  # get_customized_auth_url's rule for state (98744)
_CORP_ID = re.compile(r"[A-Za-z0-9_=+./-]{1,64}")
_TIMESTAMP = re.compile(r"[0-9]{1,12}")


@dataclass(frozen=True)
class CommandEvent:
    """One decrypted command event; the ticket and the AuthCode never in a repr."""

    info_type: str
    suite_id: str
    timestamp: int
    suite_ticket: str = field(default="", repr=False)
    auth_code: str = field(default="", repr=False)
    auth_corp_id: str = ""
    state: str = ""


class CommandCrypto:
    """The template's Token and EncodingAESKey, opening what is sealed for the SuiteID or for
    the provider's corp id."""

    def __init__(
        self, *, token: str, aes_key: str, suite_id: str, provider_corp_id: str, max_skew: int
    ):
        self.suite_id = suite_id
        self._cryptos = {
            receive_id: CallbackCrypto(
                token=token, encoding_aes_key=aes_key, receive_id=receive_id, max_skew=max_skew
            )
            for receive_id in (suite_id, provider_corp_id)
        }
        self.max_skew = max_skew

    def __repr__(self) -> str:
        return f"CommandCrypto(suite_id={self.suite_id!r})"

    def _decrypt_any(self, encrypted: str) -> str:
        """The message, sealed for any of our receiveids; the last refusal otherwise."""
        refusal = None
        for crypto in self._cryptos.values():
            try:
                return crypto.decrypt(encrypted)
            except CallbackError as error:
                if error.code != RECEIVE_ID_ERROR:
                    raise
                refusal = error
        raise refusal

    def verify_url(self, msg_signature, timestamp, nonce, echostr, *, now=None) -> str:
        """The GET URL check: the decrypted echostr to answer with."""
        first = next(iter(self._cryptos.values()))
        first._verify_fresh(msg_signature, timestamp, nonce, echostr, now)
        return self._decrypt_any(echostr)

    def open_post(self, msg_signature, timestamp, nonce, body: bytes, *, now=None) -> dict:
        """An event POST: the inner XML's fields, once the signature, the timestamp and the
        receiveid (that of ``ToUserName`` when given) are checked."""
        outer = parse_xml(body)
        encrypted = outer.get("Encrypt", "")
        if not encrypted:
            raise CallbackError(XML_ERROR, "The callback has no Encrypt element.")
        to_user = outer.get("ToUserName")
        first = next(iter(self._cryptos.values()))
        first._verify_fresh(msg_signature, timestamp, nonce, encrypted, now)
        if to_user is None:
            return parse_xml(self._decrypt_any(encrypted))
        crypto = self._cryptos.get(to_user)
        if crypto is None:
            raise CallbackError(RECEIVE_ID_ERROR, "The callback was sent to another suite.")
        return parse_xml(crypto.decrypt(encrypted))

    def event(self, inner: dict[str, str]) -> CommandEvent | None:
        """The event in a decrypted command callback; None for an InfoType we do not act on."""
        return command_event(inner, suite_id=self.suite_id)


def _required(inner: dict, name: str, info_type: str) -> str:
    value = inner.get(name, "")
    if not value:
        raise CallbackError(XML_ERROR, f"The {info_type} event has no {name}.")
    if len(value.encode()) > MAX_CODE_BYTES:
        raise CallbackError(XML_ERROR, f"The {info_type} event's {name} is too long.")
    return value


def command_event(inner: dict[str, str], *, suite_id: str) -> CommandEvent | None:
    if inner.get("SuiteId") != suite_id:
        raise CallbackError(OTHER_SUITE_ERROR, "The command event is for another suite.")
    info_type = inner.get("InfoType", "")
    if not info_type:
        raise CallbackError(XML_ERROR, "The command event has no InfoType.")
    if info_type not in INFO_TYPES:
        return None
    timestamp = inner.get("TimeStamp", "")
    if not _TIMESTAMP.fullmatch(timestamp):
        raise CallbackError(XML_ERROR, f"The {info_type} event has no valid TimeStamp.")
    event = {"info_type": info_type, "suite_id": suite_id, "timestamp": int(timestamp)}
    if info_type == SUITE_TICKET:
        event["suite_ticket"] = _required(inner, "SuiteTicket", info_type)
    elif info_type in (CREATE_AUTH, RESET_PERMANENT_CODE):
        event["auth_code"] = _required(inner, "AuthCode", info_type)
    else:
        corp_id = _required(inner, "AuthCorpId", info_type)
        if not _CORP_ID.fullmatch(corp_id):
            raise CallbackError(XML_ERROR, f"The {info_type} event's AuthCorpId is malformed.")
        event["auth_corp_id"] = corp_id
    state = inner.get("State", "")
    if info_type in (CREATE_AUTH, CHANGE_AUTH) and state:
        if not _STATE.fullmatch(state):
            raise CallbackError(XML_ERROR, f"The {info_type} event's State is malformed.")
        event["state"] = state
    return CommandEvent(**event)


def command_event_xml(event: CommandEvent) -> str:
    """The decrypted XML WeCom sends for ``event`` (the sandbox's side; 90628, 90642, 97175)."""
    parts = [
        f"<SuiteId><![CDATA[{event.suite_id}]]></SuiteId>",
        f"<InfoType><![CDATA[{event.info_type}]]></InfoType>",
        f"<TimeStamp>{event.timestamp}</TimeStamp>",
    ]
    if event.suite_ticket:
        parts.append(f"<SuiteTicket><![CDATA[{event.suite_ticket}]]></SuiteTicket>")
    if event.auth_code:
        parts.append(f"<AuthCode><![CDATA[{event.auth_code}]]></AuthCode>")
    if event.auth_corp_id:
        parts.append(f"<AuthCorpId><![CDATA[{event.auth_corp_id}]]></AuthCorpId>")
    if event.info_type in (CREATE_AUTH, CHANGE_AUTH):
        parts.append(f"<State><![CDATA[{event.state}]]></State><ExtraInfo></ExtraInfo>")
    return "<xml>" + "".join(parts) + "</xml>"
