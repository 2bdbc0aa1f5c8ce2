"""The AppSync real-time WebSocket protocol, sans-IO."""

from server.protocols.appsync._connection import (
    BAD_REQUEST,
    MAX_SUBSCRIPTIONS,
    SUBPROTOCOL,
    UNAUTHORIZED,
    UNSUPPORTED,
    AppSyncConnection,
)
from server.protocols.appsync._messages import (
    Complete,
    ConnectionAck,
    ConnectionErrorMessage,
    ConnectionInit,
    Data,
    Error,
    KeepAlive,
    Message,
    Start,
    StartAck,
    Stop,
    appsync_error,
    parse,
)
from server.protocols.appsync._state import (
    CONNECTION_TRANSITIONS,
    OPERATION_TRANSITIONS,
    ConnState,
    OpStatus,
)

__all__ = [
    "AppSyncConnection",
    "BAD_REQUEST",
    "CONNECTION_TRANSITIONS",
    "Complete",
    "ConnState",
    "ConnectionAck",
    "ConnectionErrorMessage",
    "ConnectionInit",
    "Data",
    "Error",
    "KeepAlive",
    "MAX_SUBSCRIPTIONS",
    "Message",
    "OPERATION_TRANSITIONS",
    "OpStatus",
    "SUBPROTOCOL",
    "Start",
    "StartAck",
    "Stop",
    "UNAUTHORIZED",
    "UNSUPPORTED",
    "appsync_error",
    "parse",
]
