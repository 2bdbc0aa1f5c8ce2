"""The cores against real third-party clients (gql), through a minimal test-only aiohttp adapter
on 127.0.0.1 port 0. The production adapter lives in server/web/ (a later step); this one only
proves the wire format: gql's graphql-transport-ws, legacy graphql-ws and AppSync transports must
handshake, subscribe, receive and stop against our cores."""

from __future__ import annotations

import pytest
from aiohttp import WSMsgType, web
from gql import Client, gql
from gql.transport.appsync_auth import AppSyncApiKeyAuthentication
from gql.transport.appsync_websockets import AppSyncWebsocketsTransport
from gql.transport.exceptions import TransportQueryError, TransportServerError
from gql.transport.websockets import WebsocketsTransport

from server.protocols import (
    NEED_DATA,
    AppSyncConnection,
    HandshakeError,
    LegacyWSConnection,
    ProtocolError,
    TransportWSConnection,
    appsync,
    decode_appsync_handshake,
    legacy_ws,
    negotiate,
    transport_ws,
)

API_KEY = "da2-test"
SUBSCRIPTION = "subscription { ticks }"


async def handler(request: web.Request) -> web.StreamResponse:
    requested = request.headers.get("Sec-WebSocket-Protocol", "")
    try:
        choice = negotiate(requested, request.query)
        if isinstance(choice.server_connection(), AppSyncConnection):
            handshake = decode_appsync_handshake(request.query, requested)
            if handshake.headers.get("x-api-key") != API_KEY:
                return web.Response(status=401, text="Unauthorized")
    except HandshakeError as exc:
        return web.Response(status=exc.status_hint, text=exc.reason)
    ws = web.WebSocketResponse(protocols=[choice.subprotocol] if choice.subprotocol else ())
    await ws.prepare(request)
    core = choice.server_connection()

    async def flush() -> None:
        for frame in core.data_to_send():
            await ws.send_str(frame)

    async for msg in ws:
        if msg.type is not WSMsgType.TEXT:
            break
        core.receive_data(msg.data)
        try:
            while (event := core.next_event()) is not NEED_DATA:
                dispatch(core, event)
        except ProtocolError as exc:
            await flush()
            await ws.close(code=exc.close_code, message=exc.reason.encode())
            break
        await flush()
        if core.closed is not None:
            await ws.close(code=core.closed.code, message=core.closed.reason.encode())
            break
    core.connection_lost()
    return ws


def dispatch(core, event) -> None:
    """What the registry will do, reduced to: two results per operation."""
    if isinstance(core, TransportWSConnection):
        if isinstance(event, transport_ws.ConnectionInit):
            if (event.payload or {}).get("x-api-key") == API_KEY:
                core.accept_init()
            else:
                core.reject_init()
        elif isinstance(event, transport_ws.Subscribe):
            for n in range(2):
                core.send(transport_ws.Next(id=event.id, payload={"data": {"ticks": n}}))
            core.send(transport_ws.Complete(id=event.id))
    elif isinstance(core, LegacyWSConnection):
        if isinstance(event, legacy_ws.ConnectionInit):
            if (event.payload or {}).get("x-api-key") == API_KEY:
                core.accept_init()
            else:
                core.reject_init("Unauthorized")
        elif isinstance(event, legacy_ws.Start):
            for n in range(2):
                core.send(legacy_ws.Data(id=event.id, payload={"data": {"ticks": n}}))
            core.send(legacy_ws.Complete(id=event.id))
    elif isinstance(event, appsync.Start):
        if event.authorization.get("x-api-key") != API_KEY:
            core.reject_start(event.id, [appsync.appsync_error("UnauthorizedException", "bad key")])
            return
        core.accept_start(event.id)
        for n in range(2):
            core.send(appsync.Data(id=event.id, payload={"data": {"ticks": n}}))


@pytest.fixture
async def url():
    app = web.Application()
    app.router.add_get("/graphql", handler)
    app.router.add_get("/graphql/realtime", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    yield f"ws://127.0.0.1:{port}/graphql"
    await runner.cleanup()


async def collect(transport, limit=None):
    results = []
    async with Client(transport=transport) as session:
        async for result in session.subscribe(gql(SUBSCRIPTION)):
            results.append(result)
            if limit and len(results) == limit:
                break
    return results


@pytest.mark.parametrize("subprotocol", ["graphql-transport-ws", "graphql-ws"])
async def test_gql_websockets_transport(url, subprotocol):
    transport = WebsocketsTransport(url=url, subprotocols=[subprotocol], init_payload={"x-api-key": API_KEY})
    assert await collect(transport) == [{"ticks": 0}, {"ticks": 1}]


async def test_gql_query_over_graphql_transport_ws(url):
    transport = WebsocketsTransport(url=url, init_payload={"x-api-key": API_KEY})
    async with Client(transport=transport) as session:
        assert await session.execute(gql("{ ticks }")) == {"ticks": 0}


def close_code(exc: BaseException) -> int | None:
    """The close code websockets saw, from anywhere in the exception chain."""
    while exc is not None:
        if getattr(exc, "rcvd", None) is not None:
            return exc.rcvd.code
        exc = exc.__cause__ or exc.__context__
    return None


async def test_gql_refused_connection_init_graphql_transport_ws(url):
    transport = WebsocketsTransport(url=url, subprotocols=["graphql-transport-ws"], init_payload={"x-api-key": "wrong"})
    with pytest.raises(Exception) as info:
        await collect(transport)
    assert close_code(info.value) == 4403


async def test_gql_refused_connection_init_legacy(url):
    transport = WebsocketsTransport(url=url, subprotocols=["graphql-ws"], init_payload={"x-api-key": "wrong"})
    with pytest.raises(TransportServerError) as info:
        await collect(transport)
    assert "Unauthorized" in str(info.value)  # from connection_error


async def test_gql_appsync_transport(url):
    host = url.split("/")[2]
    transport = AppSyncWebsocketsTransport(url=url + "/realtime", auth=AppSyncApiKeyAuthentication(host=host, api_key=API_KEY))
    assert await collect(transport, limit=2) == [{"ticks": 0}, {"ticks": 1}]


async def test_gql_appsync_refused_start(url):
    host = url.split("/")[2]

    class WrongStartKey(AppSyncApiKeyAuthentication):
        calls = 0

        def get_headers(self, data=None, headers=None):
            self.calls += 1
            # the first call builds the handshake `header`; starts get a wrong key
            return {"host": self._host, "x-api-key": API_KEY if self.calls == 1 else "wrong"}

    transport = AppSyncWebsocketsTransport(url=url, auth=WrongStartKey(host=host, api_key=API_KEY))
    with pytest.raises(TransportQueryError) as info:
        await collect(transport, limit=1)
    assert "UnauthorizedException" in str(info.value)
