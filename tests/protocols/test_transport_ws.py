"""graphql-transport-ws core: a client core and a server core back to back, and every close path."""

from __future__ import annotations

import json

import pytest

from server.protocols import (
    NEED_DATA,
    CloseCode,
    LocalProtocolError,
    MessageError,
    ProtocolConfig,
    RemoteProtocolError,
    Role,
)
from server.protocols.transport_ws import (
    Complete,
    ConnectionAck,
    ConnectionInit,
    ConnState,
    Error,
    Next,
    Ping,
    Pong,
    Subscribe,
    TransportWSConnection,
)

from .conftest import transfer


def pair(**config):
    cfg = ProtocolConfig(**config)
    return TransportWSConnection(Role.CLIENT, cfg), TransportWSConnection(Role.SERVER, cfg)


def acked_pair(**config):
    client, server = pair(**config)
    client.send(ConnectionInit(payload={"x-api-key": "k"}))
    assert transfer(client, server) == [ConnectionInit(payload={"x-api-key": "k"})]
    server.accept_init()
    assert transfer(server, client) == [ConnectionAck()]
    return client, server


def test_full_session_back_to_back():
    client, server = acked_pair()
    assert client.state is server.state is ConnState.READY

    client.send(Subscribe(id="1", query="subscription { onCreateTodo { id } }", variables={"a": 1}))
    [sub] = transfer(client, server)
    assert sub == Subscribe(id="1", query="subscription { onCreateTodo { id } }", variables={"a": 1})
    assert server.active_operations == client.active_operations == {"1"}

    assert server.send(Next(id="1", payload={"data": {"onCreateTodo": {"id": "a"}}}))
    assert server.send_result_raw("1", '{"data":{"onCreateTodo":{"id":"b"}}}')
    events = transfer(server, client)
    assert [e.payload["data"]["onCreateTodo"]["id"] for e in events] == ["a", "b"]

    # a query: next then complete from the server ends it on both sides
    client.send(Subscribe(id="2", query="{ listTodos { items { id } } }"))
    transfer(client, server)
    server.send(Next(id="2", payload={"data": {"listTodos": {"items": []}}}))
    server.send(Complete(id="2"))
    assert [e.type for e in transfer(server, client)] == ["next", "complete"]
    assert server.active_operations == client.active_operations == {"1"}

    # error ends an operation and no complete follows
    client.send(Subscribe(id="3", query="subscription { nope }"))
    transfer(client, server)
    assert server.refuse_operation("3", [{"message": "Cannot query field 'nope'"}])
    assert transfer(server, client) == [Error(id="3", payload=[{"message": "Cannot query field 'nope'"}])]
    assert "3" not in server.active_operations and "3" not in client.active_operations

    # ping both ways is answered automatically
    client.send(Ping(payload={"t": 1}))
    assert transfer(client, server) == [Ping(payload={"t": 1})]
    assert transfer(server, client) == [Pong(payload={"t": 1})]
    server.send(Ping())
    assert transfer(server, client) == [Ping()]
    assert transfer(client, server) == [Pong()]

    # the client completes: results already in flight are dropped, a late complete is ignored
    client.send(Complete(id="1"))
    assert transfer(client, server) == [Complete(id="1")]
    assert server.send(Next(id="1", payload={"data": None})) is False
    assert server.send_result_raw("1", "{}") is False
    assert server.send(Complete(id="1")) is False
    assert server.data_to_send() == []
    assert server.connection_lost() == frozenset()


def test_ids_may_be_reused_after_completion():
    client, server = acked_pair()
    for _ in range(2):
        client.send(Subscribe(id="x", query="subscription { s }"))
        transfer(client, server)
        client.send(Complete(id="x"))
        transfer(client, server)
    assert server.active_operations == frozenset()


def test_connection_lost_returns_active_operations():
    client, server = acked_pair()
    for i in range(3):
        client.send(Subscribe(id=str(i), query="subscription { s }"))
    transfer(client, server)
    assert server.connection_lost() == {"0", "1", "2"}
    assert server.connection_lost() == frozenset()
    with pytest.raises(LocalProtocolError):
        server.send(Next(id="0", payload={}))


def test_wire_shapes_match_protocol_md():
    client, server = acked_pair()
    client.send(Subscribe(id="1", query="q", operation_name="Op", variables={"v": 1}, extensions={"e": 2}))
    [frame] = client.data_to_send()
    assert json.loads(frame) == {
        "id": "1",
        "type": "subscribe",
        "payload": {"query": "q", "operationName": "Op", "variables": {"v": 1}, "extensions": {"e": 2}},
    }
    server.receive_data(frame)
    server.next_event()
    server.send(Next(id="1", payload={"data": {"a": 1}}))
    server.send(Complete(id="1"))
    assert [json.loads(f) for f in server.data_to_send()] == [
        {"id": "1", "type": "next", "payload": {"data": {"a": 1}}},
        {"id": "1", "type": "complete"},
    ]
    assert ConnectionAck().formatted() == {"type": "connection_ack"}


# ---- every close path, as a table ------------------------------------------------------------

INIT = json.dumps({"type": "connection_init"})
SUB = json.dumps({"id": "1", "type": "subscribe", "payload": {"query": "subscription { s }"}})

CLOSE_CASES = [
    # (frames the client sends, whether the server acks after the first init, code, reason part)
    ([SUB], False, CloseCode.UNAUTHORIZED, "Unauthorized"),
    ([INIT, SUB], False, CloseCode.UNAUTHORIZED, "Unauthorized"),
    ([INIT, INIT], False, CloseCode.TOO_MANY_INIT, "Too many initialisation requests"),
    ([INIT, INIT], True, CloseCode.TOO_MANY_INIT, "Too many initialisation requests"),
    ([INIT, SUB, SUB], True, CloseCode.DUPLICATE_OPERATION, "Subscriber for 1 already exists"),
    (["{not json"], False, CloseCode.BAD_REQUEST, "not JSON"),
    (["[1, 2]"], False, CloseCode.BAD_REQUEST, "JSON object"),
    (['{"type": 5}'], False, CloseCode.BAD_REQUEST, "type"),
    (['{"type": "start"}'], False, CloseCode.BAD_REQUEST, "unknown type"),
    (['{"type": "next", "id": "1", "payload": {}}'], True, CloseCode.BAD_REQUEST, "unknown type"),
    (['{"type": "connection_init", "payload": [1]}'], False, CloseCode.BAD_REQUEST, "payload"),
    ([INIT, '{"type": "subscribe", "id": "", "payload": {"query": "q"}}'], True, CloseCode.BAD_REQUEST, "id"),
    ([INIT, '{"type": "subscribe", "id": 1, "payload": {"query": "q"}}'], True, CloseCode.BAD_REQUEST, "id"),
    ([INIT, '{"type": "subscribe", "id": "1", "payload": {"query": 1}}'], True, CloseCode.BAD_REQUEST, "query"),
    ([INIT, '{"type": "subscribe", "id": "1"}'], True, CloseCode.BAD_REQUEST, "payload"),
    (
        [INIT, '{"type": "subscribe", "id": "1", "payload": {"query": "q", "variables": [1]}}'],
        True,
        CloseCode.BAD_REQUEST,
        "variables",
    ),
    ([INIT, '{"type": "complete"}'], True, CloseCode.BAD_REQUEST, "id"),
    (["x" * 200], False, CloseCode.MESSAGE_TOO_LARGE, "Message too large"),
]


@pytest.mark.parametrize(("frames", "ack", "code", "reason"), CLOSE_CASES)
def test_server_close_paths(frames, ack, code, reason):
    server = TransportWSConnection(Role.SERVER, ProtocolConfig(max_message_bytes=100))
    with pytest.raises(RemoteProtocolError) as info:
        for i, frame in enumerate(frames):
            server.receive_data(frame)
            while server.next_event() is not NEED_DATA:
                pass
            if i == 0 and ack and server.state is ConnState.INIT_PENDING:
                server.accept_init()
    assert info.value.close_code == code
    assert reason in info.value.reason
    assert server.closed == info.value.close
    # once closed, nothing more comes out and nothing can be sent
    server.receive_data(INIT)
    assert server.next_event() is NEED_DATA
    with pytest.raises(LocalProtocolError):
        server.send(Ping())


def test_auth_refused_closes_4403():
    client, server = pair()
    client.send(ConnectionInit(payload={"Authorization": "bad"}))
    transfer(client, server)
    close = server.reject_init()
    assert (close.code, close.reason) == (4403, "Forbidden")
    assert server.state is ConnState.CLOSED


@pytest.mark.parametrize("init_sent", [False, True])
def test_init_timeout_closes_4408(init_sent):
    server = TransportWSConnection(Role.SERVER)
    if init_sent:  # still authenticating when the timer fires
        server.receive_data(INIT)
        server.next_event()
    close = server.init_timed_out()
    assert close is not None and (close.code, close.reason) == (4408, "Connection initialisation timeout")


def test_init_timer_losing_the_race_is_a_no_op():
    _, server = acked_pair()
    assert server.init_timed_out() is None
    assert server.closed is None


def test_subscription_limit_refuses_the_operation_not_the_connection():
    client, server = acked_pair(max_operations=2)
    for i in range(2):
        client.send(Subscribe(id=str(i), query="subscription { s }"))
    assert len(transfer(client, server)) == 2
    server.receive_data(json.dumps({"id": "2", "type": "subscribe", "payload": {"query": "subscription { s }"}}))
    assert server.next_event() is NEED_DATA
    [frame] = server.data_to_send()
    error = json.loads(frame)
    assert error["type"] == "error" and error["id"] == "2"
    assert error["payload"][0]["extensions"]["errorType"] == "LimitExceeded"
    assert "limit is 2" in error["payload"][0]["message"]
    assert server.active_operations == {"0", "1"} and server.closed is None


def test_client_closes_on_invalid_server_message():
    client, _ = pair()
    client.send(ConnectionInit())
    client.receive_data(json.dumps({"type": "next", "id": "1", "payload": {}}))
    with pytest.raises(RemoteProtocolError) as info:
        client.next_event()
    assert info.value.close_code == 4400


def test_client_ignores_results_for_operations_it_completed():
    client, server = acked_pair()
    client.send(Subscribe(id="1", query="subscription { s }"))
    transfer(client, server)
    server.send(Next(id="1", payload={"data": 1}))
    client.send(Complete(id="1"))  # crosses the next on the wire
    assert transfer(server, client) == []
    assert transfer(client, server) == [Complete(id="1")]


@pytest.mark.parametrize(
    "bad",
    [
        lambda: Next(id="1", payload=None),
        lambda: Subscribe(id="", query="q"),
        lambda: Error(id="1", payload=[]),
        lambda: Error(id="1", payload=[{"msg": "x"}]),
        lambda: ConnectionInit(payload=[1]),
    ],
)
def test_messages_validate_on_construction(bad):
    with pytest.raises(MessageError):
        bad()


@pytest.mark.parametrize(
    ("role", "message"),
    [
        (Role.SERVER, Subscribe(id="1", query="q")),
        (Role.CLIENT, Next(id="1", payload={})),
        (Role.SERVER, Next(id="1", payload={})),  # before ack
        (Role.SERVER, ConnectionAck()),  # before init
    ],
)
def test_local_protocol_errors(role, message):
    core = TransportWSConnection(role)
    with pytest.raises(LocalProtocolError):
        core.send(message)
    assert core.data_to_send() == []


def test_only_the_server_decides_auth_and_timeouts():
    client = TransportWSConnection(Role.CLIENT)
    with pytest.raises(LocalProtocolError):
        client.reject_init()
    with pytest.raises(LocalProtocolError):
        client.init_timed_out()
