from __future__ import annotations

import json
from pathlib import Path
from typing import Any, AsyncIterator, Callable, Awaitable

import pytest
from graphql import graphql

from server.auth.identity import Identity
from server.context import RequestContext
from server.schema import SchemaBundle, build_schema, format_error
from server.store.sqlite import SQLiteStore

TODO_SDL = """
enum Priority { LOW HIGH }
type Address { street: String! city: String }
type Todo @model {
  id: ID!
  title: String!
  done: Boolean
  priority: Priority
  tags: [String]
  due: AWSDateTime
  meta: AWSJSON
  address: Address
}
type Note @model { body: String }
"""

API_KEY = Identity(auth_mode="API_KEY", api_key_id="k1", source_ip="127.0.0.1")

Run = Callable[..., Awaitable[dict[str, Any]]]


async def open_store(path: Path, bundle: SchemaBundle) -> SQLiteStore:
    store = SQLiteStore(path, secret=b"s" * 32)
    await store.open()
    await store.migrate(bundle.models)
    return store


def runner(bundle: SchemaBundle, store: SQLiteStore) -> Run:
    async def run(query: str, variables: dict[str, Any] | None = None, **ctx: Any) -> dict[str, Any]:
        context = RequestContext(identity=ctx.pop("identity", API_KEY), store=store, **ctx)
        result = await graphql(bundle.schema, query, variable_values=variables, context_value=context)
        out: dict[str, Any] = {"data": result.data}
        if result.errors:
            out["errors"] = [format_error(e) for e in result.errors]
        json.dumps(out)  # what the HTTP layer sends must be JSON
        return out

    return run


@pytest.fixture
async def todo(tmp_path: Path) -> AsyncIterator[tuple[SchemaBundle, SQLiteStore, Run]]:
    bundle = build_schema(TODO_SDL, model_settings={"Note": {"conflict": "OPTIMISTIC_CONCURRENCY"}})
    store = await open_store(tmp_path / "t.db", bundle)
    try:
        yield bundle, store, runner(bundle, store)
    finally:
        await store.close()
