"""The MQTT adapter: the embedded broker's lifecycle, `/mqtt`, the POST handshake, model topics.

- `/mqtt` upgrades to WebSocket (subprotocol `mqtt`) and hands the connection to amqtt's
  `external_connected`, so MQTT shares the server's port, TLS and process.
- A subscription POSTed to /graphql (AppSync's MQTT mode) is registered in the subscription
  registry once per *group*: the group gets one topic and one registry subscriber whose sink
  publishes the group's payload (serialised once) to that topic. Each POST grants its client id
  the topic until `expireTime`; the grant's expiry removes the client's broker subscription and,
  when no grant is left, the group's registry subscriber.
- Committed store changes are published on the model topics (server/mqtt/_acl.py).
- CONNECT is authenticated by the server's Authenticator *before* the broker sees it (see
  server/mqtt/_connect.py), on WebSocket and TCP alike; SUBSCRIBE and PUBLISH go through the
  topic ACL. Every refusal is logged and, with `metrics`, counted (CONNECTs by reason, ACL
  refusals by action); open connections are a gauge by transport.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web
from amqtt.adapters import StreamWriterAdapter, WriterAdapter
from amqtt.session import Session
from graphql import DocumentNode, GraphQLError, OperationDefinitionNode

from server.auth.authenticate import headers_from_mqtt_connect
from server.auth.identity import Identity
from server.auth.policy import owner_values, policy_for, row_filter
from server.errors import ConfigError, Unauthorized
from server.metrics import Metrics
from server.models import ModelSpec
from server.mqtt._acl import Grants, TopicAcl, group_topic, owner_levels, principal_key
from server.auth.tls import ssl_context
from server.mqtt._broker import LISTENER, SynclineBroker, broker_config
from server.mqtt._connect import CONNACK_NOT_AUTHORIZED, ConnectError, packet_length, parse_connect
from server.mqtt._transport import StreamReader, WebSocketReader, WebSocketWriter
from server.realtime.registry import Subscriber, SubscriptionError, SubscriptionRegistry
from server.settings import MqttSettings
from server.store.base import ChangeEvent
from server.web.http import Authenticator

__all__ = ["MqttService"]

log = logging.getLogger("syncline.mqtt")

#: The largest MQTT-over-WebSocket frame accepted (MQTT packets are split across frames anyway).
MAX_FRAME_BYTES = 1 << 20
#: A connection must send its CONNECT within this many seconds.
CONNECT_TIMEOUT_S = 10.0
#: Live handshake grants one client id may hold (each is a subscription group it can join).
MAX_GRANTS_PER_CLIENT = 100


@dataclass(eq=False)
class _GroupTopic:
    topic: str
    subscriber: Subscriber


class MqttService:
    """The embedded broker and everything that feeds it (module docstring).

    Args:
        settings: `[mqtt]`.
        authenticator: the server's Authenticator (CONNECT uses the same modes as HTTP).
        registry: the subscription registry (the WebSocket endpoint's, so groups are shared).
        models: the @model specs (model topics and their @auth rules).
        tls: (certificate, key) when the server serves TLS; the TCP listener uses them too.
        clock: wall-clock seconds (grants expire on it; tests pass their own).
        metrics: the server's Metrics (the `syncline_mqtt_*` series); None: not counted.
    """

    def __init__(
        self,
        *,
        settings: MqttSettings,
        authenticator: Authenticator,
        registry: SubscriptionRegistry,
        models: Sequence[ModelSpec],
        tls: tuple[Path, Path] | None = None,
        clock: Callable[[], float] = time.time,
        metrics: Metrics | None = None,
    ) -> None:
        self.settings = settings
        self.metrics = metrics
        self._auth = authenticator
        self._registry = registry
        self._models = {m.name: m for m in models}
        self._tls = tls
        self._clock = clock
        self.acl = TopicAcl(topic_prefix=settings.topic_prefix, graphql_prefix=settings.graphql_prefix, models=self._models)
        #: each model topic's leading levels, for `SynclineBroker.may_match` (built once, not per write)
        self._topic_levels = {name: (*settings.topic_prefix.split("/"), name) for name in self._models}
        self.grants = Grants()
        self.broker: SynclineBroker | None = None
        self.tcp_port: int | None = None
        self._identities: dict[str, Identity] = {}
        #: identities checked by the adapter, waiting for the broker's auth plugin (by peer address)
        self._checked: dict[tuple[str, str | int], Identity] = {}
        self._stale: set[str] = set()
        self._groups: dict[str, _GroupTopic] = {}
        self._op_topics: dict[str, str] = {}
        self._sockets: set[web.WebSocketResponse] = set()
        self._wake = asyncio.Event()
        self.refusals = 0

    # -- lifecycle -------------------------------------------------------------------------

    def add_to(self, app: web.Application) -> None:
        """Route /mqtt, start the broker with the app and stop it after the connections."""
        app.router.add_get("/mqtt", self.websocket)
        app.cleanup_ctx.append(self._lifetime)

        async def close_sockets(_: web.Application) -> None:
            await asyncio.gather(*(ws.close(code=1001, message=b"server shutdown") for ws in list(self._sockets)), return_exceptions=True)

        app.on_shutdown.append(close_sockets)

    async def _lifetime(self, _: web.Application) -> AsyncIterator[None]:
        broker = SynclineBroker(
            broker_config(self),
            max_offline_messages=self.settings.max_offline_messages,
            max_buffer_bytes=self.settings.send_queue_bytes,
            metrics=self.metrics,
        )
        await broker.start()
        self.broker = broker
        tcp: asyncio.Server | None = None
        try:
            if self.settings.tcp_port is not None:
                tls = ssl_context(*self._tls) if self._tls is not None else None
                try:
                    tcp = await asyncio.start_server(self._tcp_connection, self.settings.tcp_host, self.settings.tcp_port, ssl=tls)
                except OSError as exc:
                    raise ConfigError(
                        f"[mqtt] tcp_port {self.settings.tcp_port}: cannot listen on {self.settings.tcp_host} ({exc.strerror}); "
                        "pick a free port or remove tcp_port"
                    ) from exc
                self.tcp_port = int(tcp.sockets[0].getsockname()[1])
                log.info("MQTT over TCP%s on %s:%d", " (TLS)" if tls else "", self.settings.tcp_host, self.tcp_port)
        except BaseException:
            await broker.shutdown()
            raise
        expiry = asyncio.create_task(self._expire_forever(), name="syncline-mqtt-grants")
        try:
            yield
        finally:
            expiry.cancel()
            await asyncio.gather(expiry, return_exceptions=True)
            if tcp is not None:
                tcp.close()
            for g in list(self._groups.values()):
                self._registry.unsubscribe(g.subscriber)
            self._groups.clear()
            self.broker = None
            await broker.shutdown()

    async def ready(self) -> None:
        """Readiness check "broker": raise unless the broker is serving."""
        if self.broker is None or not self.broker.running:
            raise RuntimeError("the MQTT broker is not running")

    # -- /mqtt -----------------------------------------------------------------------------

    async def websocket(self, request: web.Request) -> web.StreamResponse:
        if request.headers.get("Upgrade", "").lower() != "websocket":
            raise web.HTTPBadRequest(text="/mqtt takes MQTT over WebSocket (Upgrade: websocket, subprotocol mqtt)\n")
        broker = self.broker
        if broker is None:
            raise web.HTTPServiceUnavailable(text="the MQTT broker is not running\n")
        ws = web.WebSocketResponse(protocols=("mqtt", "mqttv3.1"), autoping=True, compress=False, max_msg_size=MAX_FRAME_BYTES)
        await ws.prepare(request)
        self._sockets.add(ws)
        writer = WebSocketWriter(
            ws, request, max_pending=self.settings.send_queue, max_bytes=self.settings.send_queue_bytes, on_drop=self._slow_drop
        )
        reader = WebSocketReader(ws)
        try:
            if await self._admit(reader, writer, request.remote):
                await self._serve(broker, reader, writer, "websocket")
        finally:
            self._forget_peer(writer)
            self._sockets.discard(ws)
            if not ws.closed:
                await ws.close()
        return ws

    async def _tcp_connection(self, r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        broker = self.broker
        reader, writer = StreamReader(r), StreamWriterAdapter(w)
        peer = w.get_extra_info("peername")
        try:
            if broker is not None and await self._admit(reader, writer, str(peer[0]) if peer else None):
                await self._serve(broker, reader, writer, "tcp")
        finally:
            self._forget_peer(writer)
            w.close()

    async def _serve(
        self, broker: SynclineBroker, reader: WebSocketReader | StreamReader, writer: WriterAdapter, transport: str
    ) -> None:
        """Hand an admitted connection to the broker until it ends (counted while it is open)."""
        gauge = self.metrics.mqtt_connections.labels(transport) if self.metrics is not None else None
        if gauge is not None:
            gauge.inc()
        try:
            await broker.external_connected(reader, writer, LISTENER)
        finally:
            if gauge is not None:
                gauge.dec()

    def _slow_drop(self, packets: int, closing: bool) -> None:
        if self.metrics is not None:
            if closing:
                self.metrics.slow_consumers.labels("mqtt").inc()
            if packets:
                self.metrics.mqtt_dropped.labels("slow_consumer").inc(packets)

    def _forget_peer(self, writer: WriterAdapter) -> None:
        peer = writer.get_peer_info()
        if peer is not None:
            self._checked.pop((peer[0], peer[1]), None)

    async def _admit(self, reader: WebSocketReader | StreamReader, writer: WriterAdapter, remote: str | None) -> bool:
        """Read and authenticate the CONNECT; put it back for the broker, or refuse it here."""
        try:
            async with asyncio.timeout(CONNECT_TIMEOUT_S):
                head = b""
                while (total := packet_length(head)) is None:
                    chunk = await reader.read(1)
                    if not chunk:
                        return False
                    head += chunk
                rest = await reader.read(total - len(head))
            packet = head + rest
            connect = parse_connect(packet)
        except TimeoutError:
            self._refused("CONNECT", "-", "-", f"no CONNECT within {CONNECT_TIMEOUT_S:g} s from {remote}", "timeout")
            return False
        except ConnectError as exc:
            self._refused("CONNECT", "-", "-", f"{exc.message} (from {remote})", "malformed")
            return False
        client = connect.client_id
        try:
            headers = headers_from_mqtt_connect(connect.username, connect.password)
            identity = await self._auth.authenticate(headers, method="POST", path="/mqtt", query="", body=b"", source_ip=remote)
        except Unauthorized as exc:
            return await self._refuse_connect(writer, client, exc.message, "unauthorized")
        principal = _principal(identity)
        bound = self.grants.bound_to(client) if client else None
        previous = self._identities.get(client) if client else None
        if (bound is not None and bound != principal) or (previous is not None and _principal(previous) != principal):
            return await self._refuse_connect(writer, client, "this client id belongs to another identity", "client_id_taken")
        peer = writer.get_peer_info()
        if peer is None:
            return False
        # A resumed persistent session keeps its first connection's address: key by client id.
        self._checked[("client", client) if client else (peer[0], peer[1])] = identity
        reader.unread(packet)
        return True

    async def _refuse_connect(self, writer: WriterAdapter, client: str, reason: str, label: str) -> bool:
        self._refused("CONNECT", client or "-", "-", reason, label)
        try:
            writer.write(CONNACK_NOT_AUTHORIZED)
            await writer.drain()
        except (ConnectionError, RuntimeError):  # pragma: no cover - the peer left already
            pass
        return False

    # -- the Gate (called by the amqtt plugins) --------------------------------------------

    async def authenticate_session(self, session: Session) -> bool:
        """The adapter authenticated this connection's CONNECT already; bind it to the session."""
        identity = self._checked.pop(("client", session.client_id or ""), None) or self._checked.pop(
            (session.remote_address, session.remote_port), None
        )
        if identity is None:
            self._refused("CONNECT", session.client_id or "-", "-", "connection was not checked by the adapter", "unchecked")
            return False
        self._identities[session.client_id or ""] = identity
        return True

    def forget_session(self, session: Session) -> None:
        """A clean session ended: its client id is free again (persistent ones stay bound)."""
        if session.clean_session and session.client_id:
            self._identities.pop(session.client_id, None)

    def may_subscribe(self, session: Session, topic: str) -> bool:
        client = session.client_id or ""
        identity = self._identities.get(client)
        if identity is None:
            self._refused("SUBSCRIBE", client, topic, "not authenticated", "subscribe")
            return False
        principal = _principal(identity)
        now = self._clock()
        decision = self.acl.can_subscribe(
            topic,
            granted=lambda t: self.grants.allows(client, principal, t, now),
            scope=lambda model: self._scope(identity, model),
        )
        if not decision.allowed:
            self._refused("SUBSCRIBE", client, topic, decision.reason, "subscribe")
        return decision.allowed

    def may_publish(self, session: Session, topic: str) -> bool:
        decision = self.acl.can_publish(topic)
        if not decision.allowed:
            self._refused("PUBLISH", session.client_id or "", topic, decision.reason, "publish")
        return decision.allowed

    def _refused(self, what: str, client: str, topic: str, reason: str, label: str) -> None:
        """Log a refusal and count it: CONNECTs by `label` (a reason), others by `label` (an action)."""
        self.refusals += 1
        if self.metrics is not None:
            counter = self.metrics.mqtt_connect_refusals if what == "CONNECT" else self.metrics.mqtt_acl_refusals
            counter.labels(label).inc()
        log.warning("MQTT %s refused: client=%s topic=%s reason=%s", what, client, topic, reason)

    def _scope(self, identity: Identity, model: str) -> frozenset[str] | None:
        spec = self._models[model]
        try:
            rows = row_filter(identity, spec, "listen")
        except Unauthorized as exc:
            raise LookupError(exc.message) from exc
        if rows is None:
            return None
        owners: set[str] = set()
        for rule in policy_for(spec).rules:
            if rule.allow == "owner" and "listen" in rule.operations and rule.mode == identity.auth_mode:
                owners |= owner_values(identity, rule.identity_claim)[1]
        return frozenset(owners)

    # -- GraphQL subscriptions over MQTT (the POST handshake) -------------------------------

    async def handshake(
        self,
        request: web.Request,
        identity: Identity,
        document: DocumentNode,
        operation: OperationDefinitionNode,
        params: Mapping[str, Any],
        format_error: Callable[[GraphQLError, bool], dict[str, Any]],
    ) -> tuple[int, dict[str, Any]]:
        """Register (or join) the subscription's group and grant its topic; AppSync's answer.

        Returns the HTTP status and body: `extensions.subscription` with `mqttConnections`
        and `newSubscriptions`, or GraphQL errors (bad subscription, refused, client id
        bound to another identity).
        """
        if self.broker is None:
            return 503, _errors("the MQTT broker is not running", "ServiceUnavailable")
        extensions = params.get("extensions")
        filter_group = extensions.get("filterGroup") if isinstance(extensions, Mapping) else None
        requested = None
        if isinstance(extensions, Mapping) and isinstance(extensions.get("subscription"), Mapping):
            requested = extensions["subscription"].get("client")
        if requested is not None and (not isinstance(requested, str) or not 0 < len(requested) <= 128):
            return 400, _errors("extensions.subscription.client must be a client id of 1-128 characters", "BadRequest")
        client = requested or f"syncline-{secrets.token_hex(12)}"
        if self.grants.count(client) >= MAX_GRANTS_PER_CLIENT:
            return 400, _errors(
                f"client {client} holds {MAX_GRANTS_PER_CLIENT} subscription grants, the limit; "
                "let some expire or use another client id",
                "LimitExceeded",
            )
        op_id = secrets.token_hex(8)
        try:
            sub = self._registry.subscribe(
                sink=self,
                op_id=op_id,
                document=document,
                query=str(params.get("query")),
                identity=identity,
                variables=params.get("variables"),
                operation_name=params.get("operationName"),
                filter_group=filter_group,
            )
        except SubscriptionError as exc:
            return 200, {"data": None, "errors": exc.errors}
        topic = group_topic(self.settings.graphql_prefix, sub.group.key)
        if topic in self._groups:
            self._registry.unsubscribe(sub)  # the group already publishes on its topic
        else:
            self._groups[topic] = _GroupTopic(topic, sub)
            self._op_topics[op_id] = topic
        expires = self._clock() + self.settings.grant_ttl_ms / 1000
        try:
            self.grants.grant(client, _principal(identity), topic, expires)
        except PermissionError as exc:
            self._release_unused()
            return 403, _errors(str(exc), "Unauthorized")
        self._wake.set()
        field_name = sub.group.field_name
        scheme = "wss" if request.secure else "ws"
        return 200, {
            "data": {field_name: None},
            "extensions": {
                "subscription": {
                    "version": "1.0",
                    "mqttConnections": [{"url": f"{scheme}://{request.host}/mqtt", "client": client, "topics": [topic]}],
                    "newSubscriptions": {field_name: {"topic": topic, "expireTime": int(expires * 1000)}},
                }
            },
        }

    def deliver(self, op_id: str, payload_json: str) -> None:
        """The registry's sink: one publish per group and event, to the group's topic."""
        topic = self._op_topics.get(op_id)
        if topic is not None and self.broker is not None:
            self.broker.publish_nowait(topic, payload_json.encode())

    async def _expire_forever(self) -> None:
        while True:
            now = self._clock()
            for client, topic in self.grants.expire(now):
                if self.broker is not None and self.broker.unsubscribe_client(client, topic):
                    log.info("MQTT grant expired: client=%s topic=%s (subscription removed)", client, topic)
            self._release_unused()
            if self.broker is not None:
                # Sessions the broker expired no longer bind their client id. Only after two
                # passes: a CONNECT is authenticated a moment before its session is stored.
                stale = {c for c in self._identities if c not in self.broker._sessions}
                for client in stale & self._stale:
                    del self._identities[client]
                self._stale = stale - self._stale
            nxt = self.grants.next_expiry()
            delay = 1.0 if nxt is None else min(max(nxt - now, 0.01), 1.0)
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), delay)
            except TimeoutError:
                pass

    def _release_unused(self) -> None:
        live = self.grants.topics()
        for topic in [t for t in self._groups if t not in live]:
            g = self._groups.pop(topic)
            self._op_topics.pop(g.subscriber.op_id, None)
            self._registry.unsubscribe(g.subscriber)

    # -- model topics ----------------------------------------------------------------------

    def on_change(self, event: ChangeEvent) -> None:
        """Store listener: publish the committed item on its model topics."""
        broker = self.broker
        spec = self._models.get(event.model)
        if broker is None or spec is None:
            return
        if not broker.may_match(self._topic_levels[event.model]):
            return  # nobody could receive it: skip the encoding
        policy = policy_for(spec)
        item: dict[str, Any] = dict(event.item)
        for name in policy.field_rules:  # field-level rules differ per reader: such fields stay off model topics
            item.pop(name, None)
        data = json.dumps(item, separators=(",", ":"), default=str).encode()
        broker.publish_nowait(self.acl.model_topic(event.model, event.op), data)
        owner_fields = [r.owner_field for r in policy.rules if r.allow == "owner"]
        for owner in owner_levels(event.item, owner_fields):
            broker.publish_nowait(self.acl.model_topic(event.model, event.op, owner), data)


def _principal(identity: Identity) -> str:
    return principal_key(identity.auth_mode, identity.api_key_id, identity.sub, identity.username)


def _errors(message: str, error_type: str) -> dict[str, Any]:
    return {"data": None, "errors": [{"message": message, "errorType": error_type, "extensions": {"errorType": error_type}}]}
