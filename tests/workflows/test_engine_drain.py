"""`WorkflowEngine.close` drains: what only waits (a Wait, a task token, a nested `.sync`
execution) stops at once instead of holding the shutdown to its deadline, is not recorded as a
failure, and resumes after the restart. (Tasks that finish within the deadline:
tests/e2e/test_workflows_shutdown.py.)"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from tests.workflows.test_engine import Harness, history, machine

CALLBACK = "arn:aws:states:::syncline:callback.waitForTaskToken"


async def add_machines(h: Harness) -> None:
    engine = h.engine
    assert engine is not None
    await engine.add_machine("waiter", machine({"W": {"Type": "Wait", "Seconds": 3600, "End": True}}, "W"))
    await engine.add_machine("child", machine({"C": {"Type": "Task", "Resource": CALLBACK, "End": True}}, "C"))
    await engine.add_machine(
        "parent",
        machine(
            {
                "Run": {
                    "Type": "Task",
                    "Resource": "arn:aws:states:::states:startExecution.sync:2",
                    "Parameters": {"StateMachineArn": engine.machine_arn("child"), "Input": {"n": 1}},
                    "OutputPath": "$.Output",
                    "End": True,
                }
            },
            "Run",
        ),
    )


async def until(check: Any) -> Any:
    async with asyncio.timeout(30):
        while not (value := await check()):
            await asyncio.sleep(0.01)
    return value


async def test_waiting_executions_stop_at_once_and_resume_after_restart(tmp_path: Path) -> None:
    h = Harness(tmp_path)
    engine = await h.open()
    await add_machines(h)
    waiter = (await engine.start_execution("waiter", {}, "w"))["executionArn"]
    parent = (await engine.start_execution("parent", {}, "p"))["executionArn"]

    async def waiting() -> bool:
        entered = any(e["type"] == "WaitStateEntered" for e in await history(engine, waiter))
        return entered and bool(engine.pending_tasks("child"))

    await until(waiting)
    assert h.store is not None
    async with asyncio.timeout(60):  # a hang guard: nothing here runs, so nothing is waited for
        await engine.close(timeout=3600)
    await h.store.close()

    engine = await h.open()
    await add_machines(h)
    assert await engine.resume_all() == 3  # waiter, parent and its child
    for arn in (waiter, parent):
        assert (await engine.describe(arn))["status"] == "RUNNING"
    # The parent's task was cut off by the shutdown, not failed by its child's stop.
    types = [e["type"] for e in await history(engine, parent)]
    assert not any("Failed" in t for t in types), types
    [pending] = await until(lambda: asyncio.sleep(0, engine.pending_tasks("child")))
    engine.send_task_success(pending["taskToken"], json.dumps({"ok": True}))
    row = await engine.wait(parent)
    assert row.status == "SUCCEEDED" and json.loads(row.output or "") == {"ok": True}
    children = (await engine.list_executions("child"))["executions"]
    assert len(children) == 1  # the re-run task joined the same child
    assert [e["type"] for e in await history(engine, parent)].count("TaskScheduled") == 1
    await h.close()


async def test_a_nested_child_stopped_by_the_drain_does_not_fail_its_parent(tmp_path: Path) -> None:
    """The parent's other branch runs a task the drain waits for; meanwhile the child stops at
    its checkpoint. The parent's `.sync` task must not read that stop as the child failing."""
    h = Harness(tmp_path)
    engine = await h.open()
    await add_machines(h)
    branch = {
        "Run": {
            "Type": "Task",
            "Resource": "arn:aws:states:::states:startExecution.sync:2",
            "Parameters": {"StateMachineArn": engine.machine_arn("child"), "Input": {"n": 2}},
            "OutputPath": "$.Output",
            "End": True,
        }
    }
    slow = {"S": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:slow",
                  "Parameters": {"seconds": 2}, "End": True}}
    both = machine({"P": {"Type": "Parallel", "Branches": [machine(branch, "Run"), machine(slow, "S")], "End": True}}, "P")
    await engine.add_machine("both", both)
    arn = (await engine.start_execution("both", {}, "b"))["executionArn"]
    await until(lambda: asyncio.sleep(0, engine.pending_tasks("child")))
    assert h.store is not None
    async with asyncio.timeout(60):  # a hang guard
        await engine.close(timeout=3600)
    await h.store.close()

    engine = await h.open()
    await add_machines(h)
    await engine.add_machine("both", both)
    await engine.resume_all()
    assert (await engine.describe(arn))["status"] == "RUNNING"
    types = [e["type"] for e in await history(engine, arn)]
    assert not any("Failed" in t for t in types), types
    [pending] = await until(lambda: asyncio.sleep(0, engine.pending_tasks("child")))
    engine.send_task_success(pending["taskToken"], json.dumps({"ok": 2}))
    row = await engine.wait(arn)
    assert row.status == "SUCCEEDED" and json.loads(row.output or "") == [{"ok": 2}, {"slept": True}]
    await h.close()
