"""AppSync real-time protocol messages, one class per wire type
(docs.aws.amazon.com/appsync/latest/devguide/real-time-websocket-client.html).

A start carries the operation as a JSON *string* (`payload.data`), because IAM signs exactly
those bytes: `Start.data` keeps the string as received and the parsed fields sit beside it.
Errors use AppSync's shape: `{"errors": [{"errorType": ..., "message": ...}]}`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, NotRequired, TypeAlias, TypedDict

from server.protocols._common import Role, check_id, check_record, check_str, is_record
from server.protocols._errors import MessageError

JSONObject: TypeAlias = Mapping[str, Any]


class AppSyncErrorWire(TypedDict):
    errorType: str
    message: str
    errorCode: NotRequired[int]


class ErrorsPayloadWire(TypedDict):
    errors: list[AppSyncErrorWire]


class ConnectionInitWire(TypedDict):
    type: Literal["connection_init"]
    payload: NotRequired[dict[str, Any]]


class StartExtensionsWire(TypedDict):
    authorization: dict[str, str]


class StartPayloadWire(TypedDict):
    data: str
    extensions: StartExtensionsWire


class StartWire(TypedDict):
    id: str
    type: Literal["start"]
    payload: StartPayloadWire


class StopWire(TypedDict):
    id: str
    type: Literal["stop"]


class ConnectionAckPayloadWire(TypedDict):
    connectionTimeoutMs: int


class ConnectionAckWire(TypedDict):
    type: Literal["connection_ack"]
    payload: ConnectionAckPayloadWire


class ConnectionErrorWire(TypedDict):
    type: Literal["connection_error"]
    payload: ErrorsPayloadWire


class KeepAliveWire(TypedDict):
    type: Literal["ka"]


class StartAckWire(TypedDict):
    id: str
    type: Literal["start_ack"]


class DataWire(TypedDict):
    id: str
    type: Literal["data"]
    payload: dict[str, Any]


class ErrorWire(TypedDict):
    id: NotRequired[str]
    type: Literal["error"]
    payload: ErrorsPayloadWire


class CompleteWire(TypedDict):
    id: str
    type: Literal["complete"]


def appsync_error(error_type: str, message: str, error_code: int | None = None) -> AppSyncErrorWire:
    """One entry of an AppSync `errors` list."""
    error: AppSyncErrorWire = {"errorType": error_type, "message": message}
    if error_code is not None:
        error["errorCode"] = error_code
    return error


def _check_errors(value: object, what: str) -> None:
    if (
        not isinstance(value, (list, tuple))
        or not value
        or not all(
            is_record(e) and isinstance(e.get("errorType"), str) and isinstance(e.get("message"), str)
            for e in value
        )
    ):
        raise MessageError(f'"{what}" message expects errors with string "errorType" and "message"')


@dataclass(frozen=True, kw_only=True, slots=True)
class ConnectionInit:
    """Client → server, optional: auth already happened on the handshake (`header` parameter)."""

    type: Literal["connection_init"] = field(default="connection_init", init=False)
    payload: JSONObject | None = None

    def __post_init__(self) -> None:
        check_record(self.payload, self.type, "payload", optional=True)

    def formatted(self) -> ConnectionInitWire:
        wire: ConnectionInitWire = {"type": self.type}
        if self.payload is not None:
            wire["payload"] = dict(self.payload)
        return wire


@dataclass(frozen=True, kw_only=True, slots=True)
class Start:
    """Client → server: register a subscription.

    `data` is the JSON string of `{query, variables, operationName?}` exactly as sent (IAM signs
    it); `query`, `variables` and `operation_name` are parsed from it on construction.
    `authorization` is the per-start auth headers (`host` plus `x-api-key` / `Authorization` /
    SigV4 headers) the adapter must authenticate before accepting.
    """

    type: Literal["start"] = field(default="start", init=False)
    id: str
    data: str
    authorization: Mapping[str, str] = field(default_factory=dict)
    query: str = field(init=False, default="")
    variables: Mapping[str, Any] | None = field(init=False, default=None)
    operation_name: str | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        check_id(self.id, self.type)
        check_str(self.data, self.type, "payload.data", optional=False)
        if not is_record(self.authorization) or not all(isinstance(v, str) for v in self.authorization.values()):
            raise MessageError('"start" message expects "payload.extensions.authorization" to map names to strings')
        try:
            request = json.loads(self.data)
        except (ValueError, RecursionError) as exc:
            raise MessageError('"start" message expects "payload.data" to be a JSON string') from exc
        if not is_record(request):
            raise MessageError('"start" message expects "payload.data" to hold a JSON object')
        check_str(request.get("query"), self.type, "payload.data.query", optional=False)
        check_record(request.get("variables"), self.type, "payload.data.variables", optional=True)
        check_str(request.get("operationName"), self.type, "payload.data.operationName", optional=True)
        object.__setattr__(self, "query", request["query"])
        object.__setattr__(self, "variables", request.get("variables"))
        object.__setattr__(self, "operation_name", request.get("operationName"))

    @classmethod
    def build(
        cls,
        *,
        id: str,
        query: str,
        variables: Mapping[str, Any] | None = None,
        operation_name: str | None = None,
        authorization: Mapping[str, str] | None = None,
    ) -> Start:
        """A start from its parts (client role); serialises `data` compactly, as Amplify does."""
        request: dict[str, Any] = {"query": query, "variables": dict(variables or {})}
        if operation_name is not None:
            request["operationName"] = operation_name
        data = json.dumps(request, separators=(",", ":"))
        return cls(id=id, data=data, authorization=dict(authorization or {}))

    def formatted(self) -> StartWire:
        return {
            "id": self.id,
            "type": self.type,
            "payload": {"data": self.data, "extensions": {"authorization": dict(self.authorization)}},
        }


@dataclass(frozen=True, kw_only=True, slots=True)
class Stop:
    """Client → server: unregister `id`; the server answers with complete."""

    type: Literal["stop"] = field(default="stop", init=False)
    id: str

    def __post_init__(self) -> None:
        check_id(self.id, self.type)

    def formatted(self) -> StopWire:
        return {"id": self.id, "type": self.type}


@dataclass(frozen=True, kw_only=True, slots=True)
class ConnectionAck:
    """Server → client: `connectionTimeoutMs` is how long the client waits for a ka before it
    drops the socket."""

    type: Literal["connection_ack"] = field(default="connection_ack", init=False)
    connection_timeout_ms: int

    def __post_init__(self) -> None:
        if isinstance(self.connection_timeout_ms, bool) or not isinstance(self.connection_timeout_ms, int):
            raise MessageError('"connection_ack" message expects "payload.connectionTimeoutMs" to be an integer')

    def formatted(self) -> ConnectionAckWire:
        return {"type": self.type, "payload": {"connectionTimeoutMs": self.connection_timeout_ms}}


@dataclass(frozen=True, kw_only=True, slots=True)
class ConnectionErrorMessage:
    """Server → client: the connection itself failed (Amplify reads `errorType` and `errorCode`)."""

    type: Literal["connection_error"] = field(default="connection_error", init=False)
    errors: Sequence[AppSyncErrorWire]

    def __post_init__(self) -> None:
        _check_errors(self.errors, self.type)

    def formatted(self) -> ConnectionErrorWire:
        return {"type": self.type, "payload": {"errors": [dict(e) for e in self.errors]}}  # type: ignore[misc]


@dataclass(frozen=True, kw_only=True, slots=True)
class KeepAlive:
    """Server → client: "ka", at a period shorter than connectionTimeoutMs."""

    type: Literal["ka"] = field(default="ka", init=False)

    def formatted(self) -> KeepAliveWire:
        return {"type": self.type}


@dataclass(frozen=True, kw_only=True, slots=True)
class StartAck:
    """Server → client: the subscription `id` is registered (its authorization passed)."""

    type: Literal["start_ack"] = field(default="start_ack", init=False)
    id: str

    def __post_init__(self) -> None:
        check_id(self.id, self.type)

    def formatted(self) -> StartAckWire:
        return {"id": self.id, "type": self.type}


@dataclass(frozen=True, kw_only=True, slots=True)
class Data:
    """Server → client: one event for `id`, `{"data": {...}, "errors"?: [...]}`."""

    type: Literal["data"] = field(default="data", init=False)
    id: str
    payload: JSONObject

    def __post_init__(self) -> None:
        check_id(self.id, self.type)
        check_record(self.payload, self.type, "payload", optional=False)
        if "data" not in self.payload and "errors" not in self.payload:
            raise MessageError('"data" message expects "payload" to hold "data" or "errors"')

    def formatted(self) -> DataWire:
        return {"id": self.id, "type": self.type, "payload": dict(self.payload)}


@dataclass(frozen=True, kw_only=True, slots=True)
class Error:
    """Server → client. With an `id`: that subscription failed and ended. Without: a message was
    not understood (the connection stays up)."""

    type: Literal["error"] = field(default="error", init=False)
    id: str | None = None
    errors: Sequence[AppSyncErrorWire]

    def __post_init__(self) -> None:
        if self.id is not None:
            check_id(self.id, self.type)
        _check_errors(self.errors, self.type)

    def formatted(self) -> ErrorWire:
        errors: list[AppSyncErrorWire] = [dict(e) for e in self.errors]  # type: ignore[misc]
        wire: ErrorWire = {"type": self.type, "payload": {"errors": errors}}
        if self.id is not None:
            wire["id"] = self.id
        return wire


@dataclass(frozen=True, kw_only=True, slots=True)
class Complete:
    """Server → client: the answer to stop."""

    type: Literal["complete"] = field(default="complete", init=False)
    id: str

    def __post_init__(self) -> None:
        check_id(self.id, self.type)

    def formatted(self) -> CompleteWire:
        return {"id": self.id, "type": self.type}


Message: TypeAlias = (
    ConnectionInit
    | Start
    | Stop
    | ConnectionAck
    | ConnectionErrorMessage
    | KeepAlive
    | StartAck
    | Data
    | Error
    | Complete
)

CLIENT_TYPES = frozenset({"connection_init", "start", "stop"})
SERVER_TYPES = frozenset({"connection_ack", "connection_error", "ka", "start_ack", "data", "error", "complete"})


class UnsupportedType(MessageError):
    """A type the sender may not send; AppSync answers "<type> not supported through the realtime channel"."""


def parse(obj: dict[str, Any], sender: Role) -> Message:
    """A decoded JSON object from `sender` → its message.

    Raises:
        UnsupportedType: the type is not one the sender may send.
        MessageError: fields of the wrong type.
    """
    type_ = obj.get("type")
    allowed = CLIENT_TYPES if sender is Role.CLIENT else SERVER_TYPES
    if type_ not in allowed:
        raise UnsupportedType(f"{type_!s:.40} not supported through the realtime channel")
    payload = obj.get("payload")
    op_id: Any = obj.get("id")
    if type_ == "connection_init":
        return ConnectionInit(payload=payload)
    if type_ == "start":
        if not is_record(payload):
            raise MessageError('"start" message expects "payload" to be an object')
        extensions = payload.get("extensions")
        authorization: Any = {}
        if extensions is not None:
            if not is_record(extensions):
                raise MessageError('"start" message expects "payload.extensions" to be an object')
            authorization = extensions.get("authorization", {})
        return Start(id=op_id, data=payload.get("data"), authorization=authorization)  # type: ignore[arg-type]
    if type_ == "stop":
        return Stop(id=op_id)
    if type_ == "connection_ack":
        timeout = payload.get("connectionTimeoutMs") if is_record(payload) else None
        return ConnectionAck(connection_timeout_ms=timeout)  # type: ignore[arg-type]
    if type_ == "connection_error" or type_ == "error":
        errors = payload.get("errors") if is_record(payload) else None
        if type_ == "connection_error":
            return ConnectionErrorMessage(errors=errors)  # type: ignore[arg-type]
        return Error(id=op_id, errors=errors)  # type: ignore[arg-type]
    if type_ == "ka":
        return KeepAlive()
    if type_ == "start_ack":
        return StartAck(id=op_id)
    if type_ == "data":
        return Data(id=op_id, payload=payload)  # type: ignore[arg-type]
    return Complete(id=op_id)
