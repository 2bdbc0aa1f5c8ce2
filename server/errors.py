"""Syncline's server errors: one hierarchy, each error maps to an AppSync `errorType`.

    SynclineError
    ├── ClientError                 the request is at fault; the message says what to fix
    │   ├── BadRequest              malformed input, unknown fields, forged nextToken, limits
    │   │   └── LimitExceeded       body size, query depth, query cost, page limit
    │   ├── Unauthorized            no identity, or the identity may not do this
    │   ├── NotFound                the item does not exist
    │   ├── ConditionalCheckFailed  a mutation's `condition` did not hold
    │   └── ConflictUnhandled       `_version` conflict the model's strategy refused;
    │                               `data` carries the server's current item
    └── ServerError                 our side is at fault
        ├── ConfigError             syncline.toml, schema.graphql or resolvers.py are wrong
        │   └── SchemaMigrationError  a destructive schema change (names type and field)
        └── StoreError              the store failed (I/O, corruption)

Foreign exceptions are translated at the adapter boundary with `raise Ours(...) from exc`.
"""

from __future__ import annotations

from typing import Any


class SynclineError(Exception):
    """Base of every error Syncline raises on purpose."""

    error_type: str = "InternalFailure"

    def __init__(self, message: str, *, data: Any = None, info: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.data = data
        self.info = info

    def extensions(self) -> dict[str, Any]:
        """The fields AppSync puts on a GraphQL error (Amplify reads `errorType` and `data`)."""
        ext: dict[str, Any] = {"errorType": self.error_type}
        if self.data is not None:
            ext["data"] = self.data
        if self.info is not None:
            ext["errorInfo"] = self.info
        return ext


class ClientError(SynclineError):
    """The request is at fault; retrying it unchanged fails again."""

    error_type = "BadRequest"


class BadRequest(ClientError):
    error_type = "BadRequest"


class LimitExceeded(BadRequest):
    error_type = "LimitExceeded"


class Unauthorized(ClientError):
    error_type = "Unauthorized"


class NotFound(ClientError):
    error_type = "NotFound"


class ConditionalCheckFailed(ClientError):
    error_type = "DynamoDB:ConditionalCheckFailedException"


class ConflictUnhandled(ClientError):
    """A `_version` conflict the model's strategy refused; `data` is the server's item."""

    error_type = "ConflictUnhandled"


class ServerError(SynclineError):
    error_type = "InternalFailure"


class ConfigError(ServerError):
    error_type = "ConfigError"


class SchemaMigrationError(ConfigError):
    error_type = "SchemaMigrationError"


class StoreError(ServerError):
    error_type = "StoreError"
