"""Every operator works the same as a list/sync filter and as a mutation condition."""

from __future__ import annotations

import pytest

from server.errors import ConditionalCheckFailed

from .conftest import USER

ITEM = {"id": "f1", "title": "Buy milk", "done": False, "priority": 3, "tags": ["home", "food"]}

CASES = [
    ({"title": {"eq": "Buy milk"}}, True),
    ({"title": {"ne": "Buy milk"}}, False),
    ({"priority": {"le": 3}}, True),
    ({"priority": {"lt": 3}}, False),
    ({"priority": {"ge": 4}}, False),
    ({"priority": {"gt": 2}}, True),
    ({"title": {"contains": "milk"}}, True),
    ({"tags": {"contains": "work"}}, False),
    ({"title": {"notContains": "milk"}}, False),
    ({"tags": {"notContains": "work"}}, True),
    ({"priority": {"between": [1, 3]}}, True),
    ({"title": {"beginsWith": "Buy"}}, True),
    ({"title": {"beginsWith": "milk"}}, False),
    ({"title": {"attributeExists": True}}, True),
    ({"done": {"attributeExists": False}}, False),
    ({"tags": {"attributeType": "L"}}, True),
    ({"title": {"attributeType": "N"}}, False),
    ({"title": {"size": {"eq": 8}}}, True),
    ({"tags": {"size": {"between": [3, 9]}}}, False),
    ({"priority": {"in": [1, 3]}}, True),
    ({"priority": {"notIn": [1, 3]}}, False),
    ({"_version": {"eq": 1}}, True),
    ({"id": {"eq": "f1"}, "done": {"eq": False}}, True),
    ({"and": [{"priority": {"eq": 3}}, {"done": {"eq": True}}]}, False),
    ({"or": [{"priority": {"eq": 1}}, {"done": {"eq": False}}]}, True),
    ({"not": {"priority": {"eq": 3}}}, False),
    ({"not": {"title": {"ne": "Buy milk"}}}, True),
]


@pytest.mark.parametrize(("flt", "expected"), CASES)
async def test_operator_as_filter_and_condition(store, flt, expected):
    await store.create("Todo", ITEM, identity=USER)
    await store.create("Todo", {"id": "other", "title": "zzz", "priority": 9}, identity=USER)
    listed = [i["id"] for i in (await store.list("Todo", identity=USER, filter=flt)).items]
    synced = [i["id"] for i in (await store.sync("Todo", identity=USER, filter=flt)).items]
    assert ("f1" in listed) is expected and ("f1" in synced) is expected
    if expected:
        r = await store.update("Todo", {"id": "f1", "_version": 1, "title": "Buy milk"}, identity=USER, condition=flt)
        assert r.item["_version"] == 2
    else:
        with pytest.raises(ConditionalCheckFailed):
            await store.update("Todo", {"id": "f1", "_version": 1}, identity=USER, condition=flt)
        assert (await store.get("Todo", "f1", identity=USER))["_version"] == 1
