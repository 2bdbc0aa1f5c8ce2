"""Legacy graphql-ws (Apollo subscriptions-transport-ws) messages, one class per wire type.

The legacy client throws on any type it does not know, so the server side only ever formats the
six types of its PROTOCOL.md: connection_ack, connection_error, ka, data, error, complete.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, NotRequired, TypeAlias, TypedDict

from server.protocols._common import Role, check_id, check_record, check_str
from server.protocols._errors import MessageError

JSONObject: TypeAlias = Mapping[str, Any]


class ConnectionInitWire(TypedDict):
    type: Literal["connection_init"]
    payload: NotRequired[dict[str, Any]]


class ConnectionTerminateWire(TypedDict):
    type: Literal["connection_terminate"]


class StartPayloadWire(TypedDict):
    query: str
    variables: NotRequired[dict[str, Any] | None]
    operationName: NotRequired[str | None]


class StartWire(TypedDict):
    id: str
    type: Literal["start"]
    payload: StartPayloadWire


class StopWire(TypedDict):
    id: str
    type: Literal["stop"]


class ConnectionAckWire(TypedDict):
    type: Literal["connection_ack"]
    payload: NotRequired[dict[str, Any]]


class ConnectionErrorWire(TypedDict):
    type: Literal["connection_error"]
    payload: dict[str, Any]


class KeepAliveWire(TypedDict):
    type: Literal["ka"]


class DataWire(TypedDict):
    id: str
    type: Literal["data"]
    payload: dict[str, Any]


class ErrorWire(TypedDict):
    id: str
    type: Literal["error"]
    payload: dict[str, Any]


class CompleteWire(TypedDict):
    id: str
    type: Literal["complete"]


@dataclass(frozen=True, kw_only=True, slots=True)
class ConnectionInit:
    """Client → server: `payload` is the client's `connectionParams` (auth, as HTTP header names)."""

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
class ConnectionTerminate:
    """Client → server: the client is done; the server closes the socket."""

    type: Literal["connection_terminate"] = field(default="connection_terminate", init=False)

    def formatted(self) -> ConnectionTerminateWire:
        return {"type": self.type}


@dataclass(frozen=True, kw_only=True, slots=True)
class Start:
    """Client → server: run the operation in `payload` under `id`."""

    type: Literal["start"] = field(default="start", init=False)
    id: str
    query: str
    variables: JSONObject | None = None
    operation_name: str | None = None

    def __post_init__(self) -> None:
        check_id(self.id, self.type)
        check_str(self.query, self.type, "payload.query", optional=False)
        check_record(self.variables, self.type, "payload.variables", optional=True)
        check_str(self.operation_name, self.type, "payload.operationName", optional=True)

    def formatted(self) -> StartWire:
        payload: StartPayloadWire = {"query": self.query}
        if self.variables is not None:
            payload["variables"] = dict(self.variables)
        if self.operation_name is not None:
            payload["operationName"] = self.operation_name
        return {"id": self.id, "type": self.type, "payload": payload}


@dataclass(frozen=True, kw_only=True, slots=True)
class Stop:
    """Client → server: stop operation `id`; the server answers with complete."""

    type: Literal["stop"] = field(default="stop", init=False)
    id: str

    def __post_init__(self) -> None:
        check_id(self.id, self.type)

    def formatted(self) -> StopWire:
        return {"id": self.id, "type": self.type}


@dataclass(frozen=True, kw_only=True, slots=True)
class ConnectionAck:
    """Server → client: connection_init accepted."""

    type: Literal["connection_ack"] = field(default="connection_ack", init=False)
    payload: JSONObject | None = None

    def __post_init__(self) -> None:
        check_record(self.payload, self.type, "payload", optional=True)

    def formatted(self) -> ConnectionAckWire:
        wire: ConnectionAckWire = {"type": self.type}
        if self.payload is not None:
            wire["payload"] = dict(self.payload)
        return wire


@dataclass(frozen=True, kw_only=True, slots=True)
class ConnectionErrorMessage:
    """Server → client: connection_init refused (then the socket closes), or an unparsable
    message (the connection stays up), as the reference server does."""

    type: Literal["connection_error"] = field(default="connection_error", init=False)
    payload: JSONObject

    def __post_init__(self) -> None:
        check_record(self.payload, self.type, "payload", optional=False)

    def formatted(self) -> ConnectionErrorWire:
        return {"type": self.type, "payload": dict(self.payload)}


@dataclass(frozen=True, kw_only=True, slots=True)
class KeepAlive:
    """Server → client: "ka", right after connection_ack and then periodically."""

    type: Literal["ka"] = field(default="ka", init=False)

    def formatted(self) -> KeepAliveWire:
        return {"type": self.type}


@dataclass(frozen=True, kw_only=True, slots=True)
class Data:
    """Server → client: one execution result `{data, errors?}` for `id`."""

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
    """Server → client: the operation failed before execution. Ends `id` (no complete follows).

    `payload` is one error object (`{"message": ...}`): clients such as gql reject a list here.
    """

    type: Literal["error"] = field(default="error", init=False)
    id: str
    payload: JSONObject

    def __post_init__(self) -> None:
        check_id(self.id, self.type)
        check_record(self.payload, self.type, "payload", optional=False)

    def formatted(self) -> ErrorWire:
        return {"id": self.id, "type": self.type, "payload": dict(self.payload)}


@dataclass(frozen=True, kw_only=True, slots=True)
class Complete:
    """Server → client: no more results for `id` (after a query, or after stop)."""

    type: Literal["complete"] = field(default="complete", init=False)
    id: str

    def __post_init__(self) -> None:
        check_id(self.id, self.type)

    def formatted(self) -> CompleteWire:
        return {"id": self.id, "type": self.type}


Message: TypeAlias = (
    ConnectionInit
    | ConnectionTerminate
    | Start
    | Stop
    | ConnectionAck
    | ConnectionErrorMessage
    | KeepAlive
    | Data
    | Error
    | Complete
)

CLIENT_TYPES = frozenset({"connection_init", "connection_terminate", "start", "stop"})
SERVER_TYPES = frozenset({"connection_ack", "connection_error", "ka", "data", "error", "complete"})


def parse(obj: dict[str, Any], sender: Role) -> Message:
    """A decoded JSON object from `sender` → its message.

    Raises:
        MessageError: unknown type for this sender, or fields of the wrong type.
    """
    type_ = obj.get("type")
    allowed = CLIENT_TYPES if sender is Role.CLIENT else SERVER_TYPES
    if type_ not in allowed:
        raise MessageError("Invalid message type!")  # the reference server's words
    payload = obj.get("payload")
    op_id: Any = obj.get("id")
    if type_ == "connection_init":
        return ConnectionInit(payload=payload)
    if type_ == "connection_terminate":
        return ConnectionTerminate()
    if type_ == "start":
        if not isinstance(payload, dict):
            raise MessageError('"start" message expects "payload" to be an object')
        return Start(
            id=op_id,
            query=payload.get("query"),  # type: ignore[arg-type]  # checked on construction
            variables=payload.get("variables"),
            operation_name=payload.get("operationName"),
        )
    if type_ == "stop":
        return Stop(id=op_id)
    if type_ == "connection_ack":
        return ConnectionAck(payload=payload)
    if type_ == "connection_error":
        return ConnectionErrorMessage(payload=payload if payload is not None else {})
    if type_ == "ka":
        return KeepAlive()
    if type_ == "data":
        return Data(id=op_id, payload=payload)  # type: ignore[arg-type]
    if type_ == "error":
        return Error(id=op_id, payload=payload)  # type: ignore[arg-type]
    return Complete(id=op_id)
