from __future__ import annotations

from typing import Any

import pytest

from server.auth.identity import SYSTEM, Identity
from server.models import FieldSpec, ModelSpec
from server.store.sqlite import SQLiteStore
from server.sync import REJECT

SECRET = b"test-secret-0123456789abcdef"
T0 = 1_800_000_000_000
USER = Identity(auth_mode="API_KEY", api_key_id="k1")


def fields(*extra: FieldSpec) -> tuple[FieldSpec, ...]:
    return (
        FieldSpec(name="title", type_name="String", kind="scalar", required=True),
        FieldSpec(name="done", type_name="Boolean", kind="scalar"),
        FieldSpec(name="priority", type_name="Int", kind="scalar"),
        FieldSpec(name="tags", type_name="String", kind="scalar", is_list=True, item_required=True),
        *extra,
    )


MODELS = (
    ModelSpec(name="Todo", fields=fields(), conflict="AUTOMERGE", plural="Todos"),
    ModelSpec(name="Note", fields=fields(), conflict="OPTIMISTIC_CONCURRENCY", plural="Notes"),
    ModelSpec(name="Post", fields=fields(), conflict="LAST_WRITER_WINS", plural="Posts"),
    ModelSpec(name="Doc", fields=fields(), conflict="CUSTOM", plural="Docs"),
)


class FakeClock:
    """Epoch ms that tests move by hand (also backwards)."""

    def __init__(self, t: int = T0) -> None:
        self.t = t

    def __call__(self) -> int:
        return self.t

    def advance(self, ms: int) -> None:
        self.t += ms


class CustomHandler:
    """A CUSTOM conflict handler whose decision a test sets; records its calls."""

    def __init__(self) -> None:
        self.decide: Any = lambda existing, new, arguments, identity: REJECT
        self.calls: list[tuple[Any, ...]] = []

    def __call__(self, existing, new, arguments, identity):
        self.calls.append((existing, new, arguments, identity))
        return self.decide(existing, new, arguments, identity)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def handler() -> CustomHandler:
    return CustomHandler()


@pytest.fixture
async def make_store(tmp_path, clock, handler):
    opened: list[SQLiteStore] = []

    async def make(models=MODELS, **kw: Any) -> SQLiteStore:
        kw.setdefault("clock", clock)
        kw.setdefault("conflict_handlers", {"Doc": handler})
        store = SQLiteStore(tmp_path / "db.sqlite", secret=SECRET, **kw)
        await store.open()
        opened.append(store)
        if models is not None:
            await store.migrate(models)
        return store

    yield make
    for store in opened:
        await store.close()


@pytest.fixture
async def store(make_store) -> SQLiteStore:
    return await make_store()


__all__ = ["SYSTEM", "USER", "MODELS", "T0", "FakeClock", "CustomHandler", "fields"]
