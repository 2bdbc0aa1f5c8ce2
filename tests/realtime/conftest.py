"""A real schema, a real SQLite store, the real bus, publisher and registry wired as server/app.py
wires them; mutations run through graphql-core, events reach a list-backed Sink."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, AsyncIterator

import pytest
from graphql import graphql, parse

from server.auth.identity import Identity
from server.context import RequestContext
from server.realtime import LocalBus, SubscriptionRegistry, install_publisher
from server.realtime.registry import Subscriber
from server.schema import SchemaBundle, build_schema, format_error
from server.schema.resolvers import FunctionResolver
from server.store.sqlite import SQLiteStore

SDL = """
enum Priority { LOW NORMAL HIGH }
type Meta { level: Int tag: String }
type Todo @model {
  title: String!
  done: Boolean
  priority: Priority
  tags: [String]
  rank: Int
  meta: Meta
}
type Note @model @auth(rules: [{allow: owner}]) { body: String }
type Mutation { bump(title: String!, rank: Int): Todo }
type Subscription {
  onTitled(title: String, done: Boolean): Todo @aws_subscribe(mutations: ["createTodo", "updateTodo"])
  onBump(title: String): Todo @aws_subscribe(mutations: ["bump"])
}
"""

API_KEY = Identity(auth_mode="API_KEY", api_key_id="k1")


def bump(event: dict[str, Any]) -> dict[str, Any]:
    """A custom Python-resolved mutation (not backed by the store)."""
    args = event["arguments"]
    return {"id": f"bump-{args['title']}", "title": args["title"], "rank": args.get("rank"), "__typename": "Todo"}


@dataclass
class ListSink:
    """Collects what the registry delivers, as a connection would write it."""

    got: list[tuple[str, str]] = field(default_factory=list)

    def deliver(self, op_id: str, payload_json: str) -> None:
        self.got.append((op_id, payload_json))

    def payloads(self) -> list[Any]:
        return [json.loads(p) for _, p in self.got]


@dataclass
class Realtime:
    bundle: SchemaBundle
    store: SQLiteStore
    bus: LocalBus
    registry: SubscriptionRegistry
    task: asyncio.Task[None]

    async def mutate(self, query: str, variables: dict[str, Any] | None = None, identity: Identity = API_KEY) -> Any:
        ctx = RequestContext(identity=identity, store=self.store)
        result = await graphql(self.bundle.schema, query, variable_values=variables, context_value=ctx)
        assert not result.errors, result.errors
        await self.settle()
        return result.data

    async def settle(self) -> None:
        """Let the fan-out task consume what was published."""
        for _ in range(20):
            await asyncio.sleep(0)

    def subscribe(
        self,
        query: str,
        *,
        sink: ListSink | None = None,
        variables: dict[str, Any] | None = None,
        identity: Identity = API_KEY,
        filter_group: Any = None,
        op_id: str = "1",
    ) -> tuple[ListSink, Subscriber]:
        sink = sink if sink is not None else ListSink()
        sub = self.registry.subscribe(
            sink=sink,
            op_id=op_id,
            document=parse(query),
            query=query,
            identity=identity,
            variables=variables,
            filter_group=filter_group,
        )
        return sink, sub


@pytest.fixture
async def rt(tmp_path: Path) -> AsyncIterator[Realtime]:
    bundle = build_schema(SDL, resolvers={"Mutation.bump": FunctionResolver.of(bump)})
    store = SQLiteStore(tmp_path / "rt.db", secret=b"s" * 32)
    await store.open()
    await store.migrate(bundle.models)
    bus = LocalBus()
    install_publisher(bundle.schema, bus.publish)
    registry = SubscriptionRegistry(
        schema=bundle.schema, subscribe_to=bundle.subscribe_to, models=bundle.models, store=store, format_error=format_error
    )
    task = asyncio.create_task(registry.run(bus.subscribe()))
    try:
        yield Realtime(bundle=bundle, store=store, bus=bus, registry=registry, task=task)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await store.close()
