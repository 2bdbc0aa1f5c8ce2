"""Each conflict strategy end to end: stored result, error shape, conflict log."""

from __future__ import annotations

import asyncio

import pytest

from server.errors import BadRequest, ConfigError, ConflictUnhandled
from server.sync import REJECT, REMOVE, Resolve

from .conftest import USER


async def _item_at_v2(store, model, **extra):
    """An item at _version 2 (a client still holding _version 1 is stale)."""
    await store.create(model, {"id": "x", "title": "base", "tags": ["a"], **extra}, identity=USER)
    return (await store.update(model, {"id": "x", "title": "server", "tags": ["a", "s"], "_version": 1}, identity=USER)).item


async def test_no_conflict_when_versions_match(store):
    for model in ("Todo", "Note", "Post", "Doc"):
        await store.create(model, {"id": "m", "title": "a"}, identity=USER)
        r = await store.update(model, {"id": "m", "title": "b", "_version": 1}, identity=USER)
        assert r.item["title"] == "b" and r.conflict is None
    assert (await store.conflicts())[0] == []


async def test_optimistic_concurrency_rejects_with_server_item(store):
    server = await _item_at_v2(store, "Note")
    with pytest.raises(ConflictUnhandled) as info:
        await store.update("Note", {"id": "x", "title": "mine", "_version": 1}, identity=USER)
    err = info.value
    assert err.data == server and err.data["_version"] == 2
    assert err.extensions()["errorType"] == "ConflictUnhandled" and err.extensions()["data"] == server
    assert "Conflict resolver rejects mutation" in err.message
    assert await store.get("Note", "x", identity=USER) == server
    with pytest.raises(ConflictUnhandled):
        await store.delete("Note", {"id": "x", "_version": 1}, identity=USER)
    with pytest.raises(BadRequest, match="'_version' is required"):
        await store.update("Note", {"id": "x", "title": "no version"}, identity=USER)
    [rec_delete, rec_update], _ = await store.conflicts(model="Note")
    assert rec_update.strategy == "OPTIMISTIC_CONCURRENCY" and rec_update.outcome == "REJECTED"
    assert rec_update.base["title"] == "base" and rec_update.base["_version"] == 1
    assert rec_update.local == {"id": "x", "title": "mine", "_version": 1}
    assert rec_update.remote == server and rec_update.result is None
    assert rec_delete.local == {"id": "x", "_version": 1}


async def test_automerge_merges_and_records(store):
    server = await _item_at_v2(store, "Todo", priority=1)
    r = await store.update(
        "Todo", {"id": "x", "title": "mine", "tags": ["a", "c"], "done": True, "priority": 9, "_version": 1}, identity=USER
    )
    item = r.item
    assert item["title"] == "server" and item["priority"] == 1  # scalars keep the server value
    assert item["tags"] == ["a", "s", "c"]  # lists merge
    assert item["done"] is True  # a field the server lacked merges in
    assert item["_version"] == 3
    assert r.conflict is not None and r.conflict.outcome == "RESOLVED" and r.conflict.result == item
    assert await store.get("Todo", "x", identity=USER) == item
    records, _ = await store.conflicts(model="Todo")
    assert records == [r.conflict]
    assert records[0].base["_version"] == 1 and records[0].remote == server


async def test_automerge_rejects_stale_deletes_and_updates_to_tombstones(store):
    server = await _item_at_v2(store, "Todo")
    with pytest.raises(ConflictUnhandled) as info:
        await store.delete("Todo", {"id": "x", "_version": 1}, identity=USER)
    assert info.value.data == server
    tomb = (await store.delete("Todo", {"id": "x", "_version": 2}, identity=USER)).item
    with pytest.raises(ConflictUnhandled, match="the item was deleted") as info:
        await store.update("Todo", {"id": "x", "title": "zombie", "_version": 3}, identity=USER)
    assert info.value.data == tomb


async def test_missing_version_means_no_conflict_detection_for_merging_strategies(store):
    await _item_at_v2(store, "Todo")
    r = await store.update("Todo", {"id": "x", "title": "plain client"}, identity=USER)
    assert r.item["title"] == "plain client" and r.conflict is None and r.item["_version"] == 3


async def test_last_writer_wins(store):
    await _item_at_v2(store, "Post")
    r = await store.update("Post", {"id": "x", "title": "mine", "tags": ["m"], "_version": 1}, identity=USER)
    assert r.item["title"] == "mine" and r.item["tags"] == ["m"] and r.item["_version"] == 3
    assert r.conflict.outcome == "RESOLVED" and r.conflict.strategy == "LAST_WRITER_WINS"
    d = await store.delete("Post", {"id": "x", "_version": 1}, identity=USER)
    assert d.item["_deleted"] is True and d.conflict.outcome == "REMOVED"
    assert await store.get("Post", "x", identity=USER) is None


async def test_custom_resolve(store, handler):
    server = await _item_at_v2(store, "Doc")

    def decide(existing, new, arguments, identity):
        return Resolve({**existing, "title": existing["title"] + "+" + arguments["input"]["title"]})

    handler.decide = decide
    r = await store.update("Doc", {"id": "x", "title": "mine", "_version": 1}, identity=USER)
    assert r.item["title"] == "server+mine" and r.item["_version"] == 3
    existing, new, arguments, identity = handler.calls[-1]
    assert existing == server and new["title"] == "mine" and new["tags"] == ["a", "s"]
    assert arguments["input"] == {"id": "x", "title": "mine", "_version": 1} and identity == USER
    assert r.conflict.strategy == "CUSTOM" and r.conflict.outcome == "RESOLVED"


async def test_custom_reject_and_remove(store, handler):
    server = await _item_at_v2(store, "Doc")
    handler.decide = lambda *a: REJECT
    with pytest.raises(ConflictUnhandled) as info:
        await store.update("Doc", {"id": "x", "title": "mine", "_version": 1}, identity=USER)
    assert info.value.data == server
    handler.decide = lambda *a: REMOVE
    r = await store.update("Doc", {"id": "x", "title": "mine", "_version": 1}, identity=USER)
    assert r.item["_deleted"] is True and r.conflict.outcome == "REMOVED"
    outcomes = [c.outcome for c in (await store.conflicts(model="Doc"))[0]]
    assert outcomes == ["REMOVED", "REJECTED"]


async def test_custom_async_handler_can_resurrect_a_tombstone(store, handler):
    await store.create("Doc", {"id": "x", "title": "a"}, identity=USER)
    await store.delete("Doc", {"id": "x", "_version": 1}, identity=USER)

    async def decide(existing, new, arguments, identity):
        await asyncio.sleep(0)
        assert existing["_deleted"] is True
        return Resolve({"title": "back"})

    handler.decide = decide
    r = await store.update("Doc", {"id": "x", "title": "b", "_version": 1}, identity=USER)
    assert r.item["title"] == "back" and r.item["_deleted"] is False and r.item["_version"] == 3
    assert (await store.get("Doc", "x", identity=USER))["title"] == "back"


async def test_custom_handler_bugs_are_reported(store, handler):
    await _item_at_v2(store, "Doc")
    handler.decide = lambda *a: {"title": "not wrapped"}
    with pytest.raises(ConfigError, match="return Resolve\\(item\\), REJECT or REMOVE"):
        await store.update("Doc", {"id": "x", "title": "m", "_version": 1}, identity=USER)

    def boom(*a):
        raise KeyError("oops")

    handler.decide = boom
    with pytest.raises(ConfigError, match="conflict handler for Doc raised KeyError"):
        await store.update("Doc", {"id": "x", "title": "m", "_version": 1}, identity=USER)
    handler.decide = lambda *a: Resolve({"title": None})
    with pytest.raises(BadRequest, match="conflict resolution for Doc 'x': 'title' is required"):
        await store.update("Doc", {"id": "x", "title": "m", "_version": 1}, identity=USER)
    assert (await store.get("Doc", "x", identity=USER))["_version"] == 2
    assert (await store.conflicts(model="Doc"))[0][0].outcome == "INVALID_RESOLUTION"


async def test_custom_handler_is_rerun_if_the_item_changed_meanwhile(store, handler):
    await _item_at_v2(store, "Doc")
    gate = asyncio.Event()
    seen_versions = []

    async def decide(existing, new, arguments, identity):
        seen_versions.append(existing["_version"])
        if len(seen_versions) == 1:
            await gate.wait()
        return Resolve({**existing, "title": f"merged@{existing['_version']}"})

    handler.decide = decide
    slow = asyncio.create_task(store.update("Doc", {"id": "x", "title": "m", "_version": 1}, identity=USER))
    while not seen_versions:
        await asyncio.sleep(0.001)
    await store.update("Doc", {"id": "x", "title": "fast", "_version": 2}, identity=USER)  # no conflict
    gate.set()
    r = await slow
    assert seen_versions == [2, 3]
    assert r.item["title"] == "merged@3" and r.item["_version"] == 4


async def test_custom_without_handler_is_a_config_error(make_store):
    from .conftest import MODELS

    with pytest.raises(ConfigError, match="Doc uses conflict = \"CUSTOM\" but no conflict handler"):
        await make_store(models=MODELS, conflict_handlers={})


async def test_conflict_base_is_found_several_versions_back_until_the_log_expires(store, clock):
    await store.create("Note", {"id": "b", "title": "v1"}, identity=USER)
    for v in (1, 2, 3):
        await store.create("Note", {"title": f"noise{v}"}, identity=USER)  # other items' changes in between
        await store.update("Note", {"id": "b", "title": f"v{v + 1}", "_version": v}, identity=USER)
    with pytest.raises(ConflictUnhandled):
        await store.update("Note", {"id": "b", "title": "stale", "_version": 2}, identity=USER)
    record = (await store.conflicts(model="Note"))[0][0]
    assert record.base["title"] == "v2" and record.base["_version"] == 2
    assert record.remote["_version"] == 4
    await store.collect_garbage(now_ms=clock() + store.delta_ttl_ms + 10)
    with pytest.raises(ConflictUnhandled):
        await store.update("Note", {"id": "b", "title": "stale", "_version": 1}, identity=USER)
    assert (await store.conflicts(model="Note"))[0][0].base is None
