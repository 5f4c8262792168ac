"""Opaque paging keys: next_key and next_cursor that a client can only hand back.

A key carries a position and an HMAC over (scope, position), where the scope names the endpoint
and the living (or teacher). So a key is not an integer, a key from one living does not work for
another, and a key the server never issued is refused (40058), as WeCom refuses a made-up one.
"""

import base64
import binascii
import hashlib
import hmac
import secrets


class KeySigner:
    def __init__(self, secret: bytes | None = None):
        self._secret = secret or secrets.token_bytes(32)

    def _mac(self, scope: str, position: int) -> bytes:
        message = f"{scope}\x00{position}".encode()
        return hmac.new(self._secret, message, hashlib.sha256).digest()[:15]

    def _mask(self, tag: bytes) -> int:
        # The position is masked too, so that consecutive keys share no visible prefix.
        return int.from_bytes(hmac.new(self._secret, b"mask" + tag, hashlib.sha256).digest()[:6])

    def issue(self, scope: str, position: int) -> str:
        tag = self._mac(scope, position)
        raw = tag + (position ^ self._mask(tag)).to_bytes(6, "big")
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    def parse(self, scope: str, key: str) -> int | None:
        """The position a key stands for, or None if this server did not issue it for `scope`."""
        try:
            raw = base64.urlsafe_b64decode(key + "=" * (-len(key) % 4))
        except (binascii.Error, ValueError):
            return None
        if len(raw) != 21:
            return None
        tag = raw[:15]
        position = int.from_bytes(raw[15:], "big") ^ self._mask(tag)
        if not hmac.compare_digest(tag, self._mac(scope, position)):
            return None
        return position
