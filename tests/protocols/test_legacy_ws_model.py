"""Legacy graphql-ws server core against an independent model of PROTOCOL.md and the reference
server (subscriptions-transport-ws `server.ts`).

Invariant: for any sequence of inbound frames and adapter calls, the server core emits the same
events, the same frames (type and id) and the same close, and keeps the same live operations, as
the model.
"""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from server.protocols import NEED_DATA, LocalProtocolError, ProtocolConfig, RemoteProtocolError, Role
from server.protocols.legacy_ws import Complete, Data, Error, LegacyWSConnection

CLIENT_TYPES = {"connection_init", "connection_terminate", "start", "stop"}


def good_id(v) -> bool:
    return isinstance(v, str) and v != ""


def valid(msg: dict) -> bool:
    t = msg["type"]
    if t == "connection_init":
        return msg.get("payload") is None or isinstance(msg["payload"], dict)
    if t == "stop":
        return good_id(msg.get("id"))
    if t == "start":
        p = msg.get("payload")
        return (
            good_id(msg.get("id"))
            and isinstance(p, dict)
            and isinstance(p.get("query"), str)
            and (p.get("variables") is None or isinstance(p["variables"], dict))
            and (p.get("operationName") is None or isinstance(p["operationName"], str))
        )
    return True


class Model:
    def __init__(self, max_ops: int, max_bytes: int, ka: bool) -> None:
        self.state = "AWAITING_INIT"
        self.ops: set[str] = set()
        self.held: list[str] = []
        self.max_ops, self.max_bytes, self.ka = max_ops, max_bytes, ka
        self.out: list[tuple[str, str | None]] = []
        self.events: list[tuple[str, str | None]] = []
        self.close: int | None = None

    def frame(self, text: str) -> int | None:
        if self.state == "CLOSED":
            return None
        if len(text.encode("utf-8", "surrogatepass")) > self.max_bytes:
            self.state = "CLOSED"
            return 4413
        try:
            msg = json.loads(text)
        except ValueError:
            msg = None
        if not isinstance(msg, dict) or not isinstance(msg.get("type"), str):
            self.out.append(("connection_error", None))
            return None
        if msg["type"] not in CLIENT_TYPES or not valid(msg):
            op = msg.get("id")
            if good_id(op):  # an error for an id ends that operation, held or live
                self.held = [h for h in self.held if h != op]
                if op in self.ops:
                    self.ops.discard(op)
                    self.events.append(("stop", op))
                self.out.append(("error", op))
            else:
                self.out.append(("connection_error", None))
            return None
        t, op = msg["type"], msg.get("id")
        if t == "connection_init":
            if self.state == "AWAITING_INIT":
                self.state = "INIT_PENDING"
                self.events.append((t, None))
        elif t == "connection_terminate":
            self.events.append((t, None))
            self.state = "CLOSED"
            self.close = 1000
        elif t == "start":
            if self.state == "AWAITING_INIT":
                self.out.append(("error", op))
            elif self.state == "INIT_PENDING":
                others = [h for h in self.held if h != op]  # a repeated held id replaces the earlier start
                if len(others) + len(self.ops) >= self.max_ops:
                    self.out.append(("error", op))
                else:
                    self.held = others + [op]
            else:
                self._start(op)
        elif t == "stop":
            if op in self.held:
                self.held = [h for h in self.held if h != op]
                self.out.append(("complete", op))
            elif op in self.ops:
                self.ops.discard(op)
                self.out.append(("complete", op))
                self.events.append(("stop", op))
        return None

    def _start(self, op: str) -> None:
        if op in self.ops:  # "if we already have a subscription with this id, unsubscribe from it first"
            self.events += [("stop", op), ("start", op)]
        elif len(self.ops) >= self.max_ops:
            self.out.append(("error", op))
        else:
            self.ops.add(op)
            self.events.append(("start", op))

    def call(self, kind: str, op: str) -> str:
        if kind == "accept_init":
            if self.state != "INIT_PENDING":
                return "local"
            self.state = "READY"
            self.out.append(("connection_ack", None))
            if self.ka:
                self.out.append(("ka", None))
            held, self.held = self.held, []
            for h in held:
                self._start(h)
            return "ok"
        if kind == "reject_init":
            if self.state != "CLOSED":
                self.out.append(("connection_error", None))
                self.state, self.close = "CLOSED", 1011
            return "ok"
        if kind == "timeout":
            if self.state in ("AWAITING_INIT", "INIT_PENDING"):
                self.out.append(("connection_error", None))
                self.state, self.close = "CLOSED", 4408
            return "ok"
        if kind == "keep_alive":
            if self.state == "READY":
                self.out.append(("ka", None))
            return "ok"
        if self.state != "READY" and not (kind in ("complete", "error") and self.state == "INIT_PENDING"):
            return "local"
        if op not in self.ops:
            return "dropped"
        if kind != "data":
            self.ops.discard(op)
        self.out.append((kind, op))
        return "ok"


IDS = st.sampled_from(["a", "b", "c"])
VALID = st.one_of(
    st.sampled_from(['{"type":"connection_init"}', '{"type":"connection_init","payload":{"k":1}}']),
    IDS.map(lambda i: json.dumps({"type": "start", "id": i, "payload": {"query": "subscription { s }"}})),
    IDS.map(lambda i: json.dumps({"type": "stop", "id": i})),
)
INVALID = st.one_of(
    st.sampled_from(
        [
            '{"type":"connection_terminate"}',
            '{"type":"start","id":"a","payload":{"query":1}}',
            '{"type":"start","id":"","payload":{"query":"q"}}',
            '{"type":"subscribe","id":"a"}',
            '{"type":"bogus"}',
            '{"type":"stop"}',
            '{"id":"a"}',
            "[1]",
            "nope",
            '{"type":"connection_init","payload":{"pad":"' + "x" * 100 + '"}}',
        ]
    ),
    st.text(max_size=8),
)
CALL = st.tuples(
    st.sampled_from(["accept_init"] * 3 + ["data", "complete", "error"] * 2 + ["keep_alive", "reject_init", "timeout"]),
    IDS,
)
STEP = st.sampled_from(["valid"] * 7 + ["call"] * 5 + ["invalid"] * 2).flatmap(
    lambda k: VALID.map(lambda f: ("frame", f)) if k == "valid" else CALL if k == "call" else INVALID.map(lambda f: ("frame", f))
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(1, 3), st.sampled_from([90, 1000]), st.booleans(), st.lists(STEP, max_size=40))
def test_server_core_matches_the_reference_model(max_ops, max_bytes, ka, steps):
    config = ProtocolConfig(max_operations=max_ops, max_message_bytes=max_bytes, keep_alive_after_ack=ka)
    core = LegacyWSConnection(Role.SERVER, config)
    model = Model(max_ops, max_bytes, ka)
    for kind, arg in steps:
        events = []
        if kind == "frame":
            expected_code = model.frame(arg)
            core.receive_data(arg)
            code = None
            try:
                while (event := core.next_event()) is not NEED_DATA:
                    events.append((event.type, getattr(event, "id", None)))
            except RemoteProtocolError as exc:
                code = exc.close_code
            assert code == expected_code
        else:
            expected = model.call(kind, arg)
            try:
                if kind == "accept_init":
                    core.accept_init()
                elif kind == "reject_init":
                    core.reject_init()
                elif kind == "timeout":
                    core.init_timed_out()
                elif kind == "keep_alive":
                    core.keep_alive()
                else:
                    message = {
                        "data": Data(id=arg, payload={"data": None}),
                        "complete": Complete(id=arg),
                        "error": Error(id=arg, payload={"message": "x"}),
                    }[kind]
                    got = "ok" if core.send(message) else "dropped"
                    assert got == expected
                assert expected != "local"
            except LocalProtocolError:
                assert expected == "local"
            while (event := core.next_event()) is not NEED_DATA:  # starts released by accept_init
                events.append((event.type, getattr(event, "id", None)))
        assert events == model.events, (kind, arg)
        model.events.clear()
        assert core.state.value == model.state
        if model.state != "CLOSED":
            assert core.active_operations == model.ops
        elif model.close is not None:
            assert core.closed.code == model.close
        sent = [json.loads(f) for f in core.data_to_send()]
        assert [(f["type"], f.get("id")) for f in sent] == model.out
        model.out.clear()
