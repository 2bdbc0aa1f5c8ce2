"""Golden execution histories (STYLE rule 14): definition + input fixtures, history snapshots.

Each file in histories/ holds a `definition`, an `input` and the `history` (the GetExecutionHistory
events, AWS-shaped) that the engine recorded on the local driver's fixed virtual clock, so ids
and timestamps are stable without normalising. The snapshots were produced by this engine and
reviewed against AWS's event types and detail fields; they guard against regressions in event
order, numbering (`previousEventId` chaining) and details. Regenerate after a deliberate change:

    SYNCLINE_UPDATE_SNAPSHOTS=1 .venv/bin/pytest tests/workflows/asl/test_history_snapshots.py
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from server.workflows.asl.interpreter import ExecutionConfig
from server.workflows.asl.local import LocalDriver
from server.workflows.asl.model import parse_state_machine

HISTORIES = Path(__file__).parent / "histories"
FIXTURES = sorted(HISTORIES.glob("*.json"))


def functions() -> dict[str, Any]:
    calls = {"flaky": 0}

    def flaky(event: Any) -> Any:
        calls["flaky"] += 1
        if calls["flaky"] < 3:
            raise RuntimeError(f"attempt {calls['flaky']} failed")
        return {"attempts": calls["flaky"]}

    def boom(event: Any) -> Any:
        raise ValueError("boom")

    def odd_only(item: Any) -> Any:
        if item % 2 == 0:
            raise ValueError(f"{item} is even")
        return item

    return {"flaky": flaky, "ok": lambda event: event, "boom": boom, "odd_only": odd_only}


@pytest.mark.parametrize("path", FIXTURES, ids=[p.stem for p in FIXTURES])
def test_history_matches_snapshot(path: Path) -> None:
    fixture = json.loads(path.read_text(encoding="utf-8"))
    driver = LocalDriver(functions())
    result = driver.run(
        parse_state_machine(fixture["definition"]),
        fixture["input"],
        ExecutionConfig(name="golden", execution_arn="arn:aws:states:us-east-1:123456789012:execution:local:golden"),
    )
    actual = {"result": result.formatted(), "history": driver.history}
    if os.environ.get("SYNCLINE_UPDATE_SNAPSHOTS") == "1":
        fixture.update(actual)
        path.write_text(json.dumps(fixture, indent=1) + "\n", encoding="utf-8")
    assert "history" in fixture, f"{path.name} has no snapshot yet: run with SYNCLINE_UPDATE_SNAPSHOTS=1"
    assert actual["result"] == fixture["result"]
    assert actual["history"] == fixture["history"]
