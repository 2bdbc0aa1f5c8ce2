"""graphql-transport-ws (the graphql-ws library's protocol), sans-IO."""

from server.protocols.transport_ws._connection import SUBPROTOCOL, TransportWSConnection
from server.protocols.transport_ws._messages import (
    Complete,
    ConnectionAck,
    ConnectionInit,
    Error,
    Message,
    Next,
    Ping,
    Pong,
    Subscribe,
    parse,
)
from server.protocols.transport_ws._state import (
    CONNECTION_TRANSITIONS,
    OPERATION_TRANSITIONS,
    ConnState,
)

__all__ = [
    "CONNECTION_TRANSITIONS",
    "Complete",
    "ConnState",
    "ConnectionAck",
    "ConnectionInit",
    "Error",
    "Message",
    "Next",
    "OPERATION_TRANSITIONS",
    "Ping",
    "Pong",
    "SUBPROTOCOL",
    "Subscribe",
    "TransportWSConnection",
    "parse",
]
