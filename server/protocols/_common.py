"""Pieces the three protocol cores share: roles, the NEED_DATA sentinel, limits, frame decoding,
table outcomes and field checks."""

from __future__ import annotations

import enum
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, TypeGuard

from server.protocols._errors import CloseCode, MessageError, RemoteProtocolError


class Role(enum.Enum):
    """Which side of the socket a message comes from (tables key on the sender, never on "us")."""

    CLIENT = "client"
    SERVER = "server"

    @property
    def peer(self) -> Role:
        return Role.SERVER if self is Role.CLIENT else Role.CLIENT


class NeedData(enum.Enum):
    """`next_event()` returns NEED_DATA when every received frame has been consumed (as in h11)."""

    NEED_DATA = "NEED_DATA"


NEED_DATA: Final = NeedData.NEED_DATA


@dataclass(frozen=True, kw_only=True, slots=True)
class ProtocolConfig:
    """Per-connection limits and protocol knobs. Timers live in the adapter; the cores only count.

    Attributes:
        max_operations: active operations (subscriptions and in-flight queries) per connection;
            the next start is refused with a per-operation error, the connection stays up.
        max_message_bytes: an inbound message longer than this closes the socket with 4413.
        connection_timeout_ms: AppSync's `connection_ack.payload.connectionTimeoutMs`: the client
            drops the socket when no `ka` arrives within it (so the adapter's ka period must be shorter).
        keep_alive_after_ack: legacy graphql-ws: send `ka` right after `connection_ack`, as the
            reference server does when keep-alive is configured.
    """

    max_operations: int = 100
    max_message_bytes: int = 128 * 1024
    connection_timeout_ms: int = 300_000
    keep_alive_after_ack: bool = True

    def __post_init__(self) -> None:
        if self.max_operations < 1:
            raise ValueError(f"max_operations must be at least 1, got {self.max_operations}")
        if self.max_message_bytes < 64:
            raise ValueError(f"max_message_bytes must be at least 64, got {self.max_message_bytes}")
        if self.connection_timeout_ms < 1:
            raise ValueError(f"connection_timeout_ms must be positive, got {self.connection_timeout_ms}")


# ---- table outcomes -------------------------------------------------------------------------
# The `_state` module of each protocol maps (sender, message type, state) to one of these.


@dataclass(frozen=True, slots=True)
class Close:
    """The message is fatal: close the socket with this code; `{id}` in the reason is filled in."""

    code: int
    reason: str


@dataclass(frozen=True, slots=True)
class Refuse:
    """Answer the message with a per-operation (or connection) error and carry on."""

    reason: str


class Ignore(enum.Enum):
    """A message that raced with its operation's end (e.g. `complete` for a finished id): drop it."""

    IGNORE = "IGNORE"


IGNORE: Final = Ignore.IGNORE


# ---- frame decoding -------------------------------------------------------------------------


def frame_size(data: str | bytes) -> int:
    return len(data) if isinstance(data, bytes) else len(data.encode("utf-8", "surrogatepass"))


def decode_frame(data: str | bytes, *, max_bytes: int) -> dict[str, Any]:
    """One WebSocket message → a JSON object with a string `type`.

    Raises:
        RemoteProtocolError: 4413 when longer than `max_bytes`, 4400 when not a JSON object with
            a string `type`.
    """
    size = frame_size(data)
    if size > max_bytes:
        raise RemoteProtocolError(
            f"Message too large: {size} bytes, the limit is {max_bytes}",
            close_code=CloseCode.MESSAGE_TOO_LARGE,
        )
    try:
        obj = json.loads(data)
    except (ValueError, RecursionError) as exc:
        raise RemoteProtocolError(f"Invalid message: not JSON ({exc.__class__.__name__})") from exc
    if not isinstance(obj, dict):
        raise RemoteProtocolError("Invalid message: expected a JSON object")
    if not isinstance(obj.get("type"), str):
        raise RemoteProtocolError("Invalid message: missing or non-string 'type'")
    return obj


def encode(obj: Mapping[str, Any]) -> str:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


# ---- field checks (messages call these in __post_init__) ------------------------------------


def is_record(value: object) -> TypeGuard[Mapping[str, Any]]:
    """A JSON object: a mapping with string keys."""
    return isinstance(value, Mapping) and all(isinstance(k, str) for k in value)


def check_id(value: object, what: str) -> None:
    if not isinstance(value, str) or not value:
        raise MessageError(f'"{what}" message expects "id" to be a non-empty string, got {value!r:.60}')


def check_record(value: object, what: str, field: str, *, optional: bool) -> None:
    if value is None and optional:
        return
    if not is_record(value):
        raise MessageError(f'"{what}" message expects "{field}" to be an object, got {value!r:.60}')


def check_str(value: object, what: str, field: str, *, optional: bool) -> None:
    if value is None and optional:
        return
    if not isinstance(value, str):
        raise MessageError(f'"{what}" message expects "{field}" to be a string, got {value!r:.60}')


def check_errors(value: object, what: str) -> None:
    """A non-empty list of GraphQL formatted errors, each with a string `message`."""
    if (
        not isinstance(value, (list, tuple))
        or not value
        or not all(is_record(e) and isinstance(e.get("message"), str) for e in value)
    ):
        raise MessageError(f'"{what}" message expects a non-empty list of errors with a "message" string')
