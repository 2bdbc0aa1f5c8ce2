"""GraphQL over WebSocket (aiohttp adapter): `/graphql` (GET with Upgrade) and `/graphql/realtime`.

Thin, as DESIGN §1 asks: `negotiate()` picks graphql-transport-ws, legacy graphql-ws or the
AppSync protocol from the upgrade request; then per connection the adapter reads a frame,
feeds the sans-IO core (server/protocols/), dispatches its events (authenticate, register a
subscription in the registry, run a query or mutation), flushes the core's output into a
bounded send queue and runs the timers (connection_init wait, `ka`, lifetime, idle).

Per connection there is the handler task (reading) and one writer task (draining the queue).
The queue is bounded in messages and bytes ([realtime].send_queue, send_queue_bytes): a consumer
that falls that far behind is closed with 4503 (slow consumer), its pending messages dropped,
so one stuck client never grows the server's memory. A close that cannot be written within
[realtime].close_timeout aborts the socket. Server shutdown closes every socket with 1001.
"""

from __future__ import annotations

import asyncio
import json
import logging
import struct
from collections import deque
from collections.abc import Mapping, Sequence
from typing import Any, Callable

from aiohttp import WSMsgType, web
from graphql import ExecutionResult, GraphQLError, GraphQLSchema, OperationType, execute

from server.auth.identity import Identity
from server.context import RequestContext
from server.errors import BadRequest, Unauthorized
from server.metrics import Metrics
from server.protocols import (
    NEED_DATA,
    AppSyncConnection,
    CloseCode,
    HandshakeError,
    LegacyWSConnection,
    ProtocolConfig,
    ProtocolError,
    ProtocolName,
    TransportWSConnection,
    appsync,
    decode_appsync_handshake,
    legacy_ws,
    negotiate,
    split_subprotocols,
    transport_ws,
)
from server.realtime.registry import Subscriber, SubscriptionError, SubscriptionRegistry
from server.settings import RealtimeSettings
from server.store.base import Store
from server.web.http import Authenticator, GraphQLHttpHandler, parse_mutation_id, select_operation
from server.web.limits import check_cost

__all__ = ["RealtimeConnection", "RealtimeEndpoint"]

log = logging.getLogger("syncline.realtime")

Core = TransportWSConnection | LegacyWSConnection | AppSyncConnection
#: Result frames kept per event (distinct op ids); beyond it frames are encoded per connection.
FRAME_CACHE = 64
ErrorFormatter = Callable[[GraphQLError, bool], dict[str, Any]]


class RealtimeEndpoint:
    """The WebSocket routes; a plain GET (no Upgrade) goes on to the HTTP handler (explorer, queries)."""

    def __init__(
        self,
        *,
        registry: SubscriptionRegistry,
        schema: GraphQLSchema,
        http: GraphQLHttpHandler,
        authenticator: Authenticator,
        store: Store,
        format_error: ErrorFormatter,
        settings: RealtimeSettings = RealtimeSettings(),
        max_query_cost: int = 100_000,
        metrics: Metrics | None = None,
        throttle: Callable[[Identity, str], float | None] | None = None,
        admit_connection: Callable[[str | None], float | None] | None = None,
    ) -> None:
        self.registry = registry
        #: Per-identity token buckets by operation type ([limits]); returns seconds to wait.
        self.throttle = throttle
        #: Per-IP connection rate ([limits].connection_rate); returns seconds to wait.
        self.admit_connection = admit_connection
        self.schema = schema
        self.http = http
        self.auth = authenticator
        self.store = store
        self.format_error = format_error
        self.settings = settings
        self.max_query_cost = max_query_cost
        self.metrics = metrics
        self.config = ProtocolConfig(
            max_operations=settings.max_subscriptions,
            max_message_bytes=settings.max_message_bytes,
            connection_timeout_ms=settings.connection_timeout_ms,
        )
        self.connections: set[RealtimeConnection] = set()
        # One event's result frames, encoded once per (message type, op id) and written as the
        # same bytes to every connection (see `result_frame`); keyed on the payload object.
        self._frames_for: str | None = None
        self._frames: dict[tuple[str, str], tuple[str, bytes]] = {}
        self._uncounted: dict[str, int] = {}

    def result_frame(self, core: Core, op_id: str, payload_json: str) -> tuple[str, bytes]:
        """The result message for `op_id` as text (for the writer task) and as a whole WebSocket
        frame (for a direct write). The registry hands every member of a group the same payload
        object, so a 10,000-member group is encoded once, not 10,000 times."""
        if payload_json is not self._frames_for:
            self._frames_for = payload_json
            self._frames = {}
        key = (core.RESULT_TYPE, op_id)
        frame = self._frames.get(key)
        if frame is None:
            text = core.result_message(op_id, payload_json)
            frame = (text, text_frame(text))
            if len(self._frames) < FRAME_CACHE:  # unique op ids (UUIDs) gain nothing from caching
                self._frames[key] = frame
        return frame

    def count_delivery(self, protocol: str) -> None:
        """Add one delivery to the metric; reported once per loop turn, not once per delivery."""
        uncounted = self._uncounted
        if not uncounted:
            asyncio.get_running_loop().call_soon(self._report_deliveries)
        uncounted[protocol] = uncounted.get(protocol, 0) + 1

    def _report_deliveries(self) -> None:
        counts, self._uncounted = self._uncounted, {}
        if self.metrics is not None:
            for protocol, n in counts.items():
                self.metrics.deliveries.labels(protocol).inc(n)

    async def get(self, request: web.Request) -> web.StreamResponse:
        if request.headers.get("Upgrade", "").lower() != "websocket":
            if request.path == "/graphql":
                return await self.http.get(request)
            raise web.HTTPBadRequest(text="this endpoint only accepts WebSocket upgrades\n")
        if self.admit_connection is not None:
            retry_after = self.admit_connection(request.remote)
            if retry_after is not None:
                log.warning("connection rate exceeded for %s", request.remote)
                return web.json_response(
                    {"errors": [{"errorType": "ThrottlingException", "message": f"Rate exceeded: retry after {retry_after:.2f} s"}]},
                    status=429,
                    headers={"Retry-After": str(max(1, round(retry_after)))},
                )
        requested = split_subprotocols(request.headers.getall("Sec-WebSocket-Protocol", []))
        try:
            choice = negotiate(requested, request.query)
            handshake = decode_appsync_handshake(request.query, requested) if choice.protocol is ProtocolName.APPSYNC else None
        except HandshakeError as exc:
            return web.json_response(
                {"errors": [{"errorType": "BadRequestException", "message": exc.reason}]}, status=exc.status_hint
            )
        ws = web.WebSocketResponse(
            protocols=(choice.subprotocol,) if choice.subprotocol else (),
            autoping=True,
            compress=False,
            max_msg_size=max(4 * self.settings.max_message_bytes, 1 << 20),
        )
        await ws.prepare(request)
        conn = RealtimeConnection(self, request, ws, choice.server_connection(self.config), choice.protocol)
        self.connections.add(conn)
        try:
            await conn.run(handshake.headers if handshake is not None and handshake.source != "none" else None)
        finally:
            self.connections.discard(conn)
        return ws

    async def close_all(self, code: int = CloseCode.GOING_AWAY, reason: str = "server shutdown") -> None:
        """Close every connection (shutdown: 1001) and wait for them to finish closing."""
        conns = list(self.connections)
        for conn in conns:
            conn.begin_close(code, reason)
        tasks = [c.close_task for c in conns if c.close_task is not None]
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get("/graphql", self.get)
        app.router.add_get("/graphql/realtime", self.get)

        async def _shutdown(_: web.Application) -> None:
            await self.close_all()

        app.on_shutdown.append(_shutdown)


class RealtimeConnection:
    """One WebSocket: drives its protocol core; a `Sink` for the registry's fan-out."""

    def __init__(
        self,
        endpoint: RealtimeEndpoint,
        request: web.Request,
        ws: web.WebSocketResponse,
        core: Core,
        protocol: ProtocolName,
    ) -> None:
        self.endpoint = endpoint
        self.request = request
        self.ws = ws
        self.core = core
        self.protocol = protocol
        self.identity: Identity | None = None
        self.subscriptions: dict[str, Subscriber] = {}
        self.close_task: asyncio.Task[None] | None = None
        self._settings = endpoint.settings
        self._loop = asyncio.get_running_loop()
        self._headers = {k.lower(): v for k, v in request.headers.items()}
        self._queue: deque[str] = deque()
        self._queued_bytes = 0
        self._wake = asyncio.Event()
        self._close_frame: tuple[int, str] | None = None
        self._writer: asyncio.Task[None] | None = None
        self._writer_idle = False
        self._timers: list[asyncio.TimerHandle] = []
        self._last_inbound = self._loop.time()
        self._transport = request.transport
        self._metered = endpoint.metrics is not None
        self._label = protocol.value

    # -- lifecycle ------------------------------------------------------------------------

    async def run(self, appsync_headers: Mapping[str, str] | None) -> None:
        metrics = self.endpoint.metrics
        if metrics is not None:
            metrics.connections.labels(self.protocol.value).inc()
        self._writer = asyncio.create_task(self._write_loop())
        try:
            self._start_timers()
            if isinstance(self.core, AppSyncConnection):
                await self._appsync_connect(appsync_headers)
            if self._close_frame is None:
                async for msg in self.ws:
                    if msg.type in (WSMsgType.TEXT, WSMsgType.BINARY):
                        self._last_inbound = self._loop.time()
                        self.core.receive_data(msg.data)
                        await self._process()
                    elif msg.type is WSMsgType.ERROR:
                        break
                    if self._close_frame is not None:
                        # We decided to close: stop reading; the close task finishes the socket.
                        break
        except Exception:
            log.exception("internal error on a %s connection from %s", self.protocol.value, self.request.remote)
            self.begin_close(CloseCode.INTERNAL_ERROR, "Internal error")
        finally:
            for timer in self._timers:
                timer.cancel()
            self._timers.clear()
            for sub in self.subscriptions.values():
                self.endpoint.registry.unsubscribe(sub)
            self.subscriptions.clear()
            self.core.connection_lost()
            if self.close_task is None:
                self.begin_close(CloseCode.NORMAL, "")
            assert self.close_task is not None
            try:
                await self.close_task
            finally:
                if metrics is not None:
                    metrics.connections.labels(self.protocol.value).dec()

    def begin_close(self, code: int, reason: str, *, drop_pending: bool = False) -> None:
        """Close on our side (once): flush what is queued (unless dropped), then the close frame."""
        if self._close_frame is not None:
            return
        self._close_frame = (int(code), reason)
        if self.core.closed is None:
            self.core.close(code, reason)
        if drop_pending:
            self._queue.clear()
            self._queued_bytes = 0
            if self._writer is not None:
                self._writer.cancel()
        self._wake.set()
        self.close_task = asyncio.create_task(self._close())

    async def _close(self) -> None:
        assert self._close_frame is not None
        code, reason = self._close_frame
        timeout = self._settings.close_timeout_ms / 1000
        try:
            async with asyncio.timeout(timeout):
                if self._writer is not None:
                    await asyncio.gather(self._writer, return_exceptions=True)
                await self.ws.close(code=code, message=reason.encode()[:120])
        except TimeoutError:
            log.info("closing a %s connection timed out; dropping it", self.protocol.value)
            if self._writer is not None:
                self._writer.cancel()
            transport = self.request.transport
            if transport is not None:
                transport.abort()
            current = asyncio.current_task()
            if current is not None and current.cancelling():
                raise

    async def _write_loop(self) -> None:
        ws = self.ws
        try:
            while True:
                while self._queue:
                    frame = self._queue.popleft()
                    self._queued_bytes -= len(frame)
                    await ws.send_str(frame)
                if self._close_frame is not None:
                    return
                self._wake.clear()
                self._writer_idle = True
                try:
                    await self._wake.wait()
                finally:
                    self._writer_idle = False
        except (ConnectionError, RuntimeError) as exc:  # the peer went away mid-write
            log.debug("write failed on a %s connection: %s", self.protocol.value, exc)

    # -- output ---------------------------------------------------------------------------

    def deliver(self, op_id: str, payload_json: str) -> None:
        """Sink for the registry: one pre-serialised payload for operation `op_id`.

        The fan-out hot path (once per subscriber per event): the frame bytes are shared by the
        whole group, and while the socket keeps up they go straight to the transport, with no
        task switch and no await; otherwise through the bounded queue and the writer task.
        """
        core = self.core
        if self._close_frame is not None or not core.can_send_result(op_id):
            return
        endpoint = self.endpoint
        if self._metered:
            endpoint.count_delivery(self._label)
        frames = endpoint._frames
        if payload_json is endpoint._frames_for and (cached := frames.get((core.RESULT_TYPE, op_id))) is not None:
            text, frame = cached
        else:
            text, frame = endpoint.result_frame(core, op_id, payload_json)
        # _can_write_now(), inlined: this runs once per subscriber per event.
        transport = self._transport
        if (
            self._writer_idle
            and not self._queue
            and transport is not None
            and not transport.get_write_buffer_size()
            and not transport.is_closing()
            and not self.ws.closed
        ):
            transport.write(frame)
        else:
            self._enqueue((text,))

    def _flush(self) -> None:
        frames = self.core.data_to_send()
        if frames and self._close_frame is None:
            if self._can_write_now():
                assert self._transport is not None
                for frame in frames:
                    self._transport.write(text_frame(frame))
            else:
                self._enqueue(frames)
        closed = self.core.closed
        if closed is not None and self._close_frame is None:
            self.begin_close(closed.code, closed.reason)

    def _can_write_now(self) -> bool:
        """Write directly (no writer-task switch) while nothing is queued and the socket keeps
        up: the transport's buffer is empty, so order is kept and memory stays bounded."""
        transport = self._transport
        return (
            self._writer_idle
            and not self._queue
            and transport is not None
            and transport.get_write_buffer_size() == 0
            and not transport.is_closing()
            and not self.ws.closed
        )

    def _enqueue(self, frames: Sequence[str]) -> None:
        """Through the bounded queue; overflowing it closes the connection as a slow consumer."""
        for frame in frames:
            self._queue.append(frame)
            self._queued_bytes += len(frame)
        if len(self._queue) > self._settings.send_queue or self._queued_bytes > self._settings.send_queue_bytes:
            self._slow_consumer()
            return
        self._wake.set()

    def _slow_consumer(self) -> None:
        log.warning(
            "closing a slow %s consumer from %s: %d messages (%d bytes) queued",
            self.protocol.value,
            self.request.remote,
            len(self._queue),
            self._queued_bytes,
        )
        if self.endpoint.metrics is not None:
            self.endpoint.metrics.slow_consumers.labels(self.protocol.value).inc()
        self.begin_close(CloseCode.SLOW_CONSUMER, "Slow consumer: send queue overflowed", drop_pending=True)

    # -- timers ---------------------------------------------------------------------------

    def _start_timers(self) -> None:
        s = self._settings
        later = self._loop.call_later
        if not isinstance(self.core, AppSyncConnection) and s.init_timeout_ms:
            self._timers.append(later(s.init_timeout_ms / 1000, self._init_timeout))
        if not isinstance(self.core, TransportWSConnection) and s.keep_alive_ms:
            self._timers.append(later(s.keep_alive_ms / 1000, self._keep_alive))
        if s.max_lifetime_ms:
            self._timers.append(later(s.max_lifetime_ms / 1000, self.begin_close, CloseCode.GOING_AWAY, "connection lifetime reached"))
        if s.idle_timeout_ms:
            self._timers.append(later(s.idle_timeout_ms / 1000, self._idle_check))

    def _init_timeout(self) -> None:
        core = self.core
        if isinstance(core, AppSyncConnection) or self._close_frame is not None:
            return
        if core.init_timed_out() is not None:
            self._flush()

    def _keep_alive(self) -> None:
        core = self.core
        if self._close_frame is not None or isinstance(core, TransportWSConnection):
            return
        core.keep_alive()
        self._flush()
        self._timers.append(self._loop.call_later(self._settings.keep_alive_ms / 1000, self._keep_alive))
        self._prune_timers()

    def _idle_check(self) -> None:
        if self._close_frame is not None:
            return
        idle = self._settings.idle_timeout_ms / 1000
        since = self._loop.time() - self._last_inbound
        if not self.subscriptions and since >= idle:
            self.begin_close(CloseCode.GOING_AWAY, "idle timeout")
            return
        delay = idle - since if not self.subscriptions else idle
        self._timers.append(self._loop.call_later(max(delay, 0.01), self._idle_check))
        self._prune_timers()

    def _prune_timers(self) -> None:
        if len(self._timers) > 8:
            self._timers = [t for t in self._timers if not t.cancelled() and t.when() > self._loop.time()]

    # -- input ----------------------------------------------------------------------------

    async def _process(self) -> None:
        core = self.core
        try:
            while (event := core.next_event()) is not NEED_DATA:
                await self._dispatch(event)
                if self._close_frame is not None:
                    return
        except ProtocolError:
            pass  # the core recorded the close; _flush sends what it queued, then closes
        self._flush()

    async def _dispatch(self, event: Any) -> None:
        core = self.core
        if isinstance(core, TransportWSConnection):
            if isinstance(event, transport_ws.ConnectionInit):
                if await self._authenticate_init(event.payload):
                    core.accept_init()
                else:
                    core.reject_init("Forbidden")
            elif isinstance(event, transport_ws.Subscribe):
                await self._operation(event.id, event.query, event.variables, event.operation_name, event.extensions)
            elif isinstance(event, transport_ws.Complete):
                self._stop(event.id)
        elif isinstance(core, LegacyWSConnection):
            if isinstance(event, legacy_ws.ConnectionInit):
                if await self._authenticate_init(event.payload):
                    core.accept_init()
                else:
                    core.reject_init("You are not authorized to make this call.")
            elif isinstance(event, legacy_ws.Start):
                await self._operation(event.id, event.query, event.variables, event.operation_name, None)
            elif isinstance(event, legacy_ws.Stop):
                self._stop(event.id)
        else:
            if isinstance(event, appsync.Start):
                await self._appsync_start(event)
            elif isinstance(event, appsync.Stop):
                self._stop(event.id)
        self._flush()

    async def _authenticate(
        self, headers: Mapping[str, str], *, method: str = "GET", path: str | None = None, body: bytes = b""
    ) -> Identity:
        return await self.endpoint.auth.authenticate(
            headers,
            method=method,
            path=path or self.request.path,
            query=self.request.query_string,
            body=body,
            source_ip=self.request.remote,
        )

    async def _authenticate_init(self, payload: Mapping[str, Any] | None) -> bool:
        """connection_init: its payload carries HTTP header names; upgrade headers count too."""
        headers = dict(self._headers)
        for k, v in (payload or {}).items():
            if isinstance(v, str):
                headers[k.lower()] = v
        try:
            self.identity = await self._authenticate(headers)
        except Unauthorized as exc:
            log.warning("refused a %s connection from %s: %s", self.protocol.value, self.request.remote, exc.message)
            return False
        return True

    async def _appsync_connect(self, handshake_headers: Mapping[str, str] | None) -> None:
        headers = {k.lower(): v for k, v in handshake_headers.items()} if handshake_headers else dict(self._headers)
        try:
            self.identity = await self._authenticate(headers, path="/graphql/connect", body=b"{}")
        except Unauthorized as exc:
            log.warning("refused an AppSync connection from %s: %s", self.request.remote, exc.message)
            assert isinstance(self.core, AppSyncConnection)
            self.core.reject_connection()
        self._flush()

    async def _appsync_start(self, start: appsync.Start) -> None:
        core = self.core
        assert isinstance(core, AppSyncConnection)
        identity = self.identity
        if start.authorization:
            headers = {k.lower(): v for k, v in start.authorization.items()}
            try:
                identity = await self._authenticate(headers, method="POST", path="/graphql", body=start.data.encode())
            except Unauthorized:
                identity = None
        if identity is None:
            core.reject_start(start.id, [appsync.appsync_error(appsync.UNAUTHORIZED, "You are not authorized to make this call.", 401)])
            return
        throttled = self._throttled(identity, "subscription")
        if throttled is not None:
            core.reject_start(start.id, [appsync.appsync_error(*_type_and_message(throttled))])
            return
        extensions: Any = None
        try:
            extensions = json.loads(start.data).get("extensions")
        except (ValueError, AttributeError):  # pragma: no cover - the core parsed data already
            extensions = None
        try:
            sub = self._subscribe(start.id, start.query, start.variables, start.operation_name, extensions, identity)
        except SubscriptionError as exc:
            core.reject_start(start.id, [appsync.appsync_error(*_type_and_message(e)) for e in exc.errors])
            return
        if core.accept_start(start.id):
            self.subscriptions[start.id] = sub
        else:
            self.endpoint.registry.unsubscribe(sub)

    def _stop(self, op_id: str) -> None:
        sub = self.subscriptions.pop(op_id, None)
        if sub is not None:
            self.endpoint.registry.unsubscribe(sub)

    def _subscribe(
        self,
        op_id: str,
        query: str,
        variables: Mapping[str, Any] | None,
        operation_name: str | None,
        extensions: Any,
        identity: Identity,
    ) -> Subscriber:
        """Validate (as HTTP does) and register one subscription. Raises SubscriptionError."""
        document, errors, _ = self.endpoint.http.prepare(query)
        if errors:
            formatted = [self.endpoint.format_error(e, False) for e in errors]
            raise SubscriptionError(errors[0].message, errors=formatted)
        filter_group = extensions.get("filterGroup") if isinstance(extensions, Mapping) else None
        return self.endpoint.registry.subscribe(
            sink=self,
            op_id=op_id,
            document=document,
            query=query,
            identity=identity,
            variables=variables,
            operation_name=operation_name,
            filter_group=filter_group,
        )

    async def _operation(
        self,
        op_id: str,
        query: str,
        variables: Mapping[str, Any] | None,
        operation_name: str | None,
        extensions: Mapping[str, Any] | None,
    ) -> None:
        """graphql-transport-ws subscribe / legacy start: a subscription, or a query or mutation."""
        assert self.identity is not None  # the cores only emit operations after connection_ack
        document, errors, fragments = self.endpoint.http.prepare(query)
        operation = select_operation(document, operation_name) if not errors else None
        if errors or operation is None:
            errs = [self.endpoint.format_error(e, False) for e in errors] or [
                _error("the document has several operations; send `operationName`" if operation_name is None else f"no operation named {operation_name!r}")
            ]
            self._refuse(op_id, errs)
            return
        throttled = self._throttled(self.identity, operation.operation.value)
        if throttled is not None:
            self._refuse(op_id, [throttled])
            return
        if operation.operation is OperationType.SUBSCRIPTION:
            try:
                self.subscriptions[op_id] = self._subscribe(op_id, query, variables, operation_name, extensions, self.identity)
            except SubscriptionError as exc:
                self._refuse(op_id, exc.errors)
            return
        cost_error = check_cost(operation, fragments, dict(variables or {}), self.endpoint.max_query_cost)
        if cost_error is not None:
            self._refuse(op_id, [self.endpoint.format_error(cost_error, False)])
            return
        try:
            client_id, seq = parse_mutation_id(extensions)
        except BadRequest as exc:
            self._refuse(op_id, [_error(exc.message)])
            return
        context = RequestContext(
            identity=self.identity, store=self.endpoint.store, headers=self._headers, client_id=client_id, seq=seq
        )
        result = execute(
            self.endpoint.schema,
            document,
            variable_values=dict(variables or {}),
            operation_name=operation_name,
            context_value=context,
        )
        if not isinstance(result, ExecutionResult):
            result = await result
        payload: dict[str, Any] = {"data": result.data}
        if result.errors:
            payload["errors"] = [self.endpoint.format_error(e, False) for e in result.errors]
        if self._close_frame is not None:
            return
        core = self.core
        if isinstance(core, TransportWSConnection):
            if core.send(transport_ws.Next(id=op_id, payload=payload)):
                core.send(transport_ws.Complete(id=op_id))
        elif isinstance(core, LegacyWSConnection):
            if core.send(legacy_ws.Data(id=op_id, payload=payload)):
                core.send(legacy_ws.Complete(id=op_id))

    def _throttled(self, identity: Identity, kind: str) -> dict[str, Any] | None:
        """The ThrottlingException error for an operation over the limit, else None."""
        throttle = self.endpoint.throttle
        retry_after = throttle(identity, kind) if throttle is not None else None
        if retry_after is None:
            return None
        return _error(f"Rate exceeded: retry after {retry_after:.2f} s", "ThrottlingException")

    def _refuse(self, op_id: str, errors: list[dict[str, Any]]) -> None:
        core = self.core
        if isinstance(core, TransportWSConnection):
            core.refuse_operation(op_id, errors)
        elif isinstance(core, LegacyWSConnection):
            core.refuse_operation(op_id, errors[0])


def text_frame(text: str) -> bytes:
    """A whole unmasked WebSocket text frame (RFC 6455 §5.2) as a server writes it, uncompressed."""
    data = text.encode()
    n = len(data)
    if n < 126:
        return bytes((0x81, n)) + data
    if n < 65536:
        return struct.pack("!BBH", 0x81, 126, n) + data
    return struct.pack("!BBQ", 0x81, 127, n) + data


def _error(message: str, error_type: str = "BadRequest") -> dict[str, Any]:
    return {"message": message, "errorType": error_type, "extensions": {"errorType": error_type}}


def _type_and_message(error: Mapping[str, Any]) -> tuple[str, str]:
    """A formatted GraphQL error → AppSync's (errorType, message)."""
    error_type = error.get("errorType") or (error.get("extensions") or {}).get("errorType") or "GraphQLError"
    return str(error_type), str(error.get("message", ""))
