"""sync(): base and delta sync, tombstones, startedAt, expiry, and exact cursors."""

from __future__ import annotations

import random

import pytest

from server.errors import BadRequest

from .conftest import T0, USER


async def _paginate(store, last_sync, limit, between=None, **kw):
    """All pages of one sync; `between()` runs after each page (interleaved writes)."""
    items, token, started = [], None, None
    while True:
        page = await store.sync("Todo", identity=USER, last_sync=last_sync, limit=limit, next_token=token, **kw)
        if started is None:
            started = page.started_at
        assert page.started_at == started  # every page reports the first page's startedAt
        items += page.items
        token = page.next_token
        if token is None:
            return items, started
        if between:
            await between()


async def test_base_and_delta_sync_with_tombstones(store, clock):
    assert (await store.sync("Todo", identity=USER, last_sync=0)).started_at == 0
    a = (await store.create("Todo", {"id": "a", "title": "a"}, identity=USER)).item
    clock.advance(10)
    b = (await store.create("Todo", {"id": "b", "title": "b"}, identity=USER)).item
    base = await store.sync("Todo", identity=USER, last_sync=0)
    assert base.items == [a, b] and base.started_at == b["_lastChangedAt"]
    assert (await store.sync("Todo", identity=USER, last_sync=None)).items == [a, b]

    clock.advance(10)
    gone = (await store.delete("Todo", {"id": "a", "_version": 1}, identity=USER)).item
    delta = await store.sync("Todo", identity=USER, last_sync=base.started_at)
    assert delta.items == [gone] and gone["_deleted"] is True
    assert delta.started_at == gone["_lastChangedAt"]
    empty = await store.sync("Todo", identity=USER, last_sync=delta.started_at)
    assert empty.items == [] and empty.started_at == delta.started_at
    # other models' writes do not show up
    await store.create("Note", {"title": "n"}, identity=USER)
    assert (await store.sync("Todo", identity=USER, last_sync=delta.started_at)).items == []


async def test_sync_filter(store):
    for i in range(30):
        await store.create("Todo", {"title": f"t{i}", "priority": i % 3}, identity=USER)
    items, _ = await _paginate(store, 0, 4, filter={"priority": {"eq": 1}})
    assert len(items) == 10 and all(i["priority"] == 1 for i in items)


async def test_expired_or_foreign_cursor_gets_a_base_sync(make_store, clock):
    store = await make_store(delta_ttl_ms=60_000)
    old = (await store.create("Todo", {"title": "old"}, identity=USER)).item
    cursor = store.last_stamp
    clock.advance(30_000)
    new = (await store.create("Todo", {"title": "new"}, identity=USER)).item
    assert (await store.sync("Todo", identity=USER, last_sync=cursor)).items == [new]  # fresh: delta
    clock.advance(31_000)  # the cursor is now older than delta_ttl
    assert (await store.sync("Todo", identity=USER, last_sync=cursor)).items == [old, new]
    # a cursor from the future (another database, a restored backup) also gets a base sync
    assert (await store.sync("Todo", identity=USER, last_sync=store.last_stamp + 1)).items == [old, new]


async def test_bad_last_sync(store):
    for bad in (-1, "0", 1.5, True):
        with pytest.raises(BadRequest, match="lastSync must be epoch milliseconds"):
            await store.sync("Todo", identity=USER, last_sync=bad)


async def test_stamps_strictly_increase_when_the_clock_goes_backwards(make_store, clock):
    store = await make_store()
    stamps = []
    for step in (0, 0, -5_000, 3, -1, 0, 10_000, -60_000):
        clock.advance(step)
        stamps.append((await store.create("Todo", {"title": "x"}, identity=USER)).item["_lastChangedAt"])
    assert all(b > a for a, b in zip(stamps, stamps[1:]))
    await store.close()
    clock.advance(-3_600_000)  # restart an hour "earlier"
    store = await make_store()
    assert store.last_stamp == stamps[-1]
    after = (await store.create("Todo", {"title": "y"}, identity=USER)).item["_lastChangedAt"]
    assert after == stamps[-1] + 1
    delta = await store.sync("Todo", identity=USER, last_sync=stamps[-1])
    assert [i["_lastChangedAt"] for i in delta.items] == [after]


@pytest.mark.parametrize("seed", range(8))
async def test_paginated_delta_sync_never_misses_nor_repeats(store, clock, seed):
    """A client that syncs page by page while writes land between its pages, then resumes
    from `startedAt`, ends with exactly the server's rows, and never receives the same
    (id, _version) twice."""
    rng = random.Random(seed)
    versions: dict[str, int] = {}

    async def write() -> None:
        clock.advance(rng.choice([0, 0, 1, 7, -3]))
        live = [k for k, v in versions.items() if v > 0]
        roll = rng.random()
        if not live or roll < 0.4:
            iid = f"i{len(versions)}"
            await store.create("Todo", {"id": iid, "title": "t", "priority": rng.randrange(5)}, identity=USER)
            versions[iid] = 1
        elif roll < 0.85:
            iid = rng.choice(live)
            r = await store.update("Todo", {"id": iid, "priority": rng.randrange(5), "_version": versions[iid]}, identity=USER)
            versions[iid] = r.item["_version"]
        else:
            iid = rng.choice(live)
            await store.delete("Todo", {"id": iid, "_version": versions[iid]}, identity=USER)
            versions[iid] = -1

    async def some_writes() -> None:
        for _ in range(rng.randrange(4)):
            await write()

    for _ in range(25):
        await write()
    replica: dict[str, dict] = {}
    received: set[tuple[str, int]] = set()
    cursor = 0
    for _ in range(6):
        items, started = await _paginate(store, cursor, rng.choice([1, 3, 5]), between=some_writes)
        for item in items:
            key = (item["id"], item["_version"])
            assert key not in received, f"repeated {key}"
            received.add(key)
            assert item["_lastChangedAt"] <= started and item["_lastChangedAt"] > cursor
            have = replica.get(item["id"])
            assert have is None or have["_version"] < item["_version"]
            replica[item["id"]] = item
        cursor = started
        await some_writes()
    final, started = await _paginate(store, cursor, 4)
    for item in final:
        assert (item["id"], item["_version"]) not in received
        replica[item["id"]] = item
    server = {i["id"]: i for i in (await _paginate(store, 0, 1000))[0]}
    assert replica == server
