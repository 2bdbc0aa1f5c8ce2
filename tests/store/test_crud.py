"""SQLiteStore CRUD, input validation, conditions and change listeners (real SQLite files)."""

from __future__ import annotations

import asyncio
import re

import pytest

from server.errors import BadRequest, ConditionalCheckFailed, NotFound, StoreError
from server.store.base import ChangeEvent

from .conftest import SYSTEM, T0, USER

ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


async def test_create_get_update_delete(store, clock):
    created = (await store.create("Todo", {"title": "a", "tags": ["x"]}, identity=USER)).item
    assert created["title"] == "a" and created["tags"] == ["x"]
    assert created["_version"] == 1 and created["_deleted"] is False
    assert created["_lastChangedAt"] == T0
    assert ISO.match(created["createdAt"]) and created["createdAt"] == created["updatedAt"]
    assert len(created["id"]) == 36  # uuid4
    assert await store.get("Todo", created["id"], identity=USER) == created

    clock.advance(5)
    updated = (await store.update("Todo", {"id": created["id"], "done": True, "_version": 1}, identity=USER)).item
    assert updated["done"] is True and updated["title"] == "a"
    assert updated["_version"] == 2 and updated["_lastChangedAt"] == T0 + 5
    assert updated["createdAt"] == created["createdAt"] and updated["updatedAt"] != created["updatedAt"]

    deleted = (await store.delete("Todo", {"id": created["id"], "_version": 2}, identity=USER)).item
    assert deleted["_deleted"] is True and deleted["_version"] == 3 and deleted["title"] == "a"
    assert await store.get("Todo", created["id"], identity=USER) is None
    assert (await store.list("Todo", identity=USER)).items == []
    synced = (await store.sync("Todo", identity=USER)).items
    assert [i["id"] for i in synced] == [created["id"]] and synced[0]["_deleted"] is True


async def test_client_generated_id_and_duplicate(store):
    r = await store.create("Todo", {"id": "client-1", "title": "a"}, identity=USER)
    assert r.item["id"] == "client-1"
    with pytest.raises(ConditionalCheckFailed, match="already exists; use updateTodo") as info:
        await store.create("Todo", {"id": "client-1", "title": "b"}, identity=USER)
    assert info.value.data["title"] == "a"
    await store.delete("Todo", {"id": "client-1", "_version": 1}, identity=USER)
    with pytest.raises(ConditionalCheckFailed, match="was deleted"):
        await store.create("Todo", {"id": "client-1", "title": "b"}, identity=USER)
    # the same id in another model is a different item
    assert (await store.create("Note", {"id": "client-1", "title": "n"}, identity=USER)).item["id"] == "client-1"


async def test_missing_items(store):
    with pytest.raises(NotFound, match="Todo 'nope' does not exist"):
        await store.update("Todo", {"id": "nope", "title": "x", "_version": 1}, identity=USER)
    with pytest.raises(NotFound):
        await store.delete("Todo", {"id": "nope", "_version": 1}, identity=USER)
    assert await store.get("Todo", "nope", identity=USER) is None


@pytest.mark.parametrize(
    ("op", "payload", "fragment"),
    [
        ("create", {"title": "a", "colour": "red"}, "unknown field 'colour'"),
        ("create", {"title": "a", "_version": 3}, "'_version' is managed by the server"),
        ("create", {"title": "a", "createdAt": "2020-01-01T00:00:00Z"}, "'createdAt' is managed by the server"),
        ("create", {"title": "a", "_deleted": True}, "'_deleted' is managed"),
        ("create", {"title": "a", "_lastChangedAt": 1}, "'_lastChangedAt' is managed"),
        ("create", {"done": True}, "'title' is required"),
        ("create", {"title": None}, "'title' is String! and cannot be null"),
        ("create", {"title": 3}, "'title' must be String!, got 3"),
        ("create", {"title": "a", "priority": "high"}, "'priority' must be Int"),
        ("create", {"title": "a", "priority": True}, "'priority' must be Int"),
        ("create", {"title": "a", "tags": "x"}, "'tags' must be [String!]"),
        ("create", {"title": "a", "tags": ["x", None]}, "'tags' must be [String!]"),
        ("create", {"title": "a", "id": ""}, "'id' must be a non-empty string"),
        ("update", {"id": "t1", "title": None, "_version": 1}, "cannot be null"),
        ("update", {"id": "t1", "updatedAt": "x", "_version": 1}, "'updatedAt' is managed"),
        ("update", {"id": "t1", "nope": 1, "_version": 1}, "unknown field 'nope'"),
        ("update", {"title": "x", "_version": 1}, "'id' is required"),
        ("update", {"id": "t1", "_version": "1"}, "'_version' must be an integer"),
        ("delete", {"id": "t1", "title": "x", "_version": 1}, "takes only 'id' and '_version'"),
    ],
)
async def test_bad_input_is_refused_and_nothing_is_written(store, op, payload, fragment):
    await store.create("Todo", {"id": "t1", "title": "orig"}, identity=USER)
    before = await store.sync("Todo", identity=USER)
    with pytest.raises(BadRequest) as info:
        await getattr(store, op)("Todo", payload, identity=USER)
    assert fragment in info.value.message
    assert info.value.message.startswith(f"{op}Todo: ")
    after = await store.sync("Todo", identity=USER)
    assert after.items == before.items and after.started_at == before.started_at


async def test_explicit_null_metadata_is_tolerated(store):
    item = (await store.create("Todo", {"title": "a", "_version": None}, identity=USER)).item
    assert item["_version"] == 1


async def test_unknown_model(store):
    with pytest.raises(BadRequest, match="unknown model 'Nope'"):
        await store.create("Nope", {"title": "a"}, identity=USER)
    with pytest.raises(BadRequest, match="unknown model"):
        await store.list("Nope", identity=USER)


async def test_conditions(store):
    item = (await store.create("Todo", {"id": "c1", "title": "a", "priority": 2, "tags": ["x"]}, identity=USER)).item
    with pytest.raises(ConditionalCheckFailed, match="condition does not hold") as info:
        await store.update(
            "Todo", {"id": "c1", "title": "b", "_version": 1}, identity=USER, condition={"priority": {"gt": 2}}
        )
    assert info.value.data == item
    assert (await store.get("Todo", "c1", identity=USER)) == item  # nothing written

    ok = await store.update(
        "Todo",
        {"id": "c1", "title": "b", "_version": 1},
        identity=USER,
        condition={"and": [{"priority": {"between": [1, 2]}}, {"tags": {"contains": "x"}}], "not": {"done": {"eq": True}}},
    )
    assert ok.item["title"] == "b"
    with pytest.raises(ConditionalCheckFailed):
        await store.delete("Todo", {"id": "c1", "_version": 2}, identity=USER, condition={"title": {"size": {"gt": 5}}})
    await store.delete("Todo", {"id": "c1", "_version": 2}, identity=USER, condition={"title": {"attributeType": "S"}})

    # create conditions see no item
    await store.create("Todo", {"title": "n"}, identity=USER, condition={"title": {"attributeExists": False}})
    with pytest.raises(ConditionalCheckFailed):
        await store.create("Todo", {"title": "n"}, identity=USER, condition={"title": {"eq": "n"}})
    with pytest.raises(BadRequest, match="condition.nope"):
        await store.update("Todo", {"id": "c1", "_version": 3}, identity=USER, condition={"nope": {"eq": 1}})


async def test_listeners_run_after_commit_only(store):
    seen: list[tuple[ChangeEvent, object]] = []

    async def listener(event: ChangeEvent) -> None:
        # the write is already visible to a fresh read when the listener runs
        seen.append((event, await store.get(event.model, event.item["id"], identity=SYSTEM)))

    sync_calls: list[str] = []
    store.add_listener(listener)
    store.add_listener(lambda e: sync_calls.append(e.op))

    def broken(event: ChangeEvent) -> None:
        raise RuntimeError("listener bug")

    store.add_listener(broken)  # must not turn a committed write into an error

    r = await store.create("Todo", {"id": "l1", "title": "a"}, identity=USER)
    assert seen[-1][0].op == "create" and seen[-1][0].previous is None and seen[-1][0].identity == USER
    assert seen[-1][1] == r.item
    r2 = await store.update("Todo", {"id": "l1", "title": "b", "_version": 1}, identity=USER)
    assert seen[-1][0].previous == r.item and seen[-1][1] == r2.item
    with pytest.raises(BadRequest):
        await store.update("Todo", {"id": "l1", "title": None, "_version": 2}, identity=USER)
    await store.delete("Todo", {"id": "l1", "_version": 2}, identity=USER)
    assert seen[-1][0].op == "delete" and seen[-1][0].item["_deleted"] is True and seen[-1][1] is None
    assert sync_calls == ["create", "update", "delete"]  # the failed write published nothing


async def test_concurrent_writes_share_commits_but_fail_alone(store):
    """Group commit: concurrent writes share transactions; a failing one is rolled back alone."""
    await store.create("Todo", {"id": "dup", "title": "first"}, identity=USER)
    inputs = [{"id": f"c{i}", "title": f"t{i}"} if i % 7 else {"id": "dup", "title": "again"} for i in range(60)]
    results = await asyncio.gather(
        *(store.create("Todo", inp, identity=USER) for inp in inputs), return_exceptions=True
    )
    failed = [r for r in results if isinstance(r, Exception)]
    assert len(failed) == 9 and all(isinstance(e, ConditionalCheckFailed) for e in failed)
    page = await store.list("Todo", identity=USER, limit=1000)
    assert len(page.items) == 1 + 51
    stamps = [r.item["_lastChangedAt"] for r in results if not isinstance(r, Exception)]
    assert len(set(stamps)) == len(stamps)
    assert (await store.get("Todo", "dup", identity=USER))["title"] == "first"


async def test_closed_store_refuses_politely(make_store):
    s = await make_store()
    await s.close()
    with pytest.raises(StoreError, match="not open"):
        await s.create("Todo", {"title": "a"}, identity=USER)
    with pytest.raises(StoreError, match="not open"):
        await s.get("Todo", "x", identity=USER)


async def test_a_write_whose_caller_is_cancelled_still_commits_and_publishes(store):
    events = []
    store.add_listener(events.append)
    task = asyncio.create_task(store.create("Todo", {"id": "orphan", "title": "a"}, identity=USER))
    await asyncio.sleep(0)  # queued on the writer thread
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    for _ in range(2000):  # generous: shared CI machines can be slow
        if events:
            break
        await asyncio.sleep(0.005)
    assert [e.item["id"] for e in events] == ["orphan"]
    assert (await store.get("Todo", "orphan", identity=USER))["title"] == "a"
    assert store.last_stamp == events[0].item["_lastChangedAt"]


async def test_a_write_whose_caller_is_cancelled_just_after_it_committed_still_publishes(store):
    """The result has arrived but the caller has not resumed yet when it is cancelled."""
    events = []
    store.add_listener(events.append)
    task = None
    submit = store._writer.submit

    def submit_then_cancel_on_result(*args, **kwargs):
        fut = submit(*args, **kwargs)
        # Runs before the caller's own wake-up (registered later): the caller resumes cancelled.
        fut.add_done_callback(lambda _: task.cancel())
        return fut

    store._writer.submit = submit_then_cancel_on_result
    try:
        task = asyncio.create_task(store.create("Todo", {"id": "late", "title": "a"}, identity=USER))
        with pytest.raises(asyncio.CancelledError):
            await task
    finally:
        store._writer.submit = submit
    for _ in range(2000):
        if events:
            break
        await asyncio.sleep(0.005)
    assert [e.item["id"] for e in events] == ["late"]
    assert store.last_stamp == events[0].item["_lastChangedAt"]


async def test_unstorable_values_are_a_bad_request(make_store):
    from server.models import FieldSpec, ModelSpec

    spec = ModelSpec(name="Blob", fields=(FieldSpec(name="payload", type_name="AWSJSON", kind="scalar"),))
    store = await make_store(models=[spec])
    ok = await store.create("Blob", {"payload": {"nested": [1, "two", None]}}, identity=USER)
    assert (await store.get("Blob", ok.item["id"], identity=USER))["payload"] == {"nested": [1, "two", None]}
    with pytest.raises(BadRequest, match="createBlob: a value cannot be stored as JSON"):
        await store.create("Blob", {"payload": {1, 2}}, identity=USER)
