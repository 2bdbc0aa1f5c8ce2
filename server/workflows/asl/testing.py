"""Test cases for state machines: the conformance-case format, run on the virtual clock.

A case file is a JSON object (the format of ../shared/asl-conformance/cases):

    {"name": ..., "definition": {...}, "input": ...,
     "expected": {"status": "SUCCEEDED", "output": ...}
               | {"status": "FAILED", "error": ..., "cause": ..., "cause_is_parsed_json": bool},
     "lambdas": {"arn:aws:lambda:...:function:NAME": {"semantics": "return event"}},
     "nondeterministic_functions": [...]}

`lambdas` semantics understood: "return event" (identity) and `return {"Return": "HelloWorld"}`.
This is what `syncline asl test` and the conformance test both run.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

from .errors import AslSyntaxError
from .interpreter import ExecutionResult
from .local import LocalDriver
from .model import parse_state_machine


@dataclass(frozen=True, kw_only=True, slots=True)
class CaseResult:
    name: str
    passed: bool
    actual: dict[str, Any]
    expected: dict[str, Any]
    reason: str = ""

    def formatted(self) -> dict[str, Any]:
        return {"name": self.name, "passed": self.passed, "actual": self.actual}


def _identity(event: Any) -> Any:
    return event


def _hello_world(event: Any) -> Any:
    return {"Return": "HelloWorld"}


_SEMANTICS: Mapping[str, Callable[[Any], Any]] = {
    "return event": _identity,
    'return {"Return": "HelloWorld"}': _hello_world,
}


def case_functions(case: Mapping[str, Any]) -> dict[str, Callable[[Any], Any]]:
    """The task functions a case's `lambdas` block describes, keyed by function name."""
    functions: dict[str, Callable[[Any], Any]] = {}
    lambdas = case.get("lambdas") or {}
    for arn, spec in lambdas.items():
        semantics = spec.get("semantics") if isinstance(spec, dict) else None
        function = _SEMANTICS.get(str(semantics))
        if function is None:
            raise ValueError(f"case {case.get('name')!r}: unknown lambda semantics {semantics!r} for {arn}")
        functions[arn.split(":")[6] if arn.count(":") >= 6 else arn] = function
    return functions


def load_cases(paths: list[Path]) -> list[tuple[Path, dict[str, Any]]]:
    """Case files from files and directories (`*.json`, sorted)."""
    found: list[tuple[Path, dict[str, Any]]] = []
    for path in paths:
        if not path.exists():
            raise ValueError(f"{path}: no such file or directory")
        files = sorted(path.glob("*.json")) if path.is_dir() else [path]
        for file in files:
            try:
                with file.open(encoding="utf-8") as handle:
                    case = json.load(handle)
            except ValueError as exc:
                raise ValueError(f"{file}: not valid JSON: {exc}") from exc
            if not isinstance(case, dict) or "definition" not in case or "expected" not in case:
                raise ValueError(f"{file}: not a test case (needs 'definition' and 'expected')")
            found.append((file, case))
    return found


def run_case(
    case: Mapping[str, Any], functions: Mapping[str, Callable[[Any], Any]] | None = None, *, name: str | None = None
) -> CaseResult:
    """Run one case on a fresh virtual clock and compare it with `expected`."""
    all_functions = dict(functions or {})
    all_functions.update(case_functions(case))
    expected = dict(case["expected"])
    case_name = name or str(case.get("name", "case"))
    try:
        machine = parse_state_machine(case["definition"])
    except AslSyntaxError as exc:
        result = ExecutionResult(status="FAILED", error="States.Runtime", cause=f"Invalid definition: {exc}")
    else:
        result = LocalDriver(all_functions, keep_history=False).run(machine, case.get("input", {}))
    actual = result.formatted()
    reason = compare(actual, expected, shape_only=bool(case.get("nondeterministic_functions")))
    return CaseResult(name=case_name, passed=not reason, actual=actual, expected=expected, reason=reason)


def compare(actual: Mapping[str, Any], expected: Mapping[str, Any], *, shape_only: bool = False) -> str:
    """"" when `actual` matches `expected`, else what differs."""
    if actual["status"] != expected["status"]:
        return f"status {actual['status']} != expected {expected['status']}"
    if expected["status"] == "SUCCEEDED":
        same = _same_shape if shape_only else json_equal
        if not same(actual.get("output"), expected.get("output")):
            return f"output {json.dumps(actual.get('output'))[:500]} != expected {json.dumps(expected.get('output'))[:500]}"
        return ""
    if actual.get("error") != expected.get("error"):
        return f"error {actual.get('error')!r} != expected {expected.get('error')!r}"
    actual_cause = actual.get("cause")
    expected_cause = expected.get("cause")
    if expected.get("cause_is_parsed_json") and isinstance(actual_cause, str):
        try:
            actual_cause = json.loads(actual_cause)
        except ValueError:
            pass
        if not json_equal(actual_cause, expected_cause):
            return f"cause {actual_cause!r} != expected {expected_cause!r}"
        return ""
    if actual_cause != expected_cause:
        return f"cause {actual_cause!r} != expected {expected_cause!r}"
    return ""


def json_equal(a: Any, b: Any) -> bool:
    """JSON equality: booleans are not numbers, 1 and 1.0 are the same number."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a is b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(json_equal(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(json_equal(x, y) for x, y in zip(a, b))
    return type(a) is type(b) and a == b


def _same_shape(a: Any, b: Any) -> bool:
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same_shape(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same_shape(x, y) for x, y in zip(a, b))
    if isinstance(a, str) and isinstance(b, str):
        return len(a) == len(b)
    return type(a) is type(b) or (isinstance(a, (int, float)) and isinstance(b, (int, float)))
