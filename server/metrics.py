"""Prometheus metrics: one registry per server instance (so tests can run several).

Counters are fed by the adapters (HTTP, WebSocket, MQTT), by `MeteredStore` (conflicts and
replayed mutations, seen on every write's result) and by the workflow engine; gauges that
describe state (store size, MQTT subscriptions) are read at scrape time.
"""

from __future__ import annotations

import builtins
from pathlib import Path
from typing import Any, Mapping, Sequence

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from server.auth.identity import Identity
from server.errors import ConflictUnhandled
from server.models import Item, ModelSpec
from server.store.base import ChangeListener, ConflictRecord, MutationId, Page, Store, SyncPage, WriteResult

CONTENT_TYPE = CONTENT_TYPE_LATEST

#: `syncline_mqtt_connections{transport}`.
MQTT_TRANSPORTS = ("websocket", "tcp")
#: `syncline_mqtt_messages_dropped{reason}`: the connection fell behind (its backlog and what
#: came while it closed), or a disconnected persistent session's queue was full.
MQTT_DROP_REASONS = ("slow_consumer", "offline_queue_full")
#: `syncline_mqtt_connect_refusals{reason}`.
MQTT_CONNECT_REFUSALS = ("malformed", "timeout", "unauthorized", "client_id_taken", "unchecked")

_LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class Metrics:
    def __init__(self, *, db_path: Path | None = None) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter(
            "syncline_graphql_requests", "GraphQL requests by operation name and outcome", ["operation", "outcome"], registry=r
        )
        self.latency = Histogram(
            "syncline_graphql_request_seconds",
            "GraphQL request latency by operation name",
            ["operation"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.connections = Gauge(
            "syncline_connections", "Open real-time connections by protocol", ["protocol"], registry=r
        )
        self.subscriptions = Gauge("syncline_subscriptions", "Active subscriptions", registry=r)
        self.subscription_groups = Gauge("syncline_subscription_groups", "Active subscription groups", registry=r)
        self.deliveries = Counter("syncline_deliveries", "Subscription payloads delivered", ["protocol"], registry=r)
        self.slow_consumers = Counter(
            "syncline_slow_consumers_dropped", "Connections closed because they fell behind", ["protocol"], registry=r
        )
        self.conflicts = Counter(
            "syncline_conflicts", "Version conflicts by model, strategy and outcome", ["model", "strategy", "outcome"], registry=r
        )
        self.replays = Counter(
            "syncline_replayed_mutations", "Mutations answered from the exactly-once ledger", ["model"], registry=r
        )
        self.throttled = Counter("syncline_throttled", "Requests refused by rate limits", ["channel"], registry=r)
        self.executions = Counter(
            "syncline_workflow_executions", "Workflow executions by state machine and status", ["state_machine", "status"], registry=r
        )
        self.transitions = Counter("syncline_workflow_transitions", "Workflow state transitions", ["state_machine"], registry=r)
        self.task_latency = Histogram(
            "syncline_workflow_task_seconds", "Workflow task latency by resource", ["resource"], buckets=_LATENCY_BUCKETS, registry=r
        )
        # MQTT (server/mqtt/): label values are fixed sets, created up front so they read 0.
        self.mqtt_connections = Gauge(
            "syncline_mqtt_connections", "Open MQTT connections by transport", ["transport"], registry=r
        )
        self.mqtt_subscriptions = Gauge(
            "syncline_mqtt_subscriptions", "Topic filters held by MQTT sessions (connected or persistent)", registry=r
        )
        self.mqtt_published = Counter(
            "syncline_mqtt_messages_published",
            "Messages sent to MQTT subscribers or queued for their offline sessions (one per subscriber)",
            registry=r,
        )
        self.mqtt_dropped = Counter(
            "syncline_mqtt_messages_dropped", "MQTT messages dropped, by reason", ["reason"], registry=r
        )
        self.mqtt_connect_refusals = Counter(
            "syncline_mqtt_connect_refusals", "MQTT CONNECTs refused, by reason", ["reason"], registry=r
        )
        self.mqtt_acl_refusals = Counter(
            "syncline_mqtt_acl_refusals", "MQTT SUBSCRIBEs and PUBLISHes refused by the topic ACL", ["action"], registry=r
        )
        for transport in MQTT_TRANSPORTS:
            self.mqtt_connections.labels(transport)
        for reason in MQTT_DROP_REASONS:
            self.mqtt_dropped.labels(reason)
        for reason in MQTT_CONNECT_REFUSALS:
            self.mqtt_connect_refusals.labels(reason)
        for action in ("subscribe", "publish"):
            self.mqtt_acl_refusals.labels(action)
        self._request_children: dict[tuple[str, str], tuple[Any, Any]] = {}
        store_size = Gauge("syncline_store_bytes", "Size of the store's files (database + WAL)", registry=r)
        if db_path is not None:
            store_size.set_function(lambda: _size(db_path))

    def observe_request(self, operation: str, outcome: str, seconds: float) -> None:
        # The labelled children, kept: `labels()` checks and locks on every call (a few µs
        # per request); prometheus_client keeps each child for good anyway.
        children = self._request_children.get((operation, outcome))
        if children is None:
            children = self._request_children[(operation, outcome)] = (
                self.requests.labels(operation, outcome),
                self.latency.labels(operation),
            )
        children[0].inc()
        children[1].observe(seconds)

    def render(self) -> bytes:
        return generate_latest(self.registry)


def _size(db_path: Path) -> float:
    total = 0
    for suffix in ("", "-wal", "-shm"):
        p = Path(str(db_path) + suffix)
        if p.exists():
            total += p.stat().st_size
    return float(total)


class MeteredStore:
    """A Store that counts conflicts and replays on the way through (everything else passes)."""

    def __init__(self, inner: Store, metrics: Metrics, models: Sequence[ModelSpec]) -> None:
        self.inner = inner
        self._metrics = metrics
        self._strategy = {m.name: m.conflict for m in models}

    def _count(self, model: str, result: WriteResult) -> WriteResult:
        if result.conflict is None and not result.replayed:
            return result
        if result.replayed:
            self._metrics.replays.labels(model).inc()
        elif result.conflict is not None:
            self._metrics.conflicts.labels(model, result.conflict.strategy, result.conflict.outcome).inc()
        return result

    def _rejected(self, model: str) -> None:
        self._metrics.conflicts.labels(model, self._strategy.get(model, "?"), "REJECTED").inc()

    async def open(self) -> None:
        await self.inner.open()

    async def close(self) -> None:
        await self.inner.close()

    async def migrate(self, models: Sequence[ModelSpec]) -> builtins.list[str]:
        return await self.inner.migrate(models)

    def add_listener(self, listener: ChangeListener) -> None:
        self.inner.add_listener(listener)

    async def ping(self) -> None:
        await self.inner.ping()

    async def get(self, model: str, id: str, *, identity: Identity) -> Item | None:
        return await self.inner.get(model, id, identity=identity)

    async def list(self, model: str, *, identity: Identity, **kw: Any) -> Page:
        return await self.inner.list(model, identity=identity, **kw)

    async def sync(self, model: str, *, identity: Identity, **kw: Any) -> SyncPage:
        return await self.inner.sync(model, identity=identity, **kw)

    # Each write calls the inner store itself: no extra coroutine or keyword dict per write.
    async def create(
        self, model: str, input: Mapping[str, Any], *, identity: Identity,
        condition: Mapping[str, Any] | None = None, mutation_id: MutationId | None = None,
    ) -> WriteResult:
        try:
            result = await self.inner.create(model, input, identity=identity, condition=condition, mutation_id=mutation_id)
        except ConflictUnhandled:
            self._rejected(model)
            raise
        return self._count(model, result)

    async def update(
        self, model: str, input: Mapping[str, Any], *, identity: Identity,
        condition: Mapping[str, Any] | None = None, mutation_id: MutationId | None = None,
    ) -> WriteResult:
        try:
            result = await self.inner.update(model, input, identity=identity, condition=condition, mutation_id=mutation_id)
        except ConflictUnhandled:
            self._rejected(model)
            raise
        return self._count(model, result)

    async def delete(
        self, model: str, input: Mapping[str, Any], *, identity: Identity,
        condition: Mapping[str, Any] | None = None, mutation_id: MutationId | None = None,
    ) -> WriteResult:
        try:
            result = await self.inner.delete(model, input, identity=identity, condition=condition, mutation_id=mutation_id)
        except ConflictUnhandled:
            self._rejected(model)
            raise
        return self._count(model, result)

    async def conflicts(
        self, *, model: str | None = None, limit: int = 100, next_token: str | None = None
    ) -> tuple[builtins.list[ConflictRecord], str | None]:
        return await self.inner.conflicts(model=model, limit=limit, next_token=next_token)

    async def collect_garbage(self, *, now_ms: int | None = None) -> dict[str, int]:
        return await self.inner.collect_garbage(now_ms=now_ms)
