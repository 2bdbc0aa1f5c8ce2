"""Sans-IO cores for the three real-time WebSocket protocols (docs/protocol.md).

`transport_ws` (graphql-transport-ws), `legacy_ws` (subscriptions-transport-ws' graphql-ws) and
`appsync` (the AppSync real-time protocol) each hold one connection class, its messages and its
transition tables. `negotiate` picks one from the upgrade request. Nothing here does I/O.
"""

from server.protocols import legacy_ws, transport_ws
from server.protocols._common import NEED_DATA, NeedData, ProtocolConfig, Role
from server.protocols._errors import (
    CloseCode,
    CloseConnection,
    HandshakeError,
    LocalProtocolError,
    MessageError,
    ProtocolError,
    RemoteProtocolError,
)

__all__ = [
    "CloseCode",
    "CloseConnection",
    "HandshakeError",
    "LocalProtocolError",
    "MessageError",
    "NEED_DATA",
    "NeedData",
    "ProtocolConfig",
    "ProtocolError",
    "RemoteProtocolError",
    "Role",
    "legacy_ws",
    "transport_ws",
]
