"""Recorded AWS cases that exercise only the expression layer: a one-state Pass machine whose
output is just its Parameters (JSONPath mode) or its Output (JSONata mode), so the expected
output is exactly what the template evaluates to."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

CASES_DIR = Path(__file__).resolve().parents[3].parent / "shared" / "asl-conformance" / "cases"


def _load() -> list[dict[str, Any]]:
    if not CASES_DIR.is_dir():
        return []
    return [json.loads(p.read_text()) for p in sorted(CASES_DIR.glob("*.json"))]


def _single_pass(case: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
    states = case["definition"]["States"]
    if len(states) != 1:
        return None
    name, state = next(iter(states.items()))
    if state["Type"] != "Pass" or case.get("nondeterministic_functions"):
        return None
    return name, state


def payload_cases() -> list[dict[str, Any]]:
    out = []
    for case in _load():
        found = _single_pass(case)
        if found is None or case["definition"].get("QueryLanguage") == "JSONata":
            continue
        _, state = found
        if set(state) - {"Type", "End", "Parameters", "Comment"} or "Parameters" not in state:
            continue
        out.append(case)
    return out


def jsonata_cases() -> list[dict[str, Any]]:
    out = []
    for case in _load():
        found = _single_pass(case)
        if found is None:
            continue
        _, state = found
        language = state.get("QueryLanguage", case["definition"].get("QueryLanguage"))
        if language != "JSONata":
            continue
        if set(state) - {"Type", "End", "Output", "Comment", "QueryLanguage"} or "Output" not in state:
            continue
        out.append(case)
    return out


def context_for(case: dict[str, Any], state_name: str) -> dict[str, Any]:
    return {
        "Execution": {
            "Id": "arn:aws:states:us-east-1:111111111111:execution:sm:exec",
            "Input": case["input"],
            "Name": "exec",
            "StartTime": "2024-01-01T00:00:00.000Z",
        },
        "State": {"Name": state_name, "EnteredTime": "2024-01-01T00:00:00.000Z", "RetryCount": 0},
        "StateMachine": {"Id": "arn:aws:states:us-east-1:111111111111:stateMachine:sm", "Name": "sm"},
    }
