"""The expression layer's export lists are sorted and every name exists (STYLE rule 6)."""

from __future__ import annotations

import importlib

import pytest

MODULES = [
    "server.workflows.asl.errors",
    "server.workflows.asl.jsonpath",
    "server.workflows.asl.intrinsics",
    "server.workflows.asl.jsonata",
    "server.workflows.asl.payload",
]


@pytest.mark.parametrize("name", MODULES)
def test_all_is_sorted_and_complete(name: str) -> None:
    module = importlib.import_module(name)
    exported = list(module.__all__)
    assert exported == sorted(exported)
    for item in exported:
        assert hasattr(module, item), f"{name}.{item} is exported but missing"


def test_public_api_used_by_the_interpreter_and_validator() -> None:
    """The interfaces the other ASL modules call (keep them stable)."""
    from server.workflows.asl import errors, intrinsics, jsonata, jsonpath, payload

    assert {"parse_path", "parse_reference_path", "select", "select_reference", "set_path", "resolve"} <= set(jsonpath.__all__)
    assert {"parse_intrinsic", "evaluate_intrinsic", "is_intrinsic"} <= set(intrinsics.__all__)
    assert {"evaluate_jsonata", "evaluate_jsonata_template", "is_jsonata_expression", "parse_jsonata"} <= set(jsonata.__all__)
    assert {"evaluate_payload_template"} <= set(payload.__all__)
    assert {"AslError", "AslSyntaxError", "state_error_cause"} <= set(errors.__all__)
