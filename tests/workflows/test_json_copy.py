"""A task function's result reaches the execution as its JSON round trip would give it back,
whichever path (direct copy or json) `_json_copy` takes."""

from __future__ import annotations

import json
from typing import Any

import pytest

from server.workflows.resources import _json_copy

CASES: list[Any] = [
    None,
    {"a": 1, "b": [True, None, "x"], "c": {"d": 1.5}},
    (1, 2),
    {1: "int key"},
    {"big": list(range(1000))},
    {"f": 0.1},
]


@pytest.mark.parametrize("value", CASES)
def test_same_as_a_json_round_trip(value: Any) -> None:
    assert _json_copy(value) == json.loads(json.dumps(value))


def test_the_copy_shares_nothing_with_the_function() -> None:
    result = {"items": [{"n": 1}]}
    copied = _json_copy(result)
    result["items"][0]["n"] = 2
    assert copied == {"items": [{"n": 1}]}


def test_what_json_cannot_encode_is_refused() -> None:
    with pytest.raises(TypeError):
        _json_copy({"s": {1, 2}})
