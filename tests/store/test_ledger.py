"""Exactly-once mutation ids: replays return the recorded outcome and apply nothing."""

from __future__ import annotations

import pytest

from server.errors import BadRequest, ConditionalCheckFailed, ConflictUnhandled, NotFound
from server.store.base import MutationId

from .conftest import USER


def mid(seq, key="", client="client-A"):
    return MutationId(client_id=client, seq=seq, key=key)


async def test_replayed_success_applies_nothing(store, clock):
    events = []
    store.add_listener(events.append)
    first = await store.create("Todo", {"title": "a"}, identity=USER, mutation_id=mid(1))
    assert not first.replayed
    clock.advance(100)
    again = await store.create("Todo", {"title": "a"}, identity=USER, mutation_id=mid(1))
    assert again.replayed and again.item == first.item
    assert len((await store.list("Todo", identity=USER)).items) == 1
    assert len(events) == 1 and store.last_stamp == first.item["_lastChangedAt"]

    upd = await store.update("Todo", {"id": first.item["id"], "tags": ["x"], "_version": 1}, identity=USER, mutation_id=mid(2))
    rep = await store.update("Todo", {"id": first.item["id"], "tags": ["x"], "_version": 1}, identity=USER, mutation_id=mid(2))
    assert rep.replayed and rep.item == upd.item
    current = await store.get("Todo", first.item["id"], identity=USER)
    assert current["_version"] == 2 and current["tags"] == ["x"]  # AUTOMERGE did not merge twice
    # the same seq under another key or client is a different mutation
    other = await store.create("Todo", {"title": "b"}, identity=USER, mutation_id=mid(1, key="second"))
    assert not other.replayed
    assert not (await store.create("Todo", {"title": "c"}, identity=USER, mutation_id=mid(1, client="client-B"))).replayed


async def test_failed_mutations_consume_their_id_and_replay_the_error(store):
    await store.create("Note", {"id": "n", "title": "a"}, identity=USER)
    await store.update("Note", {"id": "n", "title": "b", "_version": 1}, identity=USER)
    with pytest.raises(ConflictUnhandled) as first:
        await store.update("Note", {"id": "n", "title": "stale", "_version": 1}, identity=USER, mutation_id=mid(7))
    with pytest.raises(ConflictUnhandled) as second:
        await store.update("Note", {"id": "n", "title": "stale", "_version": 1}, identity=USER, mutation_id=mid(7))
    assert second.value.message == first.value.message and second.value.data == first.value.data
    assert len((await store.conflicts(model="Note"))[0]) == 1  # the replay recorded no new conflict

    with pytest.raises(BadRequest, match="unknown field"):
        await store.create("Todo", {"title": "a", "nope": 1}, identity=USER, mutation_id=mid(8))
    with pytest.raises(BadRequest, match="unknown field"):
        await store.create("Todo", {"title": "a"}, identity=USER, mutation_id=mid(8))  # even if now valid
    with pytest.raises(NotFound):
        await store.delete("Todo", {"id": "ghost", "_version": 1}, identity=USER, mutation_id=mid(9))
    await store.create("Todo", {"id": "ghost", "title": "now exists"}, identity=USER)
    with pytest.raises(NotFound):
        await store.delete("Todo", {"id": "ghost", "_version": 1}, identity=USER, mutation_id=mid(9))
    with pytest.raises(ConditionalCheckFailed):
        await store.update("Todo", {"id": "ghost", "title": "x", "_version": 1}, identity=USER,
                           condition={"done": {"eq": True}}, mutation_id=mid(10))
    # the queue is not wedged: the next mutation goes through
    ok = await store.update("Todo", {"id": "ghost", "title": "next", "_version": 1}, identity=USER, mutation_id=mid(11))
    assert not ok.replayed and ok.item["title"] == "next"


async def test_reusing_an_id_for_another_mutation_is_refused(store):
    await store.create("Todo", {"id": "t", "title": "a"}, identity=USER, mutation_id=mid(1))
    with pytest.raises(BadRequest, match=r"already used for createTodo"):
        await store.update("Todo", {"id": "t", "title": "b", "_version": 1}, identity=USER, mutation_id=mid(1))
    with pytest.raises(BadRequest, match=r"already used for createTodo"):
        await store.create("Note", {"title": "b"}, identity=USER, mutation_id=mid(1))


async def test_ledger_survives_a_restart(make_store):
    store = await make_store()
    first = await store.create("Todo", {"title": "a"}, identity=USER, mutation_id=mid(1))
    await store.close()
    store = await make_store()
    again = await store.create("Todo", {"title": "a"}, identity=USER, mutation_id=mid(1))
    assert again.replayed and again.item == first.item
    assert len((await store.list("Todo", identity=USER)).items) == 1


@pytest.mark.parametrize(
    ("bad", "fragment"),
    [
        (MutationId(client_id="", seq=1), "clientId must be a non-empty string"),
        (MutationId(client_id="c", seq=-1), "seq must be an integer"),
        (MutationId(client_id="c", seq=2**63), "seq must be an integer"),
        (MutationId(client_id="c", seq="1"), "seq must be an integer"),  # type: ignore[arg-type]
    ],
)
async def test_malformed_mutation_ids_are_refused(store, bad, fragment):
    with pytest.raises(BadRequest, match=fragment):
        await store.create("Todo", {"title": "a"}, identity=USER, mutation_id=bad)
    assert (await store.list("Todo", identity=USER)).items == []
