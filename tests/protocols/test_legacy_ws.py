"""Legacy graphql-ws core (subscriptions-transport-ws): client and server cores back to back, and
every error path (most answer with a message and keep the socket, as the reference server does)."""

from __future__ import annotations

import json

import pytest

from server.protocols import NEED_DATA, CloseCode, LocalProtocolError, ProtocolConfig, RemoteProtocolError, Role
from server.protocols.legacy_ws import (
    Complete,
    ConnectionAck,
    ConnectionErrorMessage,
    ConnectionInit,
    ConnectionTerminate,
    ConnState,
    Data,
    Error,
    KeepAlive,
    LegacyWSConnection,
    Start,
    Stop,
)

from .conftest import transfer

LEGACY_CLIENT_KNOWS = {"connection_ack", "connection_error", "ka", "data", "error", "complete"}


def pair(**config):
    cfg = ProtocolConfig(**config)
    return LegacyWSConnection(Role.CLIENT, cfg), LegacyWSConnection(Role.SERVER, cfg)


def frames(core):
    return [json.loads(f) for f in core.data_to_send()]


def test_full_session_with_starts_sent_before_the_ack():
    client, server = pair()
    # the legacy client does not wait for connection_ack before sending start
    client.send(ConnectionInit(payload={"Authorization": "Bearer t"}))
    client.send(Start(id="1", query="subscription { onCreateTodo { id } }"))
    client.send(Start(id="2", query="{ getTodo(id: 1) { id } }", variables={"x": 1}, operation_name="Q"))
    assert transfer(client, server) == [ConnectionInit(payload={"Authorization": "Bearer t"})]
    assert server.state is ConnState.INIT_PENDING
    server.accept_init()
    released = [server.next_event(), server.next_event(), server.next_event()]
    assert [type(e) for e in released] == [Start, Start, type(NEED_DATA)]
    assert released[1].variables == {"x": 1} and released[1].operation_name == "Q"
    assert transfer(server, client) == [ConnectionAck(), KeepAlive()]

    server.send(Data(id="2", payload={"data": {"getTodo": None}}))
    server.send(Complete(id="2"))
    assert server.send_result_raw("1", '{"data":{"onCreateTodo":{"id":"a"}}}')
    assert server.keep_alive()
    events = transfer(server, client)
    assert [e.type for e in events] == ["data", "complete", "data", "ka"]
    assert client.active_operations == server.active_operations == {"1"}

    # stop is answered with complete; later data for it is dropped on both sides
    client.send(Stop(id="1"))
    assert transfer(client, server) == [Stop(id="1")]
    assert server.send(Data(id="1", payload={"data": None})) is False
    assert transfer(server, client) == []  # the complete for "1" is ignored by the client: already stopped
    assert server.active_operations == frozenset()

    client.send(ConnectionTerminate())
    assert client.closed.code == 1000
    assert transfer(client, server) == [ConnectionTerminate()]
    assert server.closed.code == CloseCode.NORMAL


def test_server_only_ever_sends_types_the_legacy_client_knows():
    client, server = pair(max_operations=1)
    for raw in ["nope", "[]", '{"type":"subscribe","id":"1"}', '{"type":"start","id":"1","payload":{}}', "{}"]:
        server.receive_data(raw)
    server.receive_data(json.dumps({"type": "connection_init"}))
    while server.next_event() is not NEED_DATA:
        pass
    server.accept_init()
    server.receive_data(json.dumps({"type": "start", "id": "a", "payload": {"query": "q"}}))
    server.receive_data(json.dumps({"type": "start", "id": "b", "payload": {"query": "q"}}))
    server.receive_data(json.dumps({"type": "stop", "id": "a"}))
    while server.next_event() is not NEED_DATA:
        pass
    server.keep_alive()
    server.init_timed_out()
    sent = frames(server)
    assert {f["type"] for f in sent} <= LEGACY_CLIENT_KNOWS
    assert server.closed is None


ERROR_CASES = [
    # (frame, expected reply type, id or None, text in the message)
    ("{not json", "connection_error", None, "not JSON"),
    ("[1]", "connection_error", None, "JSON object"),
    ('{"id": "1"}', "connection_error", None, "type"),
    ('{"type": "subscribe", "id": "7"}', "error", "7", "Invalid message type!"),
    ('{"type": "data", "id": "7", "payload": {}}', "error", "7", "Invalid message type!"),
    ('{"type": "bogus"}', "connection_error", None, "Invalid message type!"),
    ('{"type": "start", "id": "7", "payload": {"query": 3}}', "error", "7", "query"),
    ('{"type": "start", "id": "7"}', "error", "7", "payload"),
    ('{"type": "start", "id": "7", "payload": {"query": "q", "variables": 1}}', "error", "7", "variables"),
    ('{"type": "start", "id": 7, "payload": {"query": "q"}}', "connection_error", None, "id"),
    ('{"type": "stop"}', "connection_error", None, "id"),
    ('{"type": "start", "id": "9", "payload": {"query": "q"}}', "error", "9", "send connection_init"),
]


@pytest.mark.parametrize(("frame", "reply", "op_id", "text"), ERROR_CASES)
def test_server_error_replies_keep_the_socket(frame, reply, op_id, text):
    server = LegacyWSConnection(Role.SERVER)
    server.receive_data(frame)
    assert server.next_event() is NEED_DATA
    [sent] = frames(server)
    assert sent["type"] == reply
    assert sent.get("id") == op_id
    assert text in sent["payload"]["message"]
    assert server.closed is None and server.active_operations == frozenset()


def test_message_too_large_closes_4413():
    server = LegacyWSConnection(Role.SERVER, ProtocolConfig(max_message_bytes=64))
    server.receive_data(json.dumps({"type": "connection_init", "payload": {"k": "x" * 100}}))
    with pytest.raises(RemoteProtocolError) as info:
        server.next_event()
    assert info.value.close_code == CloseCode.MESSAGE_TOO_LARGE


def test_refused_init_sends_connection_error_then_closes_1011():
    client, server = pair()
    client.send(ConnectionInit(payload={"x-api-key": "wrong"}))
    client.send(Start(id="1", query="subscription { s }"))
    transfer(client, server)
    close = server.reject_init("Unauthorized: bad API key")
    assert close.code == CloseCode.INTERNAL_ERROR
    assert server.next_event() is NEED_DATA  # the held start never becomes an event
    [event] = transfer(server, client)
    assert event == ConnectionErrorMessage(payload={"message": "Unauthorized: bad API key"})
    assert server.connection_lost() == frozenset()


def test_init_timeout():
    server = LegacyWSConnection(Role.SERVER)
    close = server.init_timed_out()
    assert close.code == CloseCode.INIT_TIMEOUT
    assert frames(server) == [{"type": "connection_error", "payload": {"message": "Connection initialisation timeout"}}]


def test_duplicate_start_replaces_the_operation():
    client, server = pair()
    client.send(ConnectionInit())
    transfer(client, server)
    server.accept_init()
    transfer(server, client)
    client.send(Start(id="1", query="subscription { a }"))
    client.send(Start(id="1", query="subscription { b }"))
    assert transfer(client, server) == [
        Start(id="1", query="subscription { a }"),
        Stop(id="1"),
        Start(id="1", query="subscription { b }"),
    ]
    assert server.active_operations == {"1"}


def test_operation_limit_refuses_with_error():
    client, server = pair(max_operations=1)
    client.send(ConnectionInit())
    client.send(Start(id="1", query="q"))
    transfer(client, server)
    server.receive_data(json.dumps({"type": "start", "id": "2", "payload": {"query": "q"}}))
    assert server.next_event() is NEED_DATA  # held start over the limit is refused at once
    server.accept_init()
    assert [e.id for e in iter(server.next_event, NEED_DATA)] == ["1"]
    sent = frames(server)
    assert sent[0] == {"type": "error", "id": "2", "payload": {"message": "Too many operations on this connection: the limit is 1"}}


def test_error_ends_the_operation():
    client, server = pair()
    client.send(ConnectionInit())
    client.send(Start(id="1", query="q"))
    transfer(client, server)
    server.accept_init()
    list(iter(server.next_event, NEED_DATA))
    server.refuse_operation("1", {"message": "Validation error"})
    assert transfer(server, client)[-1] == Error(id="1", payload={"message": "Validation error"})
    assert server.active_operations == client.active_operations == frozenset()


def test_client_raises_on_unknown_server_type():
    client = LegacyWSConnection(Role.CLIENT)
    client.send(ConnectionInit())
    client.receive_data(json.dumps({"type": "next", "id": "1", "payload": {}}))
    with pytest.raises(RemoteProtocolError) as info:
        client.next_event()
    assert info.value.close_code == 4400


@pytest.mark.parametrize(
    ("role", "message"),
    [
        (Role.SERVER, Start(id="1", query="q")),
        (Role.CLIENT, Data(id="1", payload={"data": None})),
        (Role.SERVER, KeepAlive()),  # before ack
        (Role.CLIENT, Start(id="1", query="q")),  # before connection_init
    ],
)
def test_local_protocol_errors(role, message):
    core = LegacyWSConnection(role)
    with pytest.raises(LocalProtocolError):
        core.send(message)


def test_stop_for_a_held_start_drops_it():
    client, server = pair()
    client.send(ConnectionInit())
    client.send(Start(id="1", query="subscription { s }"))
    client.send(Stop(id="1"))
    assert transfer(client, server) == [ConnectionInit()]
    assert frames(server) == [{"type": "complete", "id": "1"}]
    server.accept_init()
    assert server.next_event() is NEED_DATA  # the start never runs
    assert server.active_operations == frozenset()


def test_malformed_message_naming_a_live_operation_ends_it():
    client, server = pair()
    client.send(ConnectionInit())
    client.send(Start(id="1", query="subscription { s }"))
    transfer(client, server)
    server.accept_init()
    list(iter(server.next_event, NEED_DATA))
    server.data_to_send()
    server.receive_data(json.dumps({"type": "start", "id": "1", "payload": {"query": 5}}))
    assert server.next_event() == Stop(id="1")  # the adapter ends it
    assert server.active_operations == frozenset()
    [sent] = frames(server)
    assert sent["type"] == "error" and sent["id"] == "1"
