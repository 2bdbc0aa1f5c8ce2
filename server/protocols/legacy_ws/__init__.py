"""Legacy graphql-ws (Apollo subscriptions-transport-ws), sans-IO."""

from server.protocols.legacy_ws._connection import SUBPROTOCOL, LegacyWSConnection
from server.protocols.legacy_ws._messages import (
    Complete,
    ConnectionAck,
    ConnectionErrorMessage,
    ConnectionInit,
    ConnectionTerminate,
    Data,
    Error,
    KeepAlive,
    Message,
    Start,
    Stop,
    parse,
)
from server.protocols.legacy_ws._state import (
    CONNECTION_TRANSITIONS,
    OPERATION_TRANSITIONS,
    ConnState,
)

__all__ = [
    "CONNECTION_TRANSITIONS",
    "Complete",
    "ConnState",
    "ConnectionAck",
    "ConnectionErrorMessage",
    "ConnectionInit",
    "ConnectionTerminate",
    "Data",
    "Error",
    "KeepAlive",
    "LegacyWSConnection",
    "Message",
    "OPERATION_TRANSITIONS",
    "SUBPROTOCOL",
    "Start",
    "Stop",
    "parse",
]
