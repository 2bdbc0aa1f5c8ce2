"""A write is encoded for MQTT only when some held topic filter could match its model topics."""

from __future__ import annotations

import pytest

from server.mqtt._broker import _could_match, _Filters

TODO = ("models", "Todo")


@pytest.mark.parametrize(
    ("topic_filter", "expected"),
    [
        ("models/Todo/create", True),
        ("models/Todo/+", True),
        ("models/Todo/#", True),
        ("models/+/update/alice", True),
        ("models/#", True),
        ("#", True),
        ("+/Todo/delete", True),
        ("models/Todo", False),  # matches only the topic "models/Todo", never a model topic
        ("models/Note/create", False),
        ("graphql/abc", False),
        ("models", False),
    ],
)
def test_could_match(topic_filter: str, expected: bool) -> None:
    assert _could_match(topic_filter.split("/"), TODO) is expected


def test_the_filter_table_counts_changes_to_its_keys() -> None:
    filters = _Filters({"a": []})
    v = filters.version
    filters["a"] = [1]  # an existing filter gains a subscriber: the key set is the same
    assert filters.version == v
    filters["b"] = []
    filters.setdefault("c", [])
    del filters["a"]
    filters.pop("b")
    filters.clear()
    assert filters.version == v + 5
