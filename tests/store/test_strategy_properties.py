"""Property tests of AUTOMERGE and LAST_WRITER_WINS through the real store."""

from __future__ import annotations

import itertools

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from server.models import METADATA_FIELDS
from server.store.base import MutationId
from server.sync import automerge

from .conftest import USER

_ids = itertools.count()

user_items = st.fixed_dictionaries(
    {"title": st.text(max_size=4)},
    optional={
        "done": st.one_of(st.none(), st.booleans()),
        "priority": st.one_of(st.none(), st.integers(-3, 3)),
        "tags": st.one_of(st.none(), st.lists(st.sampled_from(["a", "b", "c"]), max_size=4)),
    },
)
PROPS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def _user(item):
    return {k: v for k, v in item.items() if k not in METADATA_FIELDS}


async def _stale_update(store, model, base, server, incoming):
    iid = f"p{next(_ids)}"
    await store.create(model, {"id": iid, **base}, identity=USER)
    current = (await store.update(model, {"id": iid, **server, "_version": 1}, identity=USER)).item
    mid = MutationId(client_id="prop", seq=next(_ids))
    result = await store.update(model, {"id": iid, **incoming, "_version": 1}, identity=USER, mutation_id=mid)
    replay = await store.update(model, {"id": iid, **incoming, "_version": 1}, identity=USER, mutation_id=mid)
    stored = await store.get(model, iid, identity=USER)
    return current, result, replay, stored


@PROPS
@given(base=user_items, server=user_items, incoming=user_items)
async def test_store_automerge(store, base, server, incoming):
    """A stale update under AUTOMERGE stores automerge(server item, input): server scalars
    kept, lists merged, new fields taken; metadata is the server's with _version + 1 and a
    fresh stamp; replaying the mutation id returns the same item and changes nothing."""
    current, result, replay, stored = await _stale_update(store, "Todo", base, server, incoming)
    assert _user(result.item) == {k: v for k, v in automerge(current, incoming).items()}
    assert result.item["id"] == current["id"] and result.item["createdAt"] == current["createdAt"]
    assert result.item["_version"] == current["_version"] + 1
    assert result.item["_lastChangedAt"] > current["_lastChangedAt"]
    assert replay.replayed and replay.item == result.item == stored


@PROPS
@given(base=user_items, server=user_items, incoming=user_items)
async def test_store_last_writer_wins(store, base, server, incoming):
    """A stale update under LAST_WRITER_WINS stores the input on top of the server item, with
    the server's metadata (id, createdAt) and _version + 1; a replay changes nothing."""
    current, result, replay, stored = await _stale_update(store, "Post", base, server, incoming)
    assert _user(result.item) == {**_user(current), **incoming}
    assert result.item["createdAt"] == current["createdAt"] and result.item["_version"] == current["_version"] + 1
    assert replay.replayed and replay.item == result.item == stored
