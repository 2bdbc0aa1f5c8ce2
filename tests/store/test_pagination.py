"""list(): limits, stable keyset pagination, filters that fill pages, and nextToken abuse."""

from __future__ import annotations

import pytest

from server.errors import BadRequest, LimitExceeded
from server.store.sqlite import SQLiteStore

from .conftest import SECRET, USER


async def _fill(store, n, model="Todo"):
    for i in range(n):
        await store.create(model, {"id": f"i{i:04d}", "title": f"t{i}", "priority": i % 10}, identity=USER)


async def _all_pages(store, **kw):
    pages, token = [], None
    while True:
        page = await store.list("Todo", identity=USER, next_token=token, **kw)
        pages.append(page.items)
        token = page.next_token
        if token is None:
            return pages


async def test_limits(store):
    await _fill(store, 130)
    assert len((await store.list("Todo", identity=USER)).items) == 100  # default limit
    assert len((await store.list("Todo", identity=USER, limit=1000)).items) == 130
    with pytest.raises(LimitExceeded, match="limit 1001 is over the maximum of 1000"):
        await store.list("Todo", identity=USER, limit=1001)
    for bad in (0, -1, True, "5"):
        with pytest.raises(BadRequest, match="limit must be a positive integer"):
            await store.list("Todo", identity=USER, limit=bad)


async def test_pages_cover_everything_once_in_stable_order(store):
    await _fill(store, 45)
    pages = await _all_pages(store, limit=10)
    assert [len(p) for p in pages] == [10, 10, 10, 10, 5]
    ids = [i["id"] for p in pages for i in p]
    assert ids == sorted(ids) and len(set(ids)) == 45
    assert pages == await _all_pages(store, limit=10)  # stable


async def test_exact_multiple_has_no_dangling_token(store):
    await _fill(store, 20)
    page = await store.list("Todo", identity=USER, limit=20)
    assert len(page.items) == 20 and page.next_token is None


async def test_pagination_survives_writes_between_pages(store):
    await _fill(store, 30)
    first = await store.list("Todo", identity=USER, limit=10)
    await store.delete("Todo", {"id": "i0015", "_version": 1}, identity=USER)
    await store.create("Todo", {"id": "i0000a", "title": "before the cursor"}, identity=USER)
    rest, token = [], first.next_token
    while token:
        page = await store.list("Todo", identity=USER, limit=10, next_token=token)
        rest += page.items
        token = page.next_token
    seen = [i["id"] for i in first.items + rest]
    assert len(seen) == len(set(seen)) == 29
    assert "i0015" not in seen


async def test_filter_fills_pages(store):
    await _fill(store, 200)
    flt = {"priority": {"eq": 3}}
    page = await store.list("Todo", identity=USER, filter=flt, limit=7)
    assert len(page.items) == 7 and all(i["priority"] == 3 for i in page.items)
    pages = await _all_pages(store, filter=flt, limit=7)
    got = [i["id"] for p in pages for i in p]
    assert len(got) == len(set(got)) == 20
    assert all(len(p) == 7 for p in pages[:-1])


async def test_filter_scan_is_bounded_per_call(make_store):
    store = await make_store(max_scan=50)
    await _fill(store, 120)
    flt = {"title": {"eq": "t119"}}  # the only match is the last row
    page = await store.list("Todo", identity=USER, filter=flt, limit=5)
    assert page.items == [] and page.next_token  # budget spent: short page, resumable
    found, token = [], page.next_token
    while token:
        page = await store.list("Todo", identity=USER, filter=flt, limit=5, next_token=token)
        found += page.items
        token = page.next_token
    assert [i["id"] for i in found] == ["i0119"]


async def test_invalid_filters_are_refused(store):
    with pytest.raises(BadRequest, match="Todo has no field 'colour'"):
        await store.list("Todo", identity=USER, filter={"colour": {"eq": "red"}})
    with pytest.raises(BadRequest, match="unknown operator 'startsWith'"):
        await store.sync("Todo", identity=USER, filter={"title": {"startsWith": "a"}})


async def test_forged_and_foreign_tokens(store, make_store, tmp_path):
    await _fill(store, 30)
    await _fill(store, 30, model="Note")
    token = (await store.list("Todo", identity=USER, limit=10)).next_token
    assert token
    body, sig = token.split(".")
    tampered = body[:-2] + ("AA" if body[-2:] != "AA" else "BB") + "." + sig
    with pytest.raises(BadRequest, match="invalid nextToken"):
        await store.list("Todo", identity=USER, limit=10, next_token=tampered)
    with pytest.raises(BadRequest, match="invalid nextToken"):
        await store.list("Todo", identity=USER, limit=10, next_token="not-a-token")
    # another model's token
    with pytest.raises(BadRequest, match="issued for 'Todo', not 'Note'"):
        await store.list("Note", identity=USER, limit=10, next_token=token)
    # the same model, another filter
    with pytest.raises(BadRequest, match="different query"):
        await store.list("Todo", identity=USER, limit=10, next_token=token, filter={"done": {"eq": True}})
    # a list token given to sync, and the other way round
    with pytest.raises(BadRequest, match="different query"):
        await store.sync("Todo", identity=USER, limit=10, next_token=token)
    sync_token = (await store.sync("Todo", identity=USER, limit=10)).next_token
    with pytest.raises(BadRequest, match="different query"):
        await store.list("Todo", identity=USER, limit=10, next_token=sync_token)
    # a token signed by another server's secret
    other = SQLiteStore(tmp_path / "other.sqlite", secret=b"another-secret-0123456789")
    await other.open()
    try:
        from .conftest import MODELS

        await other.migrate(MODELS[:3])
        await _fill(other, 12)
        foreign = (await other.list("Todo", identity=USER, limit=10)).next_token
    finally:
        await other.close()
    with pytest.raises(BadRequest, match="signature mismatch"):
        await store.list("Todo", identity=USER, limit=10, next_token=foreign)
    # the limit may change between pages (AppSync allows it)
    assert len((await store.list("Todo", identity=USER, limit=5, next_token=token)).items) == 5
    assert SECRET


async def test_conflict_log_pagination_and_model_scope(store):
    for i in range(5):
        await store.create("Post", {"id": f"p{i}", "title": "a"}, identity=USER)
        await store.update("Post", {"id": f"p{i}", "title": "b", "_version": 1}, identity=USER)
        await store.update("Post", {"id": f"p{i}", "title": "c", "_version": 1}, identity=USER)  # stale: LWW conflict
    records, token = await store.conflicts(limit=2)
    assert [r.item_id for r in records] == ["p4", "p3"] and token
    more, token2 = await store.conflicts(limit=2, next_token=token)
    assert [r.item_id for r in more] == ["p2", "p1"]
    with pytest.raises(BadRequest, match="invalid nextToken"):
        await store.conflicts(model="Post", limit=2, next_token=token)
    assert len((await store.conflicts(model="Post"))[0]) == 5
    assert (await store.conflicts(model="Todo"))[0] == []
