"""Conflict strategies as pure functions (the store tests cover them end to end)."""

from __future__ import annotations

from collections import Counter
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import server.sync as sync
from server.errors import ConfigError
from server.sync import (
    REJECT,
    REMOVE,
    Resolve,
    automerge,
    check_decision,
    last_writer_wins,
    merge_lists,
    resolve_builtin,
)

FIELDS = ["title", "tags", "count", "meta", "note", "flags"]

scalars = st.one_of(st.none(), st.booleans(), st.integers(-5, 5), st.text(max_size=3))
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.sampled_from(["a", "b", "c"]), inner, max_size=3),
    ),
    max_leaves=8,
)
items = st.dictionaries(st.sampled_from(FIELDS), values, max_size=6)
META = {"id": "x1", "_version": 3, "_lastChangedAt": 10, "createdAt": "c", "updatedAt": "u", "_deleted": False}


def _canon(v):
    return json.dumps(v, sort_keys=True)


def test_exports_are_sorted_and_complete():
    assert sync.__all__ == sorted(sync.__all__)
    for name in sync.__all__:
        assert hasattr(sync, name)


def test_automerge_appsync_example():
    """AWS's example: the server's scalar wins, lists merge, a new field merges in."""
    server = {"id": "1", "name": "Nadia", "jersey": 5, "tags": ["a", "b"], "_version": 4}
    incoming = {"id": "1", "name": "Nadia", "jersey": 55, "tags": ["b", "c"], "nick": "N", "_version": 2}
    merged = automerge(server, incoming)
    assert merged == {"name": "Nadia", "jersey": 5, "tags": ["a", "b", "c"], "nick": "N"}


def test_automerge_null_on_server_takes_incoming_and_maps_merge_per_attribute():
    server = {"note": None, "meta": {"a": 1, "l": [1]}}
    incoming = {"note": "hi", "meta": {"a": 2, "b": 3, "l": [2]}}
    assert automerge(server, incoming) == {"note": "hi", "meta": {"a": 1, "b": 3, "l": [1, 2]}}


def test_merge_lists_keeps_duplicates_within_a_side():
    assert merge_lists(["a", "a"], ["a", "a", "a", "b"]) == ["a", "a", "a", "b"]
    assert merge_lists([1, True, "1"], [True, 1.0, "1", 1]) == [1, True, "1", 1]
    assert merge_lists([{"a": 1, "b": 2}], [{"b": 2, "a": 1.0}]) == [{"a": 1, "b": 2}]


def test_merge_lists_distinguishes_types():
    assert merge_lists([1], [True]) == [1, True]
    assert merge_lists(["1"], [1]) == ["1", 1]


@settings(max_examples=120, deadline=None)
@given(server=items, incoming=items)
def test_automerge_properties(server, incoming):
    """AUTOMERGE never loses a server scalar, keeps every list element of both sides (server
    list first), takes incoming fields the server lacks or holds null, keeps server-only
    fields, ignores metadata, and is idempotent: merging the same write again changes nothing."""
    merged = automerge({**META, **server}, {**META, "_version": 1, **incoming})
    assert not set(merged) & set(META)
    for key, old in server.items():
        assert key in merged
        new = incoming.get(key)
        if old is None:
            assert merged[key] == new if key in incoming else merged[key] is None
        elif isinstance(old, list):
            result = merged[key]
            assert result[: len(old)] == old
            if isinstance(new, list):
                have = Counter(map(_canon, result))
                assert have >= Counter(map(_canon, old))
                assert have >= Counter(map(_canon, new))
        elif not isinstance(old, dict):
            assert merged[key] == old  # scalar conflicts keep the server's value
    for key, new in incoming.items():
        if key not in server:
            assert merged[key] == new
    assert automerge(merged, incoming) == merged


@settings(max_examples=120, deadline=None)
@given(server=items, incoming=items)
def test_last_writer_wins_properties(server, incoming):
    """LAST_WRITER_WINS: the result is the incoming write on top of the server's item (user
    fields; the store keeps the server's metadata), and replaying it is idempotent."""
    result = last_writer_wins({**META, **server}, {**META, **incoming})
    assert result == {**server, **incoming}
    assert last_writer_wins(result, incoming) == result


@pytest.mark.parametrize(
    ("strategy", "op", "expected"),
    [
        ("OPTIMISTIC_CONCURRENCY", "update", REJECT),
        ("OPTIMISTIC_CONCURRENCY", "delete", REJECT),
        ("AUTOMERGE", "delete", REJECT),
        ("LAST_WRITER_WINS", "delete", REMOVE),
    ],
)
def test_builtin_decisions(strategy, op, expected):
    assert resolve_builtin(strategy, op=op, server={"title": "a"}, incoming={"title": "b"}) == expected


def test_builtin_resolutions():
    s, i = {"title": "a", "tags": ["x"]}, {"title": "b", "tags": ["y"]}
    assert resolve_builtin("AUTOMERGE", op="update", server=s, incoming=i) == Resolve(
        {"title": "a", "tags": ["x", "y"]}
    )
    assert resolve_builtin("LAST_WRITER_WINS", op="update", server=s, incoming=i) == Resolve(
        {"title": "b", "tags": ["y"]}
    )


@pytest.mark.parametrize("strategy", ["OPTIMISTIC_CONCURRENCY", "AUTOMERGE", "LAST_WRITER_WINS"])
def test_tombstones_are_never_undone_by_builtins(strategy):
    server = {"title": "a", "_deleted": True}
    assert resolve_builtin(strategy, op="update", server=server, incoming={"title": "b"}) is REJECT


def test_custom_is_not_builtin():
    with pytest.raises(ValueError):
        resolve_builtin("CUSTOM", op="update", server={}, incoming={})


def test_check_decision():
    assert check_decision(REJECT, model="Todo") is REJECT
    assert check_decision(REMOVE, model="Todo") is REMOVE
    assert check_decision(Resolve({"a": 1}), model="Todo") == Resolve({"a": 1})
    with pytest.raises(ConfigError, match="return Resolve\\(item\\), REJECT or REMOVE"):
        check_decision({"a": 1}, model="Todo")
    with pytest.raises(ConfigError, match="takes the item as a dict"):
        check_decision(Resolve([1]), model="Todo")  # type: ignore[arg-type]
    assert repr(REJECT) == "REJECT" and repr(REMOVE) == "REMOVE"
