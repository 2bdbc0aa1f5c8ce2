"""Graceful shutdown of workflows: a real server stopped while a Lambda task runs, then restarted
on the same data directory.

Each task function appends a line to a log file when it starts, so the file counts invocations.
Within `[server].shutdown_timeout` a running task finishes, its result is committed and no next
step starts: after the restart the execution goes on from there, and the task ran once. A task
that outlives the deadline is cancelled and runs again after the restart (at-least-once).
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from tests.e2e.conftest import Served, project_with_workflows, serve_project

START = "mutation($m: String!, $i: String) { startExecution(stateMachine: $m, input: $i) { executionArn } }"
DESCRIBE = "query($a: String!) { describeExecution(executionArn: $a) { status output } }"
HISTORY = "query($a: String!) { getExecutionHistory(executionArn: $a) { events { type } } }"

FN = "arn:aws:lambda:us-east-1:123456789012:function:"
MACHINES = {
    # Two steps: a drain lets "one" finish and does not start "two".
    "brief": {
        "StartAt": "One",
        "States": {
            "One": {"Type": "Task", "Resource": FN + "brief_step", "Parameters": {"log.$": "$.log", "step": "one"},
                    "ResultPath": None, "Next": "Two"},
            "Two": {"Type": "Task", "Resource": FN + "brief_step", "Parameters": {"log.$": "$.log", "step": "two"},
                    "End": True},
        },
    },
    # Its first run never ends by itself: only the deadline stops it.
    "long": {
        "StartAt": "Work",
        "States": {"Work": {"Type": "Task", "Resource": FN + "long_step", "Parameters": {"log.$": "$.log"}, "End": True}},
    },
}

STEPS = '''

def brief_step(event):
    import time
    with open(event["log"], "a") as f:
        f.write(event["step"] + "\\n")
    time.sleep(0.3)  # a thread the drain waits for
    return {"step": event["step"]}


async def long_step(event):
    import asyncio
    with open(event["log"], "a") as f:
        f.write("long\\n")
    with open(event["log"]) as f:
        runs = len(f.read().splitlines())
    if runs == 1:
        await asyncio.sleep(3600)  # cancelled by the shutdown deadline
    return {"runs": runs}
'''


def project_with_steps(tmp_path: Path) -> Path:
    return project_with_workflows(tmp_path, MACHINES, STEPS)


def lines(log: Path) -> list[str]:
    return log.read_text().splitlines() if log.exists() else []


async def started(log: Path) -> None:
    """Until the task function has written its line (it is running now)."""
    async with asyncio.timeout(30):
        while not lines(log):
            await asyncio.sleep(0.02)


async def status(served: Served, arn: str) -> dict[str, Any]:
    result: dict[str, Any] = (await served.client.ok(DESCRIBE, {"a": arn}))["describeExecution"]
    return result


async def closed(served: Served, arn: str) -> dict[str, Any]:
    async with asyncio.timeout(30):
        while (row := await status(served, arn))["status"] == "RUNNING":
            await asyncio.sleep(0.05)
    return row


async def history(served: Served, arn: str) -> list[str]:
    events = (await served.client.ok(HISTORY, {"a": arn}))["getExecutionHistory"]["events"]
    return [e["type"] for e in events]


async def test_a_running_task_finishes_on_shutdown_and_runs_once(tmp_path: Path) -> None:
    project = project_with_steps(tmp_path)
    log = tmp_path / "calls.txt"
    async for served in serve_project(project, shutdown_timeout=60):
        arn = (await served.client.ok(START, {"m": "brief", "i": json.dumps({"log": str(log)})}))["startExecution"][
            "executionArn"
        ]
        await started(log)
    # Shut down while "one" ran: it finished and was committed; "two" did not start.
    assert lines(log) == ["one"]
    async for served in serve_project(project, shutdown_timeout=60):
        row = await closed(served, arn)
        assert row["status"] == "SUCCEEDED" and json.loads(row["output"]) == {"step": "two"}
        types = await history(served, arn)
        assert types.count("LambdaFunctionScheduled") == 2 and types.count("LambdaFunctionSucceeded") == 2
    assert lines(log) == ["one", "two"]  # each step ran exactly once across the restart


async def test_a_task_past_the_deadline_is_cancelled_and_runs_again_after_restart(tmp_path: Path) -> None:
    project = project_with_steps(tmp_path)
    log = tmp_path / "calls.txt"
    async for served in serve_project(project, shutdown_timeout=0.2):
        arn = (await served.client.ok(START, {"m": "long", "i": json.dumps({"log": str(log)})}))["startExecution"][
            "executionArn"
        ]
        await started(log)
    assert lines(log) == ["long"]  # the shutdown returned: the endless first run was cancelled
    async for served in serve_project(project):
        row = await closed(served, arn)
        assert row["status"] == "SUCCEEDED" and json.loads(row["output"]) == {"runs": 2}
        types = await history(served, arn)
        assert types.count("LambdaFunctionScheduled") == 1 and types.count("LambdaFunctionSucceeded") == 1
    assert lines(log) == ["long", "long"]
