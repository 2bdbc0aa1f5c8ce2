"""The in-process bus and the mutation publisher."""

from __future__ import annotations

import asyncio
import gc

import pytest

import server.realtime
from server.auth.identity import SYSTEM
from server.realtime import LocalBus, MutationEvent, install_publisher
from tests.realtime.conftest import API_KEY, Realtime


def test_exports_are_sorted_and_complete() -> None:
    assert server.realtime.__all__ == sorted(server.realtime.__all__)
    for name in server.realtime.__all__:
        assert getattr(server.realtime, name) is not None


async def test_every_subscriber_gets_every_event_in_order() -> None:
    bus = LocalBus()
    a, b = bus.subscribe(), bus.subscribe()
    for i in range(3):
        await bus.publish(MutationEvent(mutation=f"m{i}", result=i))
    assert [(await a.__anext__()).result for _ in range(3)] == [0, 1, 2]
    assert [(await b.__anext__()).result for _ in range(3)] == [0, 1, 2]
    await a.aclose()
    assert bus.subscribers == 1
    await b.aclose()
    assert bus.subscribers == 0


async def test_a_full_subscriber_queue_holds_the_publisher_back() -> None:
    """Bounded: a consumer max_pending events behind makes publish wait, never grows memory."""
    bus = LocalBus(max_pending=2)
    it = bus.subscribe()
    await bus.publish(MutationEvent(mutation="m", result=1))
    await bus.publish(MutationEvent(mutation="m", result=2))
    blocked = asyncio.create_task(bus.publish(MutationEvent(mutation="m", result=3)))
    for _ in range(10):
        await asyncio.sleep(0)
    assert not blocked.done()
    assert (await it.__anext__()).result == 1
    await asyncio.wait_for(blocked, 5)
    assert [(await it.__anext__()).result for _ in range(2)] == [2, 3]
    await it.aclose()


async def test_a_subscription_never_iterated_leaves_the_bus_on_aclose() -> None:
    bus = LocalBus(max_pending=2)
    it = bus.subscribe()
    assert bus.subscribers == 1
    await it.aclose()
    assert bus.subscribers == 0
    with pytest.raises(StopAsyncIteration):
        await it.__anext__()


async def test_a_dropped_subscription_never_iterated_does_not_block_publishers() -> None:
    """The leak: an unstarted iterator's queue stayed registered and, once full, blocked publish."""
    bus = LocalBus(max_pending=2)
    bus.subscribe()  # dropped at once, never started
    gc.collect()
    assert bus.subscribers == 0
    for i in range(5):  # more than max_pending: would wait forever on the leaked queue
        await asyncio.wait_for(bus.publish(MutationEvent(mutation="m", result=i)), 5)


async def test_aclose_ends_a_reader_waiting_for_the_next_event() -> None:
    bus = LocalBus()
    it = bus.subscribe()
    reader = asyncio.create_task(it.__anext__())
    await asyncio.sleep(0)
    await it.aclose()
    with pytest.raises(StopAsyncIteration):
        await asyncio.wait_for(reader, 5)
    assert bus.subscribers == 0


def test_max_pending_must_be_positive() -> None:
    with pytest.raises(ValueError):
        LocalBus(max_pending=0)


async def test_committed_mutations_publish_result_arguments_and_identity(rt: Realtime) -> None:
    it = rt.bus.subscribe()
    data = await rt.mutate('mutation { createTodo(input: {title: "p"}) { id } }')
    event = await asyncio.wait_for(it.__anext__(), 5)
    await it.aclose()
    assert event.mutation == "createTodo"
    assert event.result["id"] == data["createTodo"]["id"] and event.result["_version"] == 1
    assert event.arguments == {"input": {"title": "p"}}
    assert event.identity == API_KEY


async def test_failed_mutations_publish_nothing(rt: Realtime) -> None:
    before = rt.bus.published
    from graphql import graphql

    from server.context import RequestContext

    ctx = RequestContext(identity=SYSTEM, store=rt.store)
    # A condition that fails: the write does not commit, nothing is published.
    created = await rt.mutate('mutation { createTodo(input: {title: "c"}) { id } }')
    todo_id = created["createTodo"]["id"]
    result = await graphql(
        rt.bundle.schema,
        'mutation($id: ID!) { updateTodo(input: {id: $id, title: "z", _version: 1}, condition: {title: {eq: "nope"}}) { id } }',
        variable_values={"id": todo_id},
        context_value=ctx,
    )
    assert result.errors
    assert rt.bus.published == before + 1  # only the create


def test_install_publisher_is_idempotent(rt: Realtime) -> None:
    assert install_publisher(rt.bundle.schema, rt.bus.publish) == []
