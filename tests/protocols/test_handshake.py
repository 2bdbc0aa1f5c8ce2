"""negotiate() and the AppSync handshake auth decoding."""

from __future__ import annotations

import base64
import json

import pytest

from server.protocols import (
    AppSyncConnection,
    HandshakeError,
    LegacyWSConnection,
    ProtocolName,
    TransportWSConnection,
    decode_appsync_handshake,
    encode_appsync_header,
    negotiate,
)

HEADERS = {"host": "abc.appsync-api.us-east-1.amazonaws.com", "x-api-key": "da2-xyz"}
B64 = base64.b64encode(json.dumps(HEADERS).encode()).decode()

NEGOTIATE_CASES = [
    # (requested subprotocols, query params, protocol, subprotocol echoed)
    (["graphql-transport-ws"], {}, ProtocolName.TRANSPORT_WS, "graphql-transport-ws"),
    (["graphql-ws"], {}, ProtocolName.LEGACY_WS, "graphql-ws"),
    (["graphql-ws", "graphql-transport-ws"], {}, ProtocolName.TRANSPORT_WS, "graphql-transport-ws"),
    ("graphql-ws, graphql-transport-ws", {}, ProtocolName.TRANSPORT_WS, "graphql-transport-ws"),
    (["graphql-ws"], {"header": B64, "payload": "e30="}, ProtocolName.APPSYNC, "graphql-ws"),
    (["graphql-ws"], {"payload": "e30="}, ProtocolName.APPSYNC, "graphql-ws"),
    ([encode_appsync_header(HEADERS), "graphql-ws"], {}, ProtocolName.APPSYNC, "graphql-ws"),
    ("graphql-ws, " + encode_appsync_header(HEADERS), {}, ProtocolName.APPSYNC, "graphql-ws"),
    ([], {"header": B64}, ProtocolName.APPSYNC, None),
]


@pytest.mark.parametrize(("requested", "query", "protocol", "echo"), NEGOTIATE_CASES)
def test_negotiate(requested, query, protocol, echo):
    choice = negotiate(requested, query)
    assert (choice.protocol, choice.subprotocol) == (protocol, echo)
    core = choice.server_connection()
    expected = {
        ProtocolName.TRANSPORT_WS: TransportWSConnection,
        ProtocolName.LEGACY_WS: LegacyWSConnection,
        ProtocolName.APPSYNC: AppSyncConnection,
    }[protocol]
    assert type(core) is expected


@pytest.mark.parametrize("requested", [[], ["mqtt"], "chat, superchat"])
def test_negotiate_refuses_unknown_subprotocols(requested):
    with pytest.raises(HandshakeError) as info:
        negotiate(requested, {})
    assert info.value.status_hint == 400
    assert "graphql-transport-ws" in info.value.reason


def test_decode_header_query_parameter():
    handshake = decode_appsync_handshake({"header": B64, "payload": "e30="})
    assert handshake.headers == HEADERS and handshake.payload == {} and handshake.source == "query"


def test_decode_header_query_parameter_whose_plus_became_a_space():
    headers = {"Authorization": "eyJ>>>?", "host": "h"}  # encodes with '+' and '/'
    encoded = base64.b64encode(json.dumps(headers).encode()).decode()
    assert "+" in encoded or "/" in encoded
    assert decode_appsync_handshake({"header": encoded.replace("+", " ")}).headers == headers


def test_decode_header_subprotocol_url_safe_without_padding():
    headers = {"Authorization": "eyJ>>>?", "host": "h"}
    entry = encode_appsync_header(headers)
    assert "=" not in entry and "+" not in entry and "/" not in entry
    handshake = decode_appsync_handshake({}, ["graphql-ws", entry])
    assert handshake.headers == headers and handshake.source == "subprotocol"


def test_query_parameter_wins_over_subprotocol():
    entry = encode_appsync_header({"x-api-key": "other"})
    assert decode_appsync_handshake({"header": B64}, [entry]).headers == HEADERS


def test_no_auth_on_the_handshake():
    handshake = decode_appsync_handshake({}, ["graphql-ws"])
    assert handshake.headers == {} and handshake.source == "none"


def b64(value: str) -> str:
    return base64.b64encode(value.encode()).decode()


BAD_CASES = [
    ({"header": "!!!not base64!!!"}, (), "'header' query parameter is not valid base64"),
    ({"header": b64("{not json")}, (), "'header' query parameter does not decode to JSON"),
    ({"header": b64("[1, 2]")}, (), "must decode to a JSON object"),
    ({"header": b64('{"host": 5}')}, (), "must map header names to strings; not a string: host"),
    ({"payload": "%%%"}, (), "'payload' query parameter is not valid base64"),
    ({"payload": b64('"text"')}, (), "'payload' query parameter must decode to a JSON object"),
    ({}, ["graphql-ws", "header-@@@"], "'header-...' subprotocol is not valid base64"),
    ({}, ["header-" + b64("nope").rstrip("=")], "'header-...' subprotocol does not decode to JSON"),
]


@pytest.mark.parametrize(("query", "requested", "message"), BAD_CASES)
def test_bad_handshake_auth_is_a_clear_error(query, requested, message):
    with pytest.raises(HandshakeError) as info:
        decode_appsync_handshake(query, requested)
    assert message in str(info.value)
    assert info.value.status_hint == 400
