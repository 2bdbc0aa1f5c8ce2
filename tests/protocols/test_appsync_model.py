"""AppSync real-time server core against an independent model of AWS's protocol description.

Invariant: for any sequence of inbound frames and adapter calls, the server core emits the same
events, the same frames (type, id, errorType) and the same close, and keeps the same pending and
active subscriptions, as the model.
"""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from server.protocols import NEED_DATA, LocalProtocolError, ProtocolConfig, RemoteProtocolError, Role
from server.protocols.appsync import AppSyncConnection, Complete, Data, Start, appsync_error

CLIENT_TYPES = {"connection_init", "start", "stop"}


def good_id(v) -> bool:
    return isinstance(v, str) and v != ""


def valid(msg: dict) -> bool:
    t = msg["type"]
    if t == "connection_init":
        return msg.get("payload") is None or isinstance(msg["payload"], dict)
    if t == "stop":
        return good_id(msg.get("id"))
    p = msg.get("payload")
    if not good_id(msg.get("id")) or not isinstance(p, dict) or not isinstance(p.get("data"), str):
        return False
    ext = p.get("extensions")
    if ext is not None:
        if not isinstance(ext, dict):
            return False
        auth = ext.get("authorization", {})
        if not isinstance(auth, dict) or not all(isinstance(v, str) for v in auth.values()):
            return False
    try:
        request = json.loads(p["data"])
    except ValueError:
        return False
    return (
        isinstance(request, dict)
        and isinstance(request.get("query"), str)
        and (request.get("variables") is None or isinstance(request["variables"], dict))
        and (request.get("operationName") is None or isinstance(request["operationName"], str))
    )


class Model:
    def __init__(self, max_ops: int, max_bytes: int, ka: bool) -> None:
        self.state = "CONNECTED"
        self.ops: dict[str, str] = {}
        self.max_ops, self.max_bytes, self.ka = max_ops, max_bytes, ka
        self.out: list[tuple] = []
        self.events: list[tuple] = []

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
            self.out.append(("error", None, "BadRequestException"))
            return None
        if msg["type"] not in CLIENT_TYPES:
            self.out.append(("error", None, "UnsupportedOperation"))
            return None
        op = msg.get("id")
        if not valid(msg):
            blame = op if good_id(op) and op not in self.ops else None
            self.out.append(("error", blame, "BadRequestException"))
            return None
        t = msg["type"]
        if t == "connection_init":
            self.state = "READY"
            self.out.append(("connection_ack", None, None))
            if self.ka:
                self.out.append(("ka", None, None))
            self.events.append((t, None))
        elif t == "start":
            if op in self.ops:
                del self.ops[op]
                self.events.append(("stop", op))
                self.out.append(("error", op, "BadRequestException"))
            elif len(self.ops) >= self.max_ops:
                self.out.append(("error", op, "MaxSubscriptionsReachedError"))
            else:
                self.ops[op] = "PENDING"
                self.events.append(("start", op))
        elif op in self.ops:  # stop
            del self.ops[op]
            self.out.append(("complete", op, None))
            self.events.append(("stop", op))
        return None

    def call(self, kind: str, op: str) -> str:
        if kind == "keep_alive":
            self.out.append(("ka", None, None))
            return "ok"
        if kind == "reject_connection":
            self.out.append(("connection_error", None, "UnauthorizedException"))
            self.state = "CLOSED"
            return "ok"
        status = self.ops.get(op)
        if kind == "accept_start":
            if status is None:
                return "dropped"
            if status == "ACTIVE":
                return "local"
            self.ops[op] = "ACTIVE"
            self.out.append(("start_ack", op, None))
        elif kind in ("data", "raw"):
            if status is None or (kind == "raw" and status == "PENDING"):
                return "dropped"
            if status == "PENDING":
                return "local"
            self.out.append(("data", op, None))
        else:  # reject_start, complete
            if status is None:
                return "dropped"
            del self.ops[op]
            self.out.append(("error", op, "UnauthorizedException") if kind == "reject_start" else ("complete", op, None))
        return "ok"


IDS = st.sampled_from(["a", "b", "c"])
VALID = st.one_of(
    st.just('{"type":"connection_init"}'),
    IDS.map(lambda i: json.dumps(Start.build(id=i, query="subscription { s }", authorization={"host": "h"}).formatted())),
    IDS.map(lambda i: json.dumps({"type": "stop", "id": i})),
)
INVALID = st.one_of(
    st.sampled_from(
        [
            '{"type":"start","id":"a","payload":{"data":"{bad"}}',
            '{"type":"start","id":"b","payload":{"data":"{\\"query\\":1}"}}',
            '{"type":"start","id":"a","payload":{"data":"{\\"query\\":\\"q\\"}","extensions":{"authorization":{"x":1}}}}',
            '{"type":"start","payload":{"data":"{}"}}',
            '{"type":"subscribe","id":"a"}',
            '{"type":"stop","id":""}',
            '{"id":"a"}',
            "[]",
            "nope",
            '{"type":"connection_init","payload":{"pad":"' + "x" * 200 + '"}}',
        ]
    ),
    st.text(max_size=8),
)
CALL = st.tuples(
    st.sampled_from(["accept_start"] * 4 + ["data", "raw", "complete", "reject_start"] * 2 + ["keep_alive", "reject_connection"]),
    IDS,
)
STEP = st.sampled_from(["valid"] * 7 + ["call"] * 6 + ["invalid"] * 2).flatmap(
    lambda k: VALID.map(lambda f: ("frame", f)) if k == "valid" else CALL if k == "call" else INVALID.map(lambda f: ("frame", f))
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(1, 3), st.sampled_from([200, 2000]), st.booleans(), st.lists(STEP, max_size=40))
def test_server_core_matches_the_model(max_ops, max_bytes, ka, steps):
    config = ProtocolConfig(max_operations=max_ops, max_message_bytes=max_bytes, keep_alive_after_ack=ka)
    core = AppSyncConnection(Role.SERVER, config)
    model = Model(max_ops, max_bytes, ka)
    for kind, arg in steps:
        events = []
        if model.state == "CLOSED" and kind != "frame":
            continue  # calls on a closed core are LocalProtocolErrors; test_fuzz covers them
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
                if kind == "accept_start":
                    got = "ok" if core.accept_start(arg) else "dropped"
                elif kind == "reject_start":
                    got = "ok" if core.reject_start(arg, [appsync_error("UnauthorizedException", "no")]) else "dropped"
                elif kind == "data":
                    got = "ok" if core.send(Data(id=arg, payload={"data": None})) else "dropped"
                elif kind == "raw":
                    got = "ok" if core.send_result_raw(arg, '{"data":null}') else "dropped"
                elif kind == "complete":
                    got = "ok" if core.send(Complete(id=arg)) else "dropped"
                elif kind == "keep_alive":
                    got = "ok" if core.keep_alive() else "dropped"
                else:
                    assert core.reject_connection().code == 4403
                    got = "ok"
            except LocalProtocolError:
                got = "local"
            assert got == expected, (kind, arg)
        assert events == model.events, (kind, arg)
        model.events.clear()
        assert core.state.value == model.state
        if model.state != "CLOSED":
            assert core.pending_operations == {k for k, v in model.ops.items() if v == "PENDING"}
            assert core.active_operations == {k for k, v in model.ops.items() if v == "ACTIVE"}
        sent = []
        for frame in core.data_to_send():
            f = json.loads(frame)
            errors = (f.get("payload") or {}).get("errors") if f["type"] in ("error", "connection_error") else None
            sent.append((f["type"], f.get("id"), errors[0]["errorType"] if errors else None))
        assert sent == model.out
        model.out.clear()
