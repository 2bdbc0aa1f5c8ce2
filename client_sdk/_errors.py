"""The client SDK's errors: one tree, Local faults split from Remote ones.

    SyncError
    ├── LocalError                the app asked for something the replica cannot do
    │   ├── UnknownModel          no such model (not introspected, not given)
    │   ├── InvalidItem           bad field, metadata field written, bad id
    │   ├── RecordNotFound        update/delete of an id the replica does not have
    │   └── InvalidQuery          a `where`/`order_by` the replica cannot translate
    └── RemoteError               the server or the network
        ├── NetworkError          connection refused/reset, 5xx, timeout: retried, never dead-lettered
        │   └── SyncTimeout       (also a TimeoutError)
        ├── AuthRejected          the whole request was refused (401/403): retried after backoff
        └── ServerError           a GraphQL error answer; carries errorType, message, path, data
"""

from __future__ import annotations

from typing import Any, Mapping

__all__ = [
    "AuthRejected",
    "InvalidItem",
    "InvalidQuery",
    "LocalError",
    "NetworkError",
    "RecordNotFound",
    "RemoteError",
    "ServerError",
    "SyncError",
    "SyncTimeout",
    "UnknownModel",
]


class SyncError(Exception):
    """Base of every client SDK error."""


class LocalError(SyncError):
    """The app's request cannot be done by the local replica; fix the call."""


class UnknownModel(LocalError):
    def __init__(self, name: str, known: list[str]) -> None:
        super().__init__(
            f"unknown model {name!r}; known models: {', '.join(sorted(known)) or '(none)'} "
            "(pass models=[ModelDef(...)] or connect once so the client can introspect the server)"
        )
        self.name = name


class InvalidItem(LocalError):
    pass


class RecordNotFound(LocalError):
    def __init__(self, model: str, id: str) -> None:
        super().__init__(f"{model} {id!r} is not in the local replica (or is deleted)")
        self.model = model
        self.id = id


class InvalidQuery(LocalError):
    pass


class RemoteError(SyncError):
    """Something the server or the network did."""


class NetworkError(RemoteError):
    """Transient: the request may or may not have reached the server; resend it as is."""


class SyncTimeout(NetworkError, TimeoutError):
    pass


class AuthRejected(RemoteError):
    """The server refused the credentials for the whole request (HTTP 401/403)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"HTTP {status}: {message}")
        self.status = status


class ServerError(RemoteError):
    """A GraphQL error from the server, with AppSync's errorType and the conflict `data`."""

    def __init__(
        self,
        message: str,
        *,
        error_type: str | None = None,
        path: list[Any] | None = None,
        data: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(f"{error_type or 'Error'}: {message}")
        self.message = message
        self.error_type = error_type
        self.path = path
        self.data = dict(data) if data is not None else None

    @classmethod
    def from_wire(cls, err: Mapping[str, Any]) -> "ServerError":
        ext = err.get("extensions") or {}
        et = err.get("errorType") or (ext.get("errorType") if isinstance(ext, Mapping) else None)
        data = err.get("data")
        if data is None and isinstance(ext, Mapping):
            data = ext.get("data")
        path = err.get("path")
        return cls(
            str(err.get("message", "")),
            error_type=str(et) if et is not None else None,
            path=list(path) if isinstance(path, list) else None,
            data=data if isinstance(data, Mapping) else None,
        )
