"""Opaque, signed `nextToken`s, sans-IO.

A token is `base64url(JSON payload) "." base64url(HMAC-SHA256(secret, payload)[:16])`. The
payload names the model and a hash of the query (operation, filter, lastSync, ...) it was
issued for, so a token replayed against another model or query, edited, or forged is refused
with BadRequest instead of silently paging through the wrong result set. Clients must treat
tokens as opaque; the store is free to change what it puts inside.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from typing import Any, Mapping

from server.errors import BadRequest

__all__ = ["CursorCodec", "query_hash"]

_SIG_BYTES = 16


def query_hash(*parts: Any) -> str:
    """A short stable digest of the query a token belongs to (filter, operation, ...)."""
    blob = json.dumps(parts, sort_keys=True, separators=(",", ":"), default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def _b64e(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _b64d(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class CursorCodec:
    """Encodes and verifies `nextToken`s under one store secret."""

    def __init__(self, secret: bytes) -> None:
        if len(secret) < 16:
            raise ValueError("the cursor secret must be at least 16 bytes")
        self._secret = secret

    def _sign(self, body: bytes) -> bytes:
        return hmac.new(self._secret, body, hashlib.sha256).digest()[:_SIG_BYTES]

    def encode(self, *, model: str, query: str, state: Mapping[str, Any]) -> str:
        """A token resuming `state` for `model`'s `query` (see `query_hash`)."""
        body = json.dumps(
            {"m": model, "q": query, "s": dict(state)}, separators=(",", ":"), sort_keys=True
        ).encode()
        return f"{_b64e(body)}.{_b64e(self._sign(body))}"

    def decode(self, token: str, *, model: str, query: str) -> dict[str, Any]:
        """The state a token carries.

        Raises:
            BadRequest: the token is malformed, forged, edited, or from another model or query.
        """
        if not isinstance(token, str) or token.count(".") != 1 or len(token) > 8192:
            raise BadRequest("invalid nextToken: pass back the nextToken of the previous page unchanged")
        body_text, sig_text = token.split(".")
        try:
            body = _b64d(body_text)
            sig = _b64d(sig_text)
        except (binascii.Error, ValueError) as exc:
            raise BadRequest("invalid nextToken: it is not a token this server issued") from exc
        if not hmac.compare_digest(sig, self._sign(body)):
            raise BadRequest("invalid nextToken: signature mismatch (the token was edited or forged)")
        try:
            payload = json.loads(body)
        except ValueError as exc:  # pragma: no cover - signed bodies are always our JSON
            raise BadRequest("invalid nextToken: unreadable") from exc
        if payload.get("m") != model:
            raise BadRequest(
                f"invalid nextToken: it was issued for {payload.get('m')!r}, not {model!r}"
            )
        if payload.get("q") != query:
            raise BadRequest(
                "invalid nextToken: it belongs to a different query (filter, limit base or lastSync "
                "changed); restart without nextToken"
            )
        state = payload.get("s")
        if not isinstance(state, dict):  # pragma: no cover - we always write a dict
            raise BadRequest("invalid nextToken: unreadable")
        return state
