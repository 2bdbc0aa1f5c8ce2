"""Choosing the protocol from the upgrade request, and decoding AppSync's handshake auth.

AppSync clients ask for subprotocol `graphql-ws`, like Apollo's legacy clients, but they also
send the connection's auth: either as query parameters
(`?header=<base64 JSON of headers>&payload=<base64 JSON, usually e30=>`) or as an extra
subprotocol entry `header-<base64url JSON of headers>`. That is how the two are told apart.
"""

from __future__ import annotations

import base64
import binascii
import enum
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from server.protocols._common import ProtocolConfig, Role
from server.protocols._errors import HandshakeError
from server.protocols.appsync import AppSyncConnection
from server.protocols.legacy_ws import LegacyWSConnection
from server.protocols.transport_ws import TransportWSConnection

TRANSPORT_WS = "graphql-transport-ws"
GRAPHQL_WS = "graphql-ws"
HEADER_PREFIX = "header-"


class ProtocolName(enum.Enum):
    TRANSPORT_WS = "graphql-transport-ws"
    LEGACY_WS = "graphql-ws"
    APPSYNC = "appsync"


@dataclass(frozen=True, kw_only=True, slots=True)
class ProtocolChoice:
    """The protocol to speak and the subprotocol to echo in the 101 response (None: echo none)."""

    protocol: ProtocolName
    subprotocol: str | None

    def server_connection(
        self, config: ProtocolConfig | None = None
    ) -> TransportWSConnection | LegacyWSConnection | AppSyncConnection:
        """A fresh server-role core for this protocol."""
        if self.protocol is ProtocolName.TRANSPORT_WS:
            return TransportWSConnection(Role.SERVER, config)
        if self.protocol is ProtocolName.LEGACY_WS:
            return LegacyWSConnection(Role.SERVER, config)
        return AppSyncConnection(Role.SERVER, config)


def split_subprotocols(requested: str | Sequence[str]) -> list[str]:
    """`Sec-WebSocket-Protocol` values (one header string or a list of them) → entries."""
    values = [requested] if isinstance(requested, str) else list(requested)
    return [entry.strip() for value in values for entry in value.split(",") if entry.strip()]


def negotiate(requested_subprotocols: str | Sequence[str], query_params: Mapping[str, str]) -> ProtocolChoice:
    """Pick the protocol for an upgrade request.

    1. AppSync when the request carries AppSync auth: a `header` or `payload` query parameter, or
       a `header-...` subprotocol entry (the echoed subprotocol is `graphql-ws` if offered);
    2. else graphql-transport-ws when offered (preferred when a client offers both);
    3. else legacy graphql-ws when offered.

    Raises:
        HandshakeError: none of our subprotocols was offered (answer the upgrade with HTTP 400).
    """
    entries = split_subprotocols(requested_subprotocols)
    appsync_auth = any(e.startswith(HEADER_PREFIX) for e in entries)
    if appsync_auth or "header" in query_params or "payload" in query_params:
        echo = GRAPHQL_WS if GRAPHQL_WS in entries else None
        return ProtocolChoice(protocol=ProtocolName.APPSYNC, subprotocol=echo)
    if TRANSPORT_WS in entries:
        return ProtocolChoice(protocol=ProtocolName.TRANSPORT_WS, subprotocol=TRANSPORT_WS)
    if GRAPHQL_WS in entries:
        return ProtocolChoice(protocol=ProtocolName.LEGACY_WS, subprotocol=GRAPHQL_WS)
    offered = ", ".join(entries) if entries else "none"
    raise HandshakeError(
        f"Unsupported WebSocket subprotocol (offered: {offered}); "
        f"request {TRANSPORT_WS!r}, or {GRAPHQL_WS!r} for the legacy and AppSync protocols"
    )


@dataclass(frozen=True, kw_only=True, slots=True)
class AppSyncHandshake:
    """The auth an AppSync client put on the upgrade request.

    `headers` uses the same names as HTTP headers (`host`, `x-api-key`, `Authorization`, SigV4's
    `x-amz-date`...); `source` says where they came from ("query", "subprotocol" or "none": then
    the adapter falls back to the upgrade request's own headers).
    """

    headers: Mapping[str, str] = field(default_factory=dict)
    payload: Mapping[str, Any] = field(default_factory=dict)
    source: str = "none"


def _b64decode(text: str, what: str) -> bytes:
    """Standard or URL-safe base64, padding optional (clients differ). A space is a `+` that the
    query-string parser turned into a space (gql sends standard base64 unescaped)."""
    cleaned = text.strip().replace(" ", "+").replace("-", "+").replace("_", "/")
    cleaned += "=" * (-len(cleaned) % 4)
    try:
        return base64.b64decode(cleaned, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise HandshakeError(f"{what} is not valid base64: {exc}") from exc


def _json_object(raw: bytes, what: str) -> dict[str, Any]:
    try:
        value = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise HandshakeError(f"{what} does not decode to JSON: {exc}") from exc
    if not isinstance(value, dict):
        raise HandshakeError(f"{what} must decode to a JSON object, got {type(value).__name__}")
    return value


def _headers(raw: bytes, what: str) -> dict[str, str]:
    value = _json_object(raw, what)
    bad = [k for k, v in value.items() if not isinstance(v, str)]
    if bad:
        raise HandshakeError(f"{what} must map header names to strings; not a string: {', '.join(bad[:5])}")
    return value


def decode_appsync_handshake(
    query_params: Mapping[str, str], requested_subprotocols: str | Sequence[str] = ()
) -> AppSyncHandshake:
    """Decode AppSync's connection auth from the `header`/`payload` query parameters or a
    `header-<base64url>` subprotocol entry (the query parameter wins when both are present).

    Raises:
        HandshakeError: bad base64, not JSON, not an object of strings (say which and why).
    """
    payload: dict[str, Any] = {}
    if "payload" in query_params:
        what = "The 'payload' query parameter"
        payload = _json_object(_b64decode(query_params["payload"], what), what)
    if "header" in query_params:
        what = "The 'header' query parameter"
        headers = _headers(_b64decode(query_params["header"], what), what)
        return AppSyncHandshake(headers=headers, payload=payload, source="query")
    for entry in split_subprotocols(requested_subprotocols):
        if entry.startswith(HEADER_PREFIX):
            what = "The 'header-...' subprotocol"
            headers = _headers(_b64decode(entry[len(HEADER_PREFIX) :], what), what)
            return AppSyncHandshake(headers=headers, payload=payload, source="subprotocol")
    return AppSyncHandshake(payload=payload)


def encode_appsync_header(headers: Mapping[str, str]) -> str:
    """The inverse, for the client role and tests: headers → `header-<base64url>` subprotocol entry."""
    raw = json.dumps(dict(headers), separators=(",", ":")).encode()
    return HEADER_PREFIX + base64.urlsafe_b64encode(raw).decode().rstrip("=")
