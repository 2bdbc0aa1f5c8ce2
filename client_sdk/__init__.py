"""Syncline's offline-first Python client (a local SQLite replica that syncs).

It never imports `server`: the contract between the two is the GraphQL schema and
docs/protocol.md (see docs/sync.md for the guarantees).
"""

from ._auth import ApiKey, Auth, Headers, Jwt, SigV4
from ._client import ConflictHandler, ModelHandle, Status, SyncClient, Timeouts
from ._errors import (
    AuthRejected,
    InvalidItem,
    InvalidQuery,
    LocalError,
    NetworkError,
    RecordNotFound,
    RemoteError,
    ServerError,
    SyncError,
    SyncTimeout,
    UnknownModel,
)
from ._model import FieldDef, ModelDef
from ._outbox import DISCARD, RETRY
from ._replica import Change, ConflictRecord, DeadLetter

__all__ = [
    "DISCARD",
    "RETRY",
    "ApiKey",
    "Auth",
    "AuthRejected",
    "Change",
    "ConflictHandler",
    "ConflictRecord",
    "DeadLetter",
    "FieldDef",
    "Headers",
    "InvalidItem",
    "InvalidQuery",
    "Jwt",
    "LocalError",
    "ModelDef",
    "ModelHandle",
    "NetworkError",
    "RecordNotFound",
    "RemoteError",
    "ServerError",
    "SigV4",
    "Status",
    "SyncClient",
    "SyncError",
    "SyncTimeout",
    "Timeouts",
    "UnknownModel",
]
