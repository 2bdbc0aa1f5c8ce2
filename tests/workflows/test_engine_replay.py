"""Invariant: resuming an execution from ANY committed prefix of its log (a crash after any
transition) ends with the same history — same events, same ids, same details — as the run that
never stopped. Exhaustive over every prefix of a machine that uses each kind of state."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path
from typing import Any

from server.workflows.engine import WorkflowEngine
from server.workflows.persistence import WorkflowStore
from server.workflows.resources import Resources

FN = "arn:aws:lambda:us-east-1:123456789012:function:"
MACHINE = {
    "StartAt": "Start",
    "States": {
        "Start": {"Type": "Pass", "Parameters": {"value.$": "$.value", "id.$": "States.UUID()"}, "Next": "Double"},
        "Double": {"Type": "Task", "Resource": FN + "double", "InputPath": "$.value", "ResultPath": "$.doubled", "Next": "Big?"},
        "Big?": {
            "Type": "Choice",
            "Choices": [{"Variable": "$.doubled", "NumericGreaterThan": 5, "Next": "Nap"}],
            "Default": "Nap",
        },
        "Nap": {"Type": "Wait", "Seconds": 0, "Next": "Fan"},
        "Fan": {
            "Type": "Parallel",
            "Branches": [
                {"StartAt": "A", "States": {"A": {"Type": "Task", "Resource": FN + "double", "InputPath": "$.doubled", "End": True}}},
                {"StartAt": "B", "States": {"B": {"Type": "Pass", "Result": "b", "End": True}}},
            ],
            "ResultPath": "$.fan",
            "Next": "Each",
        },
        "Each": {
            "Type": "Map",
            "ItemsPath": "$.fan",
            "ItemSelector": {"v.$": "$$.Map.Item.Index"},
            "ItemProcessor": {"StartAt": "M", "States": {"M": {"Type": "Task", "Resource": FN + "double", "InputPath": "$.v", "End": True}}},
            "ResultPath": "$.mapped",
            "Next": "Done",
        },
        "Done": {"Type": "Succeed"},
    },
}


async def double(value: Any) -> Any:
    return value * 2


def lookup(name: str) -> Any:
    if name != "double":
        raise LookupError(name)
    return double


def comparable(events: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return [(e["id"], e["previousEventId"], e["type"], json.dumps({k: v for k, v in e.items() if k.endswith("Details")}, sort_keys=True)) for e in events]


async def run(db: Path, *, resume: bool) -> tuple[str, list[dict[str, Any]]]:
    store = WorkflowStore(db)
    await store.open()
    engine = WorkflowEngine(store=store, resources=Resources(functions=lookup))
    try:
        await engine.add_machine("m", MACHINE)
        if resume:
            [row] = [r for r in await store.list_executions()]
            arn = row.arn
            assert await engine.resume_all() == 1
        else:
            arn = (await engine.start_execution("m", {"value": 3}, "original"))["executionArn"]
        row = await engine.wait(arn)
        assert row.status == "SUCCEEDED", row
        events = (await engine.history(arn))["events"]
        return row.output or "", events
    finally:
        await engine.close()
        await store.close()


async def test_resuming_from_every_committed_prefix_gives_the_same_history(tmp_path: Path) -> None:
    original = tmp_path / "original.db"
    output, events = await run(original, resume=False)
    with sqlite3.connect(original) as conn:
        seqs = [s for (s,) in conn.execute("SELECT seq FROM transitions ORDER BY seq")]
    assert len(seqs) >= 5  # the Task, the Wait, the Parallel, the Map and the end: one commit each at least
    for keep in range(len(seqs)):
        crashed = tmp_path / f"crash-{keep}.db"
        shutil.copy(original, crashed)
        with sqlite3.connect(crashed) as conn:
            conn.execute("DELETE FROM transitions WHERE seq >= ?", (keep,))
            conn.execute("UPDATE executions SET status='RUNNING', stop_ms=NULL, output=NULL")
        resumed_output, resumed_events = await run(crashed, resume=True)
        assert resumed_output == output, keep
        assert comparable(resumed_events) == comparable(events), keep
