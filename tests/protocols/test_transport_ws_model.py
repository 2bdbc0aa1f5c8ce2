"""graphql-transport-ws server core against an independent model of PROTOCOL.md.

The core's tables check both directions with the same rows, so a wrong row can look consistent
when a client core and a server core are wired together. This test compares the server core with
a straight-line reading of the spec instead.

Invariant: for any sequence of inbound frames and adapter calls, the server core emits the same
events, answers (pong, limit errors), close codes, state and live operation ids as the model.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from server.protocols import NEED_DATA, LocalProtocolError, ProtocolConfig, RemoteProtocolError, Role
from server.protocols.transport_ws import Complete, Error, Next, TransportWSConnection

CLIENT_TYPES = {"connection_init", "ping", "pong", "subscribe", "complete"}


def is_obj(v: Any) -> bool:
    return isinstance(v, dict)


def valid(msg: dict) -> bool:
    """graphql-ws `validateMessage`, for client → server messages."""
    t = msg["type"]
    if t in ("connection_init", "ping", "pong"):
        return msg.get("payload") is None or is_obj(msg["payload"])
    if t == "complete":
        return isinstance(msg.get("id"), str) and msg["id"] != ""
    if t == "subscribe":
        p = msg.get("payload")
        return (
            isinstance(msg.get("id"), str)
            and msg["id"] != ""
            and is_obj(p)
            and isinstance(p.get("query"), str)
            and (p.get("variables") is None or is_obj(p["variables"]))
            and (p.get("operationName") is None or isinstance(p["operationName"], str))
            and (p.get("extensions") is None or is_obj(p["extensions"]))
        )
    return False


class Model:
    def __init__(self, max_ops: int, max_bytes: int) -> None:
        self.state = "AWAITING_INIT"
        self.ops: set[str] = set()
        self.max_ops, self.max_bytes = max_ops, max_bytes
        self.out: list[dict] = []

    def frame(self, text: str) -> tuple[list[str], int | None]:
        """Returns (event types, close code)."""
        if self.state == "CLOSED":
            return [], None
        if len(text.encode("utf-8", "surrogatepass")) > self.max_bytes:
            return self._close(4413)
        try:
            msg = json.loads(text)
        except ValueError:
            return self._close(4400)
        if not is_obj(msg) or not isinstance(msg.get("type"), str) or msg["type"] not in CLIENT_TYPES or not valid(msg):
            return self._close(4400)
        t = msg["type"]
        if t == "connection_init":
            if self.state != "AWAITING_INIT":
                return self._close(4429)
            self.state = "INIT_PENDING"
        elif t == "ping":
            self.out.append({"type": "pong", **({"payload": msg["payload"]} if msg.get("payload") is not None else {})})
        elif t == "subscribe":
            if self.state != "READY":
                return self._close(4401)
            if msg["id"] in self.ops:
                return self._close(4409)
            if len(self.ops) >= self.max_ops:
                self.out.append({"type": "error", "id": msg["id"]})
                return [], None
            self.ops.add(msg["id"])
        elif t == "complete":
            if msg["id"] not in self.ops:
                return [], None
            self.ops.discard(msg["id"])
        return [t], None

    def _close(self, code: int) -> tuple[list[str], int]:
        self.state = "CLOSED"
        return [], code

    def call(self, kind: str, op: str) -> str:
        """Returns "local" (illegal call), "sent", "dropped" or "closed:<code>"/"none"."""
        if kind == "accept_init":
            if self.state != "INIT_PENDING":
                return "local"
            self.state = "READY"
            self.out.append({"type": "connection_ack"})
            return "sent"
        if kind == "reject_init":
            if self.state == "CLOSED":
                return "closed"
            self.state = "CLOSED"
            return "closed:4403"
        if kind == "timeout":
            if self.state in ("AWAITING_INIT", "INIT_PENDING"):
                self.state = "CLOSED"
                return "closed:4408"
            return "none"
        # next / complete / error for op
        if self.state != "READY":
            return "local"
        if op not in self.ops:
            return "dropped"
        if kind != "next":
            self.ops.discard(op)
        self.out.append({"type": kind, "id": op})
        return "sent"


IDS = st.sampled_from(["a", "b", "c"])
VALID_FRAME = st.one_of(
    st.sampled_from(['{"type":"connection_init"}', '{"type":"ping"}', '{"type":"ping","payload":{"n":1}}', '{"type":"pong"}']),
    IDS.map(lambda i: json.dumps({"type": "subscribe", "id": i, "payload": {"query": "subscription { s }"}})),
    IDS.map(lambda i: json.dumps({"type": "subscribe", "id": i, "payload": {"query": "q", "variables": {"v": 1}}})),
    IDS.map(lambda i: json.dumps({"type": "complete", "id": i})),
)
INVALID_FRAME = st.one_of(
    st.sampled_from(
        [
            '{"type":"connection_init","payload":[]}',
            '{"type":"next","id":"a","payload":{}}',
            '{"type":"subscribe","id":"","payload":{"query":"q"}}',
            '{"type":"subscribe","id":"a","payload":{"query":"q","variables":5}}',
            '{"type":"subscribe","id":"a"}',
            '{"type":"complete"}',
            "not json",
            "[]",
            '{"type":1}',
            '{"type":"connection_init","payload":{"pad":"' + "x" * 100 + '"}}',
        ]
    ),
    st.text(max_size=8),
)
CALL = st.tuples(st.sampled_from(["accept_init"] * 2 + ["next", "complete", "error"] * 3 + ["reject_init", "timeout"]), IDS)
# Mostly legal traffic, so sessions live long enough to reach READY with live operations.
STEP = st.sampled_from(["valid"] * 8 + ["call"] * 5 + ["invalid"]).flatmap(
    lambda k: VALID_FRAME.map(lambda f: ("frame", f))
    if k == "valid"
    else CALL
    if k == "call"
    else INVALID_FRAME.map(lambda f: ("frame", f))
)
# Most sessions start acknowledged, or they would mostly end at their first subscribe (4401).
HANDSHAKE = [("frame", '{"type":"connection_init"}'), ("accept_init", "a")]
STEPS = st.tuples(st.sampled_from([HANDSHAKE] * 3 + [[]]), st.lists(STEP, max_size=40)).map(lambda t: t[0] + t[1])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(1, 3), st.sampled_from([80, 1000]), STEPS)
def test_server_core_matches_the_spec_model(max_ops, max_bytes, steps):
    core = TransportWSConnection(Role.SERVER, ProtocolConfig(max_operations=max_ops, max_message_bytes=max_bytes))
    model = Model(max_ops, max_bytes)
    for kind, arg in steps:
        if kind == "frame":
            expected_events, expected_code = model.frame(arg)
            core.receive_data(arg)
            events, code = [], None
            try:
                while (event := core.next_event()) is not NEED_DATA:
                    events.append(event.type)
            except RemoteProtocolError as exc:
                code = exc.close_code
            assert (events, code) == (expected_events, expected_code), arg
        else:
            expected = model.call(kind, arg)
            try:
                if kind == "accept_init":
                    core.accept_init()
                    got = "sent"
                elif kind == "reject_init":
                    got = "closed" if core.closed else f"closed:{core.reject_init().code}"
                elif kind == "timeout":
                    close = core.init_timed_out()
                    got = f"closed:{close.code}" if close else "none"
                else:
                    message = {
                        "next": Next(id=arg, payload={"data": None}),
                        "complete": Complete(id=arg),
                        "error": Error(id=arg, payload=[{"message": "x"}]),
                    }[kind]
                    got = "sent" if core.send(message) else "dropped"
            except LocalProtocolError:
                got = "local"
            if expected == "local" and model.state == "CLOSED":
                assert got == "local"
            else:
                assert got == expected, (kind, arg)
        assert core.state.value == model.state
        assert core.active_operations == model.ops or model.state == "CLOSED"
        sent = [json.loads(f) for f in core.data_to_send()]
        assert [(f["type"], f.get("id"), f.get("payload") if f["type"] == "pong" else None) for f in sent] == [
            (f["type"], f.get("id"), f.get("payload") if f["type"] == "pong" else None) for f in model.out
        ]
        model.out.clear()
