"""Property-based tests of the three cores (STYLE rule 13).

Invariant (server role, every protocol): for ANY sequence of inbound frames (random text, random
JSON, plausible and valid messages in any order) interleaved with ANY adapter calls, the core
either returns events / NEED_DATA and stays in a legal state, or raises RemoteProtocolError whose
close code is one the protocol documents for a peer's fault (and is then closed for good). Adapter
calls that are illegal in the current state raise LocalProtocolError and change nothing. Nothing
else is ever raised, and every frame the server writes is a valid message of its protocol that a
client of that protocol understands.

Invariant (back to back): a client core driven by random legal client actions never sees a
protocol error in what a server core writes, and once all frames are delivered both sides agree
on the set of live operation ids.
"""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from server.protocols import (
    NEED_DATA,
    AppSyncConnection,
    LegacyWSConnection,
    LocalProtocolError,
    ProtocolConfig,
    RemoteProtocolError,
    Role,
    TransportWSConnection,
    appsync,
    legacy_ws,
    transport_ws,
)
from server.protocols._common import decode_frame

PEER_FAULT_CODES = {
    TransportWSConnection: {4400, 4401, 4409, 4413, 4429},
    LegacyWSConnection: {4413},
    AppSyncConnection: {4413},
}
PARSERS = {
    TransportWSConnection: transport_ws.parse,
    LegacyWSConnection: legacy_ws.parse,
    AppSyncConnection: appsync.parse,
}
LEGACY_CLIENT_KNOWS = {"connection_ack", "connection_error", "ka", "data", "error", "complete"}
TYPES = [
    "connection_init", "connection_ack", "connection_error", "connection_terminate", "ping", "pong",
    "subscribe", "start", "start_ack", "stop", "next", "data", "error", "complete", "ka", "bogus",
]  # fmt: skip
IDS = st.sampled_from(["1", "2", "3", "", 1, None])
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=8,
)
PAYLOADS = st.one_of(
    st.none(),
    st.just({}),
    st.just({"query": "subscription { s }"}),
    st.just({"query": "q", "variables": {"a": 1}, "operationName": "Op"}),
    st.just({"data": '{"query":"subscription { s }","variables":{}}', "extensions": {"authorization": {"host": "h"}}}),
    st.just({"data": '{"query":"q"}'}),
    st.just({"data": {"x": 1}}),
    st.just({"errors": [{"errorType": "E", "message": "m"}]}),
    st.just([{"message": "m"}]),
    st.just({"connectionTimeoutMs": 1000}),
    json_values,
)


@st.composite
def message_frames(draw):
    obj = {"type": draw(st.sampled_from(TYPES) | st.text(max_size=4))}
    op_id = draw(IDS)
    if op_id is not None:
        obj["id"] = op_id
    payload = draw(PAYLOADS)
    if payload is not None:
        obj["payload"] = payload
    return json.dumps(obj)


FRAMES = st.one_of(
    message_frames(),
    message_frames(),
    st.text(max_size=20),
    json_values.map(json.dumps),
    st.binary(max_size=10),
)
OP_IDS = st.sampled_from(["1", "2", "3"])

VALID_FRAMES = {
    TransportWSConnection: st.one_of(
        st.sampled_from(['{"type":"connection_init"}', '{"type":"ping"}', '{"type":"pong"}']),
        OP_IDS.map(lambda i: json.dumps({"type": "subscribe", "id": i, "payload": {"query": "subscription { s }"}})),
        OP_IDS.map(lambda i: json.dumps({"type": "complete", "id": i})),
    ),
    LegacyWSConnection: st.one_of(
        st.sampled_from(['{"type":"connection_init"}', '{"type":"connection_terminate"}']),
        OP_IDS.map(lambda i: json.dumps({"type": "start", "id": i, "payload": {"query": "subscription { s }"}})),
        OP_IDS.map(lambda i: json.dumps({"type": "stop", "id": i})),
    ),
    AppSyncConnection: st.one_of(
        st.just('{"type":"connection_init"}'),
        OP_IDS.map(lambda i: json.dumps(appsync.Start.build(id=i, query="subscription { s }").formatted())),
        OP_IDS.map(lambda i: json.dumps({"type": "stop", "id": i})),
    ),
}
CALLS = {
    TransportWSConnection: st.one_of(
        st.sampled_from([("accept_init",), ("reject_init",), ("init_timed_out",), ("lost",)]),
        st.tuples(st.sampled_from(["next", "raw", "complete", "error"]), OP_IDS),
    ),
    LegacyWSConnection: st.one_of(
        st.sampled_from([("accept_init",), ("reject_init",), ("init_timed_out",), ("keep_alive",), ("lost",)]),
        st.tuples(st.sampled_from(["next", "raw", "complete", "error"]), OP_IDS),
    ),
    AppSyncConnection: st.one_of(
        st.sampled_from([("keep_alive",), ("reject_connection",), ("lost",)]),
        st.tuples(st.sampled_from(["accept_start", "reject_start", "next", "raw", "complete"]), OP_IDS),
    ),
}


def actions_for(cls):
    """Mostly legal traffic and calls (so sessions get deep), with random frames mixed in; most
    sessions begin with an accepted connection_init."""
    step = st.sampled_from(["valid"] * 5 + ["call"] * 4 + ["random"] * 2).flatmap(
        lambda k: VALID_FRAMES[cls].map(lambda f: ("frame", f))
        if k == "valid"
        else CALLS[cls]
        if k == "call"
        else FRAMES.map(lambda f: ("frame", f))
    )
    handshake = [("frame", '{"type":"connection_init"}')]
    if cls is not AppSyncConnection:
        handshake.append(("accept_init",))
    prefix = st.sampled_from([handshake] * 3 + [[]])
    return st.tuples(prefix, st.lists(step, max_size=30)).map(lambda t: t[0] + t[1])


ACTIONS = {cls: actions_for(cls) for cls in (TransportWSConnection, LegacyWSConnection, AppSyncConnection)}


def adapter_call(core, action):
    """Perform one adapter action on a server core."""
    kind = action[0]
    if kind == "accept_init":
        core.accept_init()
    elif kind == "reject_init":
        core.reject_init()
    elif kind == "init_timed_out":
        core.init_timed_out()
    elif kind == "keep_alive":
        core.keep_alive()
    elif kind == "reject_connection":
        core.reject_connection()
    elif kind == "lost":
        core.connection_lost()
    elif isinstance(core, TransportWSConnection):
        op = action[1]
        if kind == "next":
            core.send(transport_ws.Next(id=op, payload={"data": {}}))
        elif kind == "raw":
            core.send_result_raw(op, '{"data":{}}')
        elif kind == "complete":
            core.send(transport_ws.Complete(id=op))
        else:
            core.refuse_operation(op, [{"message": "no"}])
    elif isinstance(core, LegacyWSConnection):
        op = action[1]
        if kind == "next":
            core.send(legacy_ws.Data(id=op, payload={"data": {}}))
        elif kind == "raw":
            core.send_result_raw(op, '{"data":{}}')
        elif kind == "complete":
            core.send(legacy_ws.Complete(id=op))
        else:
            core.refuse_operation(op, {"message": "no"})
    else:
        op = action[1]
        if kind == "accept_start":
            core.accept_start(op)
        elif kind == "reject_start":
            core.reject_start(op, [appsync.appsync_error("E", "no")])
        elif kind == "next":
            core.send(appsync.Data(id=op, payload={"data": {}}))
        elif kind == "raw":
            core.send_result_raw(op, '{"data":{}}')
        else:
            core.send(appsync.Complete(id=op))


def snapshot(core):
    return (core.state, frozenset(core._state.operations), core.closed, list(core._outbox))


def check_legal(core, written):
    cls = type(core)
    ops = core._state.operations
    assert len(ops) <= core.config.max_operations
    assert core.state in type(core.state)
    if core.closed is not None:
        assert core.state.value == "CLOSED"
    for frame in written:
        message = PARSERS[cls](decode_frame(frame, max_bytes=10**9), Role.SERVER)
        if cls is LegacyWSConnection:
            assert message.type in LEGACY_CLIENT_KNOWS


def run_server(cls, config, actions):
    core = cls(Role.SERVER, config)
    for action in actions:
        if action[0] == "frame":
            core.receive_data(action[1])
            try:
                while core.next_event() is not NEED_DATA:
                    pass
            except RemoteProtocolError as exc:
                assert exc.close_code in PEER_FAULT_CODES[cls], exc
                assert core.closed == exc.close
        else:
            before = snapshot(core)
            try:
                adapter_call(core, action)
            except LocalProtocolError:
                assert snapshot(core) == before  # an illegal call changes nothing
        check_legal(core, core.data_to_send())
    # once closed, the core stays closed and silent
    if core.closed is not None:
        core.receive_data('{"type":"connection_init"}')
        assert core.next_event() is NEED_DATA


CONFIGS = st.builds(
    ProtocolConfig,
    max_operations=st.integers(1, 3),
    max_message_bytes=st.sampled_from([64, 200, 128 * 1024, 128 * 1024]),
    keep_alive_after_ack=st.booleans(),
)
SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(CONFIGS, ACTIONS[TransportWSConnection])
def test_transport_ws_server_any_input(config, actions):
    run_server(TransportWSConnection, config, actions)


@SETTINGS
@given(CONFIGS, ACTIONS[LegacyWSConnection])
def test_legacy_ws_server_any_input(config, actions):
    run_server(LegacyWSConnection, config, actions)


@SETTINGS
@given(CONFIGS, ACTIONS[AppSyncConnection])
def test_appsync_server_any_input(config, actions):
    run_server(AppSyncConnection, config, actions)


# ---- back to back ---------------------------------------------------------------------------

CLIENT_ACTIONS = st.one_of(
    st.just(("init",)),
    st.tuples(st.sampled_from(["start", "stop"]), OP_IDS),
)


def client_call(client, action):
    kind = action[0]
    if isinstance(client, TransportWSConnection):
        if kind == "init":
            client.send(transport_ws.ConnectionInit())
        elif kind == "start":
            client.send(transport_ws.Subscribe(id=action[1], query="subscription { s }"))
        else:
            client.send(transport_ws.Complete(id=action[1]))
    elif isinstance(client, LegacyWSConnection):
        if kind == "init":
            client.send(legacy_ws.ConnectionInit())
        elif kind == "start":
            client.send(legacy_ws.Start(id=action[1], query="subscription { s }"))
        else:
            client.send(legacy_ws.Stop(id=action[1]))
    else:
        if kind == "init":
            client.send(appsync.ConnectionInit())
        elif kind == "start":
            client.send(appsync.Start.build(id=action[1], query="subscription { s }"))
        else:
            client.send(appsync.Stop(id=action[1]))


def deliver(sender, receiver):
    for frame in sender.data_to_send():
        receiver.receive_data(frame)
    while receiver.next_event() is not NEED_DATA:
        pass


def run_pair(cls, config, steps):
    client, server = cls(Role.CLIENT, config), cls(Role.SERVER, config)
    for who, action in steps:
        if client.closed is not None or server.closed is not None:
            break
        try:
            if who == "client":
                client_call(client, action)
            else:
                adapter_call(server, action)
        except LocalProtocolError:
            pass
        try:
            deliver(client, server)
        except RemoteProtocolError as exc:  # the client core only sends legal frames, but
            assert exc.close_code in {4401, 4409, 4429}  # order rules belong to the server
            break
        deliver(server, client)  # the client must accept everything the server writes
        deliver(client, server)  # automatic answers (pong)
        deliver(server, client)
        if client.closed is None and server.closed is None:
            ready = not isinstance(server, LegacyWSConnection) or server.state.value == "READY"
            if ready:
                assert set(client._state.operations) == set(server._state.operations)


SERVER_STEP = st.one_of(
    st.sampled_from([("accept_init",), ("keep_alive",)]),
    st.tuples(st.sampled_from(["next", "raw", "complete", "error", "accept_start", "reject_start"]), OP_IDS),
)
STEPS = st.tuples(
    st.sampled_from([[("client", ("init",)), ("server", ("accept_init",))]] * 3 + [[]]),
    st.lists(st.one_of(st.tuples(st.just("client"), CLIENT_ACTIONS), st.tuples(st.just("server"), SERVER_STEP)), max_size=30),
).map(lambda t: t[0] + t[1])


def server_step_for(cls, action):
    """Map a generic server step onto what this protocol's adapter can call."""
    kind = action[0]
    if cls is TransportWSConnection and kind in ("keep_alive", "accept_start", "reject_start"):
        return ("next", action[1]) if len(action) > 1 else ("accept_init",)
    if cls is LegacyWSConnection and kind in ("accept_start", "reject_start"):
        return ("next", action[1])
    if cls is AppSyncConnection and kind in ("accept_init", "error"):
        return ("keep_alive",) if kind == "accept_init" else ("reject_start", action[1])
    return action


PAIR_CONFIGS = st.builds(ProtocolConfig, max_operations=st.integers(1, 3), keep_alive_after_ack=st.booleans())
PAIR_SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PAIR_SETTINGS
@given(PAIR_CONFIGS, STEPS)
def test_transport_ws_back_to_back(config, steps):
    run_pair(TransportWSConnection, config, [(w, a if w == "client" else server_step_for(TransportWSConnection, a)) for w, a in steps])


@PAIR_SETTINGS
@given(PAIR_CONFIGS, STEPS)
def test_legacy_ws_back_to_back(config, steps):
    run_pair(LegacyWSConnection, config, [(w, a if w == "client" else server_step_for(LegacyWSConnection, a)) for w, a in steps])


@PAIR_SETTINGS
@given(PAIR_CONFIGS, STEPS)
def test_appsync_back_to_back(config, steps):
    run_pair(AppSyncConnection, config, [(w, a if w == "client" else server_step_for(AppSyncConnection, a)) for w, a in steps])
