"""Errors and close codes of the WebSocket protocol cores.

    SynclineError                       (server.errors)
    └── ProtocolError                   carries `close_code` and `reason` (the WebSocket close frame)
        ├── RemoteProtocolError         the peer broke the protocol; close the socket with the code
        │   └── HandshakeError          the upgrade request is unusable (bad AppSync `header`);
        │                               answer the HTTP upgrade with `status_hint` (400)
        └── LocalProtocolError          we tried to send what the protocol forbids: a bug in the caller
            └── MessageError            a message was built with invalid fields

A core never raises anything else on any input (tests/protocols prove it with hypothesis).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from server.errors import ClientError, ServerError, SynclineError


class CloseCode(enum.IntEnum):
    """Every WebSocket close code the cores and their adapters use (docs/protocol.md lists them)."""

    NORMAL = 1000
    GOING_AWAY = 1001
    """Server shutdown, or the connection reached its configured lifetime."""
    INTERNAL_ERROR = 1011
    """Our bug, or (legacy graphql-ws) the connection_init was refused, as the reference server does."""
    BAD_REQUEST = 4400
    """graphql-ws: invalid message (bad JSON, unknown type, wrong field types)."""
    UNAUTHORIZED = 4401
    """graphql-ws: subscribe before the connection was acknowledged."""
    FORBIDDEN = 4403
    """graphql-ws: the connection_init payload did not authenticate."""
    INIT_TIMEOUT = 4408
    """No connection_init within the configured wait."""
    DUPLICATE_OPERATION = 4409
    """graphql-ws: `Subscriber for <id> already exists`."""
    MESSAGE_TOO_LARGE = 4413
    """Syncline: an inbound message exceeded `max_message_bytes` (mirrors HTTP 413)."""
    TOO_MANY_INIT = 4429
    """graphql-ws: more than one connection_init."""
    SLOW_CONSUMER = 4503
    """Syncline: the per-connection send queue overflowed; the client should reconnect and resync."""


@dataclass(frozen=True, slots=True)
class CloseConnection:
    """What the adapter must do after flushing `data_to_send()`: close the socket with this frame."""

    code: int
    reason: str


class ProtocolError(SynclineError):
    """A protocol violation; `close_code`/`reason` are the close frame the adapter sends."""

    def __init__(self, reason: str, *, close_code: int = CloseCode.BAD_REQUEST) -> None:
        super().__init__(reason)
        self.reason = reason
        self.close_code = int(close_code)

    @property
    def close(self) -> CloseConnection:
        return CloseConnection(self.close_code, self.reason)


class RemoteProtocolError(ProtocolError, ClientError):
    """The peer sent something the protocol forbids. The connection is closed afterwards."""

    error_type = "BadRequest"


class HandshakeError(RemoteProtocolError):
    """The upgrade request itself is unusable; answer it with HTTP `status_hint`."""

    def __init__(self, reason: str, *, status_hint: int = 400) -> None:
        super().__init__(reason, close_code=CloseCode.BAD_REQUEST)
        self.status_hint = status_hint


class LocalProtocolError(ProtocolError, ServerError):
    """We tried to send something the protocol forbids in the current state."""

    error_type = "InternalFailure"

    def __init__(self, reason: str, *, close_code: int = CloseCode.INTERNAL_ERROR) -> None:
        super().__init__(reason, close_code=close_code)


class MessageError(LocalProtocolError):
    """A message was constructed with invalid fields; parsers turn it into a RemoteProtocolError."""
