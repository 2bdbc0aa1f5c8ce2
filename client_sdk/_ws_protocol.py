"""graphql-transport-ws, client side, sans-IO (graphql-ws PROTOCOL.md).

Feed it text frames with `receive`; it returns events and queues the frames to send
(`pong` answers included). The adapter owns the socket and the timers.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal, Mapping

__all__ = ["Acked", "Completed", "Next", "OpError", "Pong", "ProtocolError", "TransportWsClient"]


class ProtocolError(Exception):
    """The server sent something graphql-transport-ws does not allow."""


@dataclass(frozen=True, kw_only=True)
class Acked:
    type: Literal["connection_ack"] = "connection_ack"


@dataclass(frozen=True, kw_only=True)
class Next:
    type: Literal["next"] = "next"
    id: str
    payload: Mapping[str, Any]


@dataclass(frozen=True, kw_only=True)
class OpError:
    type: Literal["error"] = "error"
    id: str
    errors: list[Any]


@dataclass(frozen=True, kw_only=True)
class Completed:
    type: Literal["complete"] = "complete"
    id: str


@dataclass(frozen=True, kw_only=True)
class Pong:
    type: Literal["pong"] = "pong"
    payload: Any


Event = Acked | Next | OpError | Completed | Pong


class TransportWsClient:
    def __init__(self) -> None:
        self._out: list[str] = []
        self.acked = False
        self._live: set[str] = set()

    def _send(self, msg: Mapping[str, Any]) -> None:
        self._out.append(json.dumps(msg, separators=(",", ":")))

    def init(self, payload: Mapping[str, Any]) -> None:
        self._send({"type": "connection_init", "payload": dict(payload)})

    def subscribe(self, id: str, query: str, variables: Mapping[str, Any] | None = None) -> None:
        if not self.acked:
            raise ProtocolError("subscribe before connection_ack (the server would close with 4401)")
        if id in self._live:
            raise ProtocolError(f"operation {id!r} is already live (the server would close with 4409)")
        self._live.add(id)
        self._send({"id": id, "type": "subscribe", "payload": {"query": query, "variables": dict(variables or {})}})

    def ping(self, payload: Any = None) -> None:
        self._send({"type": "ping", "payload": payload} if payload is not None else {"type": "ping"})

    def complete(self, id: str) -> None:
        if id in self._live:
            self._live.discard(id)
            self._send({"id": id, "type": "complete"})

    def data_to_send(self) -> list[str]:
        out, self._out = self._out, []
        return out

    def receive(self, text: str) -> list[Event]:
        try:
            msg = json.loads(text)
        except ValueError as exc:
            raise ProtocolError(f"frame is not JSON: {text[:80]!r}") from exc
        if not isinstance(msg, dict) or not isinstance(msg.get("type"), str):
            raise ProtocolError(f"frame is not a message object: {text[:80]!r}")
        t = msg["type"]
        if t == "connection_ack":
            self.acked = True
            return [Acked()]
        if t == "ping":
            self._send({"type": "pong", "payload": msg["payload"]} if "payload" in msg else {"type": "pong"})
            return []
        if t == "pong":
            return [Pong(payload=msg.get("payload"))]
        id = msg.get("id")
        if not isinstance(id, str):
            raise ProtocolError(f"{t} without an id")
        if t == "next":
            if id not in self._live:
                return []  # results of an operation we completed are dropped
            payload = msg.get("payload")
            return [Next(id=id, payload=payload if isinstance(payload, dict) else {})]
        if t == "error":
            self._live.discard(id)
            errors = msg.get("payload")
            return [OpError(id=id, errors=errors if isinstance(errors, list) else [errors])]
        if t == "complete":
            self._live.discard(id)
            return [Completed(id=id)]
        raise ProtocolError(f"unknown message type {t!r}")
