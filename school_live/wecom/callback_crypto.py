"""WeCom's callback crypto (接收消息, docs 90968 and 90238; api.md §16).

WeCom signs and encrypts what it POSTs to our callback URL:

- ``msg_signature = sha1("".join(sorted([token, timestamp, nonce, msg_encrypt])))``, lower-case hex;
- ``AESKey = base64decode(EncodingAESKey + "=")`` (32 bytes), AES-256-CBC with IV = ``AESKey[:16]``
  and PKCS#7 padding to a multiple of **32** bytes;
- plaintext = 16 random bytes + the message's length (4 bytes, big-endian) + message + receiveid,
  where a self-built app's receiveid is the corp id and must equal ours.

The cipher and the padding are the ``cryptography`` package's; this module only frames them as WeCom
does (WeCom's own sample library, WXBizMsgCrypt, is not on PyPI). ``encrypt`` is what WeCom does on
its side: the sandbox uses it to send real callbacks, and the official test vector pins both ways.

Errors carry WeCom's library codes (−40001 signature, −40002 XML, …) for the logs; none of them ever
contains the token or the key.

What comes from outside is read strictly: XML must be UTF-8 (no BOM; a declaration may name UTF-8 and
nothing else, refused before any parser looks up a codec), and the signed ``timestamp`` must be whole
seconds within ``max_skew`` of our clock, either way (``WECOM_CALLBACK_MAX_SKEW_SECONDS``).
"""

import base64
import binascii
import dataclasses
import hashlib
import hmac
import os
import re
import struct

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from defusedxml import ElementTree
from defusedxml.common import DefusedXmlException
from django.conf import settings
from django.views.decorators.debug import sensitive_variables

from school_live.wecom.redact import register_secret

# WeCom's sample library's error codes (doc 90968), kept for the logs.
SIGNATURE_ERROR = -40001
XML_ERROR = -40002
AES_KEY_ERROR = -40004
RECEIVE_ID_ERROR = -40005
DECRYPT_ERROR = -40007
BUFFER_ERROR = -40008
BASE64_ERROR = -40010
# Ours, not the sample library's: a timestamp that is not whole seconds or is outside the window.
TIMESTAMP_ERROR = -40100

BLOCK_BYTES = 32
RANDOM_BYTES = 16
ENCODING_AES_KEY_LENGTH = 43
DEFAULT_MAX_SKEW = 24 * 3600  # seconds either way
_TIMESTAMP = re.compile(r"[0-9]{1,12}")


class CallbackError(Exception):
    """A callback that cannot be trusted or read; ``code`` is WeCom's library error code."""

    def __init__(self, code: int, message: str):
        super().__init__(message)
        self.code = code


@dataclasses.dataclass(frozen=True, repr=False)
class CallbackCrypto:
    """The app's 接收消息 settings: the Token, the EncodingAESKey and our corp id."""

    token: str
    encoding_aes_key: str
    receive_id: str
    max_skew: int = DEFAULT_MAX_SKEW  # seconds either way that a signed timestamp may be off

    def __post_init__(self):
        register_secret(self.token)
        register_secret(self.encoding_aes_key)
        if len(self.encoding_aes_key) != ENCODING_AES_KEY_LENGTH:
            raise CallbackError(
                AES_KEY_ERROR,
                "WECOM_CALLBACK_AES_KEY must be the 43 characters of the app's EncodingAESKey.",
            )
        try:
            key = base64.b64decode(self.encoding_aes_key + "=", validate=True)
        except binascii.Error:
            key = b""
        if len(key) != 32:
            raise CallbackError(
                AES_KEY_ERROR,
                "WECOM_CALLBACK_AES_KEY is not a valid EncodingAESKey: copy it again from the "
                "app's 接收消息 settings in WeCom's admin console.",
            )
        object.__setattr__(self, "_key", key)

    def __repr__(self) -> str:
        return f"CallbackCrypto(receive_id={self.receive_id!r})"

    @classmethod
    def from_settings(cls) -> "CallbackCrypto | None":
        """The configured crypto, or None when callbacks are not set up (the sweep alone then keeps
        data fresh). A malformed key raises ``CallbackError``."""
        token = settings.WECOM_CALLBACK_TOKEN
        key = settings.WECOM_CALLBACK_AES_KEY
        if not token or not key or not settings.WECOM_CORP_ID:
            return None
        return cls(
            token=token,
            encoding_aes_key=key,
            receive_id=settings.WECOM_CORP_ID,
            max_skew=settings.WECOM_CALLBACK_MAX_SKEW_SECONDS,
        )

    @sensitive_variables("self")
    def signature(self, timestamp: str, nonce: str, encrypted: str) -> str:
        parts = sorted([self.token, str(timestamp), str(nonce), encrypted])
        return hashlib.sha1("".join(parts).encode()).hexdigest()  # noqa: S324 - WeCom's scheme

    def verify(self, msg_signature: str, timestamp: str, nonce: str, encrypted: str) -> None:
        expected = self.signature(timestamp, nonce, encrypted)
        if not hmac.compare_digest(expected.encode(), (msg_signature or "").encode()):
            raise CallbackError(SIGNATURE_ERROR, "The callback's msg_signature does not match.")

    def check_timestamp(self, timestamp: str, now: float) -> None:
        """The signed timestamp must be whole seconds within ``max_skew`` of ``now``: an old
        request (a replay) or a clock far off is refused."""
        if not isinstance(timestamp, str) or not _TIMESTAMP.fullmatch(timestamp):
            raise CallbackError(TIMESTAMP_ERROR, "The callback's timestamp is not whole seconds.")
        skew = int(timestamp) - int(now)
        if abs(skew) > self.max_skew:
            raise CallbackError(
                TIMESTAMP_ERROR,
                f"The callback's timestamp is {skew:+d} s from our clock, outside the window of "
                f"±{self.max_skew} s (WECOM_CALLBACK_MAX_SKEW_SECONDS): an old request, or a "
                "clock that is off.",
            )

    def _verify_fresh(self, msg_signature, timestamp, nonce, encrypted, now) -> None:
        """The signature first, then (when ``now`` is given) the timestamp it covers."""
        self.verify(msg_signature, timestamp, nonce, encrypted)
        if now is not None:
            self.check_timestamp(timestamp, now)

    def _cipher(self) -> Cipher:
        key = self._key  # type: ignore[attr-defined]
        return Cipher(algorithms.AES(key), modes.CBC(key[:16]))

    def decrypt(self, encrypted: str) -> str:
        """The message inside ``encrypted``, after checking that it was sent to our corp."""
        try:
            data = base64.b64decode(encrypted, validate=True)
        except (binascii.Error, ValueError):
            raise CallbackError(BASE64_ERROR, "The callback's payload is not base64.") from None
        if not data or len(data) % 16:
            raise CallbackError(DECRYPT_ERROR, "The callback's payload is not AES blocks.")
        decryptor = self._cipher().decryptor()
        padded = decryptor.update(data) + decryptor.finalize()
        unpadder = padding.PKCS7(BLOCK_BYTES * 8).unpadder()
        try:
            plain = unpadder.update(padded) + unpadder.finalize()
        except ValueError:
            raise CallbackError(
                DECRYPT_ERROR, "The callback does not decrypt with our key."
            ) from None
        if len(plain) < RANDOM_BYTES + 4:
            raise CallbackError(BUFFER_ERROR, "The callback's payload is too short.")
        (length,) = struct.unpack(">I", plain[RANDOM_BYTES : RANDOM_BYTES + 4])
        body = plain[RANDOM_BYTES + 4 :]
        if length > len(body):
            raise CallbackError(BUFFER_ERROR, "The callback's message length is wrong.")
        try:
            message = body[:length].decode()
            receive_id = body[length:].decode()
        except UnicodeDecodeError:
            raise CallbackError(BUFFER_ERROR, "The callback's message is not UTF-8.") from None
        if not hmac.compare_digest(receive_id.encode(), self.receive_id.encode()):
            raise CallbackError(RECEIVE_ID_ERROR, "The callback was sent to another corp id.")
        return message

    def encrypt(self, message: str, *, random_prefix: bytes | None = None) -> str:
        """What WeCom sends: base64 of AES over random + length + message + receiveid."""
        prefix = random_prefix if random_prefix is not None else os.urandom(RANDOM_BYTES)
        raw = message.encode()
        plain = prefix + struct.pack(">I", len(raw)) + raw + self.receive_id.encode()
        padder = padding.PKCS7(BLOCK_BYTES * 8).padder()
        padded = padder.update(plain) + padder.finalize()
        encryptor = self._cipher().encryptor()
        return base64.b64encode(encryptor.update(padded) + encryptor.finalize()).decode()

    def verify_url(
        self, msg_signature: str, timestamp: str, nonce: str, echostr: str, *, now=None
    ) -> str:
        """The GET URL check: verify (and, given ``now``, check the timestamp), decrypt, and
        return the plaintext to answer with."""
        self._verify_fresh(msg_signature, timestamp, nonce, echostr, now)
        return self.decrypt(echostr)

    def open_post(
        self, msg_signature: str, timestamp: str, nonce: str, body: bytes, *, now=None
    ) -> str:
        """An event POST: the outer XML's ``Encrypt``, verified (and, given ``now``, its timestamp
        checked) and decrypted to the inner XML."""
        outer = parse_xml(body)
        encrypted = outer.get("Encrypt", "")
        if not encrypted:
            raise CallbackError(XML_ERROR, "The callback has no Encrypt element.")
        to_user = outer.get("ToUserName")
        if to_user is not None and to_user != self.receive_id:
            raise CallbackError(RECEIVE_ID_ERROR, "The callback was sent to another corp id.")
        self._verify_fresh(msg_signature, timestamp, nonce, encrypted, now)
        return self.decrypt(encrypted)

    def seal_post(self, inner_xml: str, *, timestamp: str, nonce: str, agent_id: str) -> tuple:
        """What WeCom POSTs for ``inner_xml``: (query parameters, body). Used by the sandbox."""
        encrypted = self.encrypt(inner_xml)
        body = (
            f"<xml><ToUserName><![CDATA[{self.receive_id}]]></ToUserName>"
            f"<AgentID><![CDATA[{agent_id}]]></AgentID>"
            f"<Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>"
        )
        params = {
            "msg_signature": self.signature(timestamp, nonce, encrypted),
            "timestamp": timestamp,
            "nonce": nonce,
        }
        return params, body.encode()


MAX_XML_BYTES = 64 * 1024
# The XML declaration, strictly: version, then optionally encoding and standalone, in that order,
# with XML's own white space (S) between.
_S = r"[ \t\r\n]"
_DECLARATION = re.compile(
    rf"<\?xml{_S}+version{_S}*={_S}*(['\"])1\.[0-9]+\1"
    rf"(?:{_S}+encoding{_S}*={_S}*(['\"])(?P<encoding>[A-Za-z][A-Za-z0-9._-]*)\2)?"
    rf"(?:{_S}+standalone{_S}*={_S}*(['\"])(?:yes|no)\3)?{_S}*\?>"
)
# How a declaration may name UTF-8: its name, and the alias every parser reads the same way.
UTF8_NAMES = frozenset({"utf-8", "utf8"})


def utf8_check(data: bytes) -> None:
    """XML from outside is UTF-8, as WeCom sends it: bytes that are not, a BOM, a malformed
    declaration or one naming another encoding (which a parser would look up as a codec:
    ``base64``, ``rot13``, an unknown name…) is an XML error, before any parser sees it."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise CallbackError(XML_ERROR, "The callback's XML is not UTF-8.") from None
    if text.startswith("\ufeff"):
        raise CallbackError(XML_ERROR, "The callback's XML starts with a byte order mark.")
    if "\x00" in text:  # never in XML; a parser would take it for UTF-16
        raise CallbackError(XML_ERROR, "The callback's XML holds a NUL character.")
    if not text.startswith("<?xml"):
        return
    declaration = _DECLARATION.match(text)
    if declaration is None:
        raise CallbackError(XML_ERROR, "The callback's XML declaration cannot be read.")
    encoding = declaration["encoding"]
    if encoding is not None and encoding.lower() not in UTF8_NAMES:
        raise CallbackError(XML_ERROR, "The callback's XML declares an encoding other than UTF-8.")


def parse_xml(data: bytes | str) -> dict[str, str]:
    """The children of WeCom's flat ``<xml>`` document as a dict of text. Only UTF-8 is read
    (``utf8_check``); defusedxml refuses entities and DTDs; anything that is not a flat ``<xml>``
    is an XML error."""
    try:
        if isinstance(data, str):
            data = data.encode()
    except UnicodeError:
        raise CallbackError(XML_ERROR, "The callback's XML is not UTF-8.") from None
    if not data or len(data) > MAX_XML_BYTES:
        raise CallbackError(XML_ERROR, "The callback's XML is empty or too large.")
    utf8_check(data)
    try:
        root = ElementTree.fromstring(data, forbid_dtd=True)
    except (ElementTree.ParseError, DefusedXmlException, ValueError, LookupError):
        raise CallbackError(XML_ERROR, "The callback's XML cannot be read.") from None
    if root.tag != "xml":
        raise CallbackError(XML_ERROR, "The callback's XML has no <xml> root.")
    return {child.tag: (child.text or "").strip() for child in root}


LIVING_STATUS_CHANGE = "living_status_change"
# doc 94145: 0 预约中, 1 直播中, 2 已结束, 4 已取消 (3 已过期 is never called back).
LIVING_STATUSES = frozenset({0, 1, 2, 3, 4})


@dataclasses.dataclass(frozen=True)
class LivingStatusChange:
    """A decrypted ``living_status_change`` event (doc 94145)."""

    livingid: str
    status: int
    create_time: int
    from_user: str
    agent_id: str


def living_status_change(inner: dict[str, str]) -> LivingStatusChange | None:
    """The event in a decrypted callback, None for any other event or message type (which we
    acknowledge and ignore). A living_status_change with a missing or malformed field is an error."""
    if inner.get("MsgType") != "event" or inner.get("Event") != LIVING_STATUS_CHANGE:
        return None
    livingid = inner.get("LivingId", "")
    if not livingid or len(livingid) > 128:
        raise CallbackError(XML_ERROR, "The living_status_change event has no valid LivingId.")
    try:
        status = int(inner.get("Status", ""))
        create_time = int(inner.get("CreateTime", "") or 0)
    except ValueError:
        raise CallbackError(XML_ERROR, "The living_status_change event has a bad Status.") from None
    if status not in LIVING_STATUSES:
        raise CallbackError(XML_ERROR, "The living_status_change event has an unknown Status.")
    return LivingStatusChange(
        livingid=livingid,
        status=status,
        create_time=create_time,
        from_user=inner.get("FromUserName", "")[:64],
        agent_id=inner.get("AgentID", "")[:32],
    )
