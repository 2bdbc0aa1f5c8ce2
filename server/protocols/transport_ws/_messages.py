"""graphql-transport-ws messages, one class per wire type, as in graphql-ws PROTOCOL.md.

Each class is frozen and keyword-only, checks its fields on construction (raising MessageError)
and turns into its wire dict with `.formatted()`. `parse()` turns a decoded JSON object back into
a message, refusing types the sender may not send.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, NotRequired, TypeAlias, TypedDict

from server.protocols._common import Role, check_errors, check_id, check_record, check_str
from server.protocols._errors import MessageError

JSONObject: TypeAlias = Mapping[str, Any]


class ConnectionInitWire(TypedDict):
    type: Literal["connection_init"]
    payload: NotRequired[dict[str, Any]]


class ConnectionAckWire(TypedDict):
    type: Literal["connection_ack"]
    payload: NotRequired[dict[str, Any]]


class PingWire(TypedDict):
    type: Literal["ping"]
    payload: NotRequired[dict[str, Any]]


class PongWire(TypedDict):
    type: Literal["pong"]
    payload: NotRequired[dict[str, Any]]


class SubscribePayloadWire(TypedDict):
    query: str
    operationName: NotRequired[str | None]
    variables: NotRequired[dict[str, Any] | None]
    extensions: NotRequired[dict[str, Any] | None]


class SubscribeWire(TypedDict):
    id: str
    type: Literal["subscribe"]
    payload: SubscribePayloadWire


class NextWire(TypedDict):
    id: str
    type: Literal["next"]
    payload: dict[str, Any]


class ErrorWire(TypedDict):
    id: str
    type: Literal["error"]
    payload: list[dict[str, Any]]


class CompleteWire(TypedDict):
    id: str
    type: Literal["complete"]


def _with_payload(type_: str, payload: JSONObject | None) -> dict[str, Any]:
    wire: dict[str, Any] = {"type": type_}
    if payload is not None:
        wire["payload"] = dict(payload)
    return wire


@dataclass(frozen=True, kw_only=True, slots=True)
class ConnectionInit:
    """Client → server: asks to open the connection; `payload` carries auth (HTTP header names)."""

    type: Literal["connection_init"] = field(default="connection_init", init=False)
    payload: JSONObject | None = None

    def __post_init__(self) -> None:
        check_record(self.payload, self.type, "payload", optional=True)

    def formatted(self) -> ConnectionInitWire:
        return _with_payload(self.type, self.payload)  # type: ignore[return-value]


@dataclass(frozen=True, kw_only=True, slots=True)
class ConnectionAck:
    """Server → client: the connection is accepted; operations may start."""

    type: Literal["connection_ack"] = field(default="connection_ack", init=False)
    payload: JSONObject | None = None

    def __post_init__(self) -> None:
        check_record(self.payload, self.type, "payload", optional=True)

    def formatted(self) -> ConnectionAckWire:
        return _with_payload(self.type, self.payload)  # type: ignore[return-value]


@dataclass(frozen=True, kw_only=True, slots=True)
class Ping:
    """Both ways, at any time: the receiver answers with Pong "as soon as possible"."""

    type: Literal["ping"] = field(default="ping", init=False)
    payload: JSONObject | None = None

    def __post_init__(self) -> None:
        check_record(self.payload, self.type, "payload", optional=True)

    def formatted(self) -> PingWire:
        return _with_payload(self.type, self.payload)  # type: ignore[return-value]


@dataclass(frozen=True, kw_only=True, slots=True)
class Pong:
    """Both ways: the answer to Ping, or a unidirectional heartbeat."""

    type: Literal["pong"] = field(default="pong", init=False)
    payload: JSONObject | None = None

    def __post_init__(self) -> None:
        check_record(self.payload, self.type, "payload", optional=True)

    def formatted(self) -> PongWire:
        return _with_payload(self.type, self.payload)  # type: ignore[return-value]


@dataclass(frozen=True, kw_only=True, slots=True)
class Subscribe:
    """Client → server: run an operation (subscription, query or mutation) under a unique `id`."""

    type: Literal["subscribe"] = field(default="subscribe", init=False)
    id: str
    query: str
    operation_name: str | None = None
    variables: JSONObject | None = None
    extensions: JSONObject | None = None

    def __post_init__(self) -> None:
        check_id(self.id, self.type)
        check_str(self.query, self.type, "payload.query", optional=False)
        check_str(self.operation_name, self.type, "payload.operationName", optional=True)
        check_record(self.variables, self.type, "payload.variables", optional=True)
        check_record(self.extensions, self.type, "payload.extensions", optional=True)

    def formatted(self) -> SubscribeWire:
        payload: SubscribePayloadWire = {"query": self.query}
        if self.operation_name is not None:
            payload["operationName"] = self.operation_name
        if self.variables is not None:
            payload["variables"] = dict(self.variables)
        if self.extensions is not None:
            payload["extensions"] = dict(self.extensions)
        return {"id": self.id, "type": self.type, "payload": payload}


@dataclass(frozen=True, kw_only=True, slots=True)
class Next:
    """Server → client: one execution result (`{data, errors?, extensions?}`) for `id`."""

    type: Literal["next"] = field(default="next", init=False)
    id: str
    payload: JSONObject

    def __post_init__(self) -> None:
        check_id(self.id, self.type)
        check_record(self.payload, self.type, "payload", optional=False)

    def formatted(self) -> NextWire:
        return {"id": self.id, "type": self.type, "payload": dict(self.payload)}


@dataclass(frozen=True, kw_only=True, slots=True)
class Error:
    """Server → client: the operation failed before execution (validation, auth). Ends `id`."""

    type: Literal["error"] = field(default="error", init=False)
    id: str
    payload: Sequence[JSONObject]

    def __post_init__(self) -> None:
        check_id(self.id, self.type)
        check_errors(self.payload, self.type)

    def formatted(self) -> ErrorWire:
        return {"id": self.id, "type": self.type, "payload": [dict(e) for e in self.payload]}


@dataclass(frozen=True, kw_only=True, slots=True)
class Complete:
    """Both ways: server → the operation is done; client → stop listening. Ends `id`."""

    type: Literal["complete"] = field(default="complete", init=False)
    id: str

    def __post_init__(self) -> None:
        check_id(self.id, self.type)

    def formatted(self) -> CompleteWire:
        return {"id": self.id, "type": self.type}


Message: TypeAlias = ConnectionInit | ConnectionAck | Ping | Pong | Subscribe | Next | Error | Complete

CLIENT_TYPES = frozenset({"connection_init", "ping", "pong", "subscribe", "complete"})
SERVER_TYPES = frozenset({"connection_ack", "ping", "pong", "next", "error", "complete"})


def parse(obj: dict[str, Any], sender: Role) -> Message:
    """A decoded JSON object from `sender` → its message.

    Raises:
        MessageError: unknown type for this sender, or fields of the wrong type.
    """
    type_ = obj.get("type")
    allowed = CLIENT_TYPES if sender is Role.CLIENT else SERVER_TYPES
    if type_ not in allowed:
        raise MessageError(f"Invalid message: unknown type {type_!r:.40} from the {sender.value}")
    payload = obj.get("payload")
    if type_ == "connection_init":
        return ConnectionInit(payload=payload)
    if type_ == "connection_ack":
        return ConnectionAck(payload=payload)
    if type_ == "ping":
        return Ping(payload=payload)
    if type_ == "pong":
        return Pong(payload=payload)
    if type_ == "subscribe":
        if not isinstance(payload, dict):
            raise MessageError('"subscribe" message expects "payload" to be an object')
        return Subscribe(
            id=obj.get("id"),  # type: ignore[arg-type]  # checked on construction
            query=payload.get("query"),  # type: ignore[arg-type]
            operation_name=payload.get("operationName"),
            variables=payload.get("variables"),
            extensions=payload.get("extensions"),
        )
    if type_ == "next":
        return Next(id=obj.get("id"), payload=payload)  # type: ignore[arg-type]
    if type_ == "error":
        return Error(id=obj.get("id"), payload=payload)  # type: ignore[arg-type]
    if type_ == "complete":
        return Complete(id=obj.get("id"))  # type: ignore[arg-type]
    raise MessageError(f"Invalid message: unknown type {type_!r:.40}")  # pragma: no cover
