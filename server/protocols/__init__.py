"""Sans-IO cores for the three real-time WebSocket protocols (docs/protocol.md).

`transport_ws` (graphql-transport-ws), `legacy_ws` (subscriptions-transport-ws' graphql-ws) and
`appsync` (the AppSync real-time protocol) each hold one connection class, its messages and its
transition tables. `negotiate` picks one from the upgrade request. Nothing here does I/O.
"""

from server.protocols import appsync, legacy_ws, transport_ws
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
from server.protocols._handshake import (
    AppSyncHandshake,
    ProtocolChoice,
    ProtocolName,
    decode_appsync_handshake,
    encode_appsync_header,
    negotiate,
    split_subprotocols,
)
from server.protocols.appsync import AppSyncConnection
from server.protocols.legacy_ws import LegacyWSConnection
from server.protocols.transport_ws import TransportWSConnection

__all__ = [
    "AppSyncConnection",
    "AppSyncHandshake",
    "CloseCode",
    "CloseConnection",
    "HandshakeError",
    "LegacyWSConnection",
    "LocalProtocolError",
    "MessageError",
    "NEED_DATA",
    "NeedData",
    "ProtocolChoice",
    "ProtocolConfig",
    "ProtocolError",
    "ProtocolName",
    "RemoteProtocolError",
    "Role",
    "TransportWSConnection",
    "appsync",
    "decode_appsync_handshake",
    "encode_appsync_header",
    "legacy_ws",
    "negotiate",
    "split_subprotocols",
    "transport_ws",
]
