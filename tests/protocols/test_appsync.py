"""AppSync real-time core: client and server cores back to back, AppSync's error shapes, and the
paths where AppSync answers instead of closing."""

from __future__ import annotations

import json

import pytest

from server.protocols import NEED_DATA, CloseCode, LocalProtocolError, ProtocolConfig, RemoteProtocolError, Role
from server.protocols.appsync import (
    AppSyncConnection,
    ConnectionAck,
    ConnectionErrorMessage,
    ConnectionInit,
    ConnState,
    Data,
    Error,
    KeepAlive,
    Start,
    StartAck,
    Stop,
    appsync_error,
)

from .conftest import transfer

AUTH = {"host": "api.example.test", "x-api-key": "da2-key"}


def pair(**config):
    cfg = ProtocolConfig(**config)
    return AppSyncConnection(Role.CLIENT, cfg), AppSyncConnection(Role.SERVER, cfg)


def frames(core):
    return [json.loads(f) for f in core.data_to_send()]


def test_full_session_back_to_back():
    client, server = pair(connection_timeout_ms=60_000)
    client.send(ConnectionInit())
    assert transfer(client, server) == [ConnectionInit()]
    assert transfer(server, client) == [ConnectionAck(connection_timeout_ms=60_000), KeepAlive()]
    assert client.state is server.state is ConnState.READY

    start = Start.build(id="s1", query="subscription { onCreateTodo { id } }", variables={"owner": "a"}, authorization=AUTH)
    client.send(start)
    [event] = transfer(client, server)
    assert event.query == "subscription { onCreateTodo { id } }"
    assert event.variables == {"owner": "a"}
    assert event.authorization == AUTH
    assert event.data == start.data  # the exact string IAM signs
    assert server.pending_operations == {"s1"} and server.active_operations == frozenset()
    assert server.send_result_raw("s1", '{"data":{}}') is False  # nothing flows before start_ack

    assert server.accept_start("s1")
    assert server.send(Data(id="s1", payload={"data": {"onCreateTodo": {"id": "1"}}}))
    assert server.send_result_raw("s1", '{"data":{"onCreateTodo":{"id":"2"}}}')
    assert server.keep_alive()
    events = transfer(server, client)
    assert [e.type for e in events] == ["start_ack", "data", "data", "ka"]
    assert events[2].payload == {"data": {"onCreateTodo": {"id": "2"}}}
    assert client.active_operations == server.active_operations == {"s1"}

    # a refused start: AppSync's error shape, with the id
    client.send(Start.build(id="s2", query="subscription { secret }", authorization={"host": "h"}))
    transfer(client, server)
    assert server.reject_start("s2", [appsync_error("UnauthorizedException", "Not Authorized to access secret")])
    [error] = transfer(server, client)
    assert error == Error(id="s2", errors=[{"errorType": "UnauthorizedException", "message": "Not Authorized to access secret"}])
    assert "s2" not in client.active_operations | client.pending_operations

    # stop → complete; data in flight afterwards is dropped
    client.send(Stop(id="s1"))
    assert transfer(client, server) == [Stop(id="s1")]
    assert server.send(Data(id="s1", payload={"data": None})) is False
    assert frames(server) == [{"type": "complete", "id": "s1"}]
    assert server.connection_lost() == frozenset()


def test_start_without_connection_init_is_allowed():
    """connection_init is optional in AppSync: the handshake already carried the auth."""
    client, server = pair()
    client.send(Start.build(id="1", query="subscription { s }", authorization=AUTH))
    [event] = transfer(client, server)
    assert isinstance(event, Start)
    server.accept_start("1")
    assert transfer(server, client) == [StartAck(id="1")]


def test_stop_before_the_start_is_decided():
    client, server = pair()
    client.send(Start.build(id="1", query="subscription { s }"))
    client.send(Stop(id="1"))
    assert [e.type for e in transfer(client, server)] == ["start", "stop"]
    assert server.accept_start("1") is False  # the late decision is dropped
    assert frames(server) == [{"type": "complete", "id": "1"}]


def test_wire_shapes():
    start = Start.build(id="1", query="subscription { s }", authorization=AUTH)
    assert start.formatted() == {
        "id": "1",
        "type": "start",
        "payload": {
            "data": '{"query":"subscription { s }","variables":{}}',
            "extensions": {"authorization": AUTH},
        },
    }
    assert ConnectionAck(connection_timeout_ms=300000).formatted() == {
        "type": "connection_ack",
        "payload": {"connectionTimeoutMs": 300000},
    }
    assert Error(errors=[appsync_error("X", "m")]).formatted() == {
        "type": "error",
        "payload": {"errors": [{"errorType": "X", "message": "m"}]},
    }


ANSWER_CASES = [
    # (frame, id in the answer, errorType, text) — AppSync answers and keeps the socket
    ("{nope", None, "BadRequestException", "not JSON"),
    ("[]", None, "BadRequestException", "JSON object"),
    ('{"type": "subscribe", "id": "1"}', None, "UnsupportedOperation", "subscribe not supported through the realtime channel"),
    ('{"type": "data", "id": "1", "payload": {"data": 1}}', None, "UnsupportedOperation", "not supported"),
    ('{"type": "start", "id": "1", "payload": {"data": "{bad"}}', "1", "BadRequestException", "JSON string"),
    ('{"type": "start", "id": "1", "payload": {"data": "{}"}}', "1", "BadRequestException", "query"),
    ('{"type": "start", "id": "1", "payload": {"data": 5}}', "1", "BadRequestException", "payload.data"),
    ('{"type": "start", "id": "1"}', "1", "BadRequestException", "payload"),
    (
        '{"type": "start", "id": "1", "payload": {"data": "{\\"query\\": \\"q\\"}", "extensions": {"authorization": {"a": 1}}}}',
        "1",
        "BadRequestException",
        "authorization",
    ),
    ('{"type": "start", "payload": {"data": "{}"}}', None, "BadRequestException", "id"),
    ('{"type": "stop", "id": ""}', None, "BadRequestException", "id"),
]


@pytest.mark.parametrize(("frame", "op_id", "error_type", "text"), ANSWER_CASES)
def test_server_answers_invalid_messages_with_appsync_errors(frame, op_id, error_type, text):
    server = AppSyncConnection(Role.SERVER)
    server.receive_data(frame)
    assert server.next_event() is NEED_DATA
    [sent] = frames(server)
    assert sent["type"] == "error" and sent.get("id") == op_id
    [error] = sent["payload"]["errors"]
    assert error["errorType"] == error_type and text in error["message"]
    assert server.closed is None


def test_max_subscriptions_error():
    client, server = pair(max_operations=1)
    client.send(Start.build(id="1", query="subscription { s }"))
    transfer(client, server)
    server.receive_data(json.dumps(Start.build(id="2", query="subscription { s }").formatted()))
    assert server.next_event() is NEED_DATA
    assert frames(server) == [
        {
            "type": "error",
            "id": "2",
            "payload": {"errors": [{"errorType": "MaxSubscriptionsReachedError", "message": "Max number of 1 subscriptions reached"}]},
        }
    ]


def test_duplicate_start_id_ends_the_old_subscription():
    client, server = pair()
    client.send(Start.build(id="1", query="subscription { s }"))
    transfer(client, server)
    server.accept_start("1")
    server.receive_data(json.dumps(Start.build(id="1", query="subscription { t }").formatted()))
    assert server.next_event() == Stop(id="1")
    assert server.next_event() is NEED_DATA
    sent = frames(server)
    assert sent[-1]["type"] == "error" and sent[-1]["id"] == "1"
    assert server.active_operations == frozenset()


def test_connection_rejected_after_upgrade():
    client, server = pair()
    close = server.reject_connection()
    assert close.code == CloseCode.FORBIDDEN
    [event] = transfer(server, client)
    assert event == ConnectionErrorMessage(
        errors=[{"errorType": "UnauthorizedException", "message": "You are not authorized to make this call.", "errorCode": 401}]
    )


def test_message_too_large_closes_4413():
    server = AppSyncConnection(Role.SERVER, ProtocolConfig(max_message_bytes=64))
    server.receive_data(json.dumps(Start.build(id="1", query="subscription { " + "x" * 100 + " }").formatted()))
    with pytest.raises(RemoteProtocolError) as info:
        server.next_event()
    assert info.value.close_code == 4413


def test_client_closes_on_invalid_server_message():
    client = AppSyncConnection(Role.CLIENT)
    client.receive_data('{"type": "next", "id": "1"}')
    with pytest.raises(RemoteProtocolError) as info:
        client.next_event()
    assert info.value.close_code == 4400


def test_client_keeps_going_on_server_error_without_id():
    client, server = pair()
    server.receive_data('{"type": "subscribe"}')
    server.next_event()
    [event] = transfer(server, client)
    assert isinstance(event, Error) and event.id is None
    assert client.closed is None


@pytest.mark.parametrize(
    ("role", "message"),
    [
        (Role.SERVER, Start.build(id="1", query="q")),
        (Role.CLIENT, KeepAlive()),
        (Role.SERVER, Data(id="1", payload={"data": 1})),  # unknown id: dropped, not an error
        (Role.SERVER, ConnectionAck(connection_timeout_ms=1)),  # before connection_init
    ],
)
def test_local_sends(role, message):
    core = AppSyncConnection(role)
    if isinstance(message, Data):
        assert core.send(message) is False
        return
    with pytest.raises(LocalProtocolError):
        core.send(message)


def test_data_before_start_ack_is_a_local_error():
    client, server = pair()
    client.send(Start.build(id="1", query="q"))
    transfer(client, server)
    with pytest.raises(LocalProtocolError):
        server.send(Data(id="1", payload={"data": 1}))
    with pytest.raises(LocalProtocolError):
        client.send(Start.build(id="1", query="q"))  # the client's id is still in use
