"""The durable engine on real SQLite files: transitions, restarts, tokens, limits."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime
from pathlib import Path
from typing import Any, AsyncIterator

import pytest

from server.workflows.engine import WorkflowEngine, function_lookup
from server.workflows.errors import (
    ExecutionAlreadyExists,
    ExecutionNotRedrivable,
    InvalidDefinition,
    StateMachineTypeNotSupported,
    TaskDoesNotExist,
)
from server.workflows.persistence import WorkflowStore
from server.workflows.resources import Resources

FUNCTIONS = '''
import time, json, os
calls = []
def double(event, context):
    calls.append(context["idempotencyToken"])
    return {"value": event["value"] * 2}
def slow(event):
    time.sleep(event.get("seconds", 0.2))
    return {"slept": True}
async def flaky(event):
    marker = event["marker"]
    if not os.path.exists(marker):
        open(marker, "w").close()
        raise ValueError("first time fails")
    return "ok"
'''


def machine(states: dict[str, Any], start: str, **extra: Any) -> dict[str, Any]:
    return {"StartAt": start, "States": states, **extra}


WAIT_THEN_TASK = machine(
    {
        "W": {"Type": "Wait", "Seconds": 1, "Next": "T"},
        "T": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:double", "End": True},
    },
    "W",
)


class Harness:
    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        (tmp / "project").mkdir(exist_ok=True)
        (tmp / "project" / "fns.py").write_text(FUNCTIONS)
        self.engine: WorkflowEngine | None = None
        self.store: WorkflowStore | None = None

    async def open(self) -> WorkflowEngine:
        self.store = WorkflowStore(self.tmp / "workflows.db")
        await self.store.open()
        resources = Resources(functions=function_lookup("fns", self.tmp / "project"))
        self.engine = WorkflowEngine(store=self.store, resources=resources)
        resources.start_nested = self.engine.start_nested
        return self.engine

    async def close(self) -> None:
        assert self.engine is not None and self.store is not None
        await self.engine.close()
        await self.store.close()


@pytest.fixture
async def h(tmp_path: Path) -> AsyncIterator[Harness]:
    harness = Harness(tmp_path)
    await harness.open()
    yield harness
    await harness.close()


def assert_consistent(events: list[dict[str, Any]]) -> None:
    """Ids are 1..n without gaps or repeats; each previousEventId points backwards."""
    assert [e["id"] for e in events] == list(range(1, len(events) + 1))
    for e in events:
        assert 0 <= e["previousEventId"] < e["id"]


async def history(engine: WorkflowEngine, arn: str) -> list[dict[str, Any]]:
    return (await engine.history(arn))["events"]


async def test_standard_execution_commits_history_and_output(h: Harness) -> None:
    engine = h.engine
    assert engine is not None
    await engine.add_machine("m", WAIT_THEN_TASK)
    started = await engine.start_execution("m", {"value": 21}, "one")
    row = await engine.wait(started["executionArn"])
    assert row.status == "SUCCEEDED" and json.loads(row.output or "") == {"value": 42}
    events = await history(engine, started["executionArn"])
    assert_consistent(events)
    types = [e["type"] for e in events]
    assert types[0] == "ExecutionStarted" and types[-1] == "ExecutionSucceeded"
    assert types.count("WaitStateEntered") == 1 and types.count("LambdaFunctionSucceeded") == 1
    described = await engine.describe(started["executionArn"])
    assert described["status"] == "SUCCEEDED" and described["stateMachineVersion"] == 1


async def test_wait_survives_restart_and_transitions_happen_once(h: Harness) -> None:
    engine = h.engine
    assert engine is not None
    await engine.add_machine("m", WAIT_THEN_TASK)
    arn = (await engine.start_execution("m", {"value": 1}, "restart"))["executionArn"]
    await asyncio.sleep(0.3)  # inside the Wait
    await h.close()
    engine = await h.open()
    await engine.add_machine("m", WAIT_THEN_TASK)
    assert await engine.resume_all() == 1
    row = await engine.wait(arn)
    assert row.status == "SUCCEEDED"
    events = await history(engine, arn)
    assert_consistent(events)
    types = [e["type"] for e in events]
    for t in ("ExecutionStarted", "WaitStateEntered", "WaitStateExited", "TaskStateEntered", "LambdaFunctionSucceeded"):
        assert types.count(t) == 1, (t, types)
    # The timer kept its absolute time: the Wait lasted its second in total, not 1 s after the restart.
    entered = next(e for e in events if e["type"] == "WaitStateEntered")["timestamp"]
    exited = next(e for e in events if e["type"] == "WaitStateExited")["timestamp"]
    waited = datetime.fromisoformat(exited.replace("Z", "+00:00")) - datetime.fromisoformat(entered.replace("Z", "+00:00"))
    assert waited.total_seconds() >= 1.0  # the full second, counted across the restart


async def test_uncommitted_task_runs_again_after_restart(h: Harness, tmp_path: Path) -> None:
    engine = h.engine
    assert engine is not None
    defn = machine(
        {"S": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:slow", "End": True}}, "S"
    )
    await engine.add_machine("slow", defn)
    arn = (await engine.start_execution("slow", {"seconds": 0.5}, "s1"))["executionArn"]
    await asyncio.sleep(0.1)
    await h.close()  # the task's completion was never recorded
    engine = await h.open()
    await engine.add_machine("slow", defn)
    await engine.resume_all()
    row = await engine.wait(arn)
    assert row.status == "SUCCEEDED" and json.loads(row.output or "") == {"slept": True}
    events = await history(engine, arn)
    assert_consistent(events)
    assert [e["type"] for e in events].count("LambdaFunctionScheduled") == 1


async def test_start_is_idempotent_by_name(h: Harness) -> None:
    engine = h.engine
    assert engine is not None
    await engine.add_machine("m", WAIT_THEN_TASK)
    a = await engine.start_execution("m", {"value": 1}, "same")
    b = await engine.start_execution("m", {"value": 1}, "same")
    assert a == b
    with pytest.raises(ExecutionAlreadyExists):
        await engine.start_execution("m", {"value": 2}, "same")
    await engine.wait(a["executionArn"])
    with pytest.raises(ExecutionAlreadyExists):  # closed: AWS refuses the name too
        await engine.start_execution("m", {"value": 1}, "same")
    listed = await engine.list_executions("m")
    assert [e["name"] for e in listed["executions"]] == ["same"]


async def test_every_change_makes_a_version_and_executions_record_theirs(h: Harness) -> None:
    engine = h.engine
    assert engine is not None
    one = await engine.add_machine("m", machine({"P": {"Type": "Pass", "Result": 1, "End": True}}, "P"))
    same = await engine.add_machine("m", machine({"P": {"Type": "Pass", "Result": 1, "End": True}}, "P"))
    two = await engine.add_machine("m", machine({"P": {"Type": "Pass", "Result": 2, "End": True}}, "P"))
    assert (one.version, same.version, two.version) == (1, 1, 2)
    arn = (await engine.start_execution("m", {}))["executionArn"]
    row = await engine.wait(arn)
    assert row.version == 2 and row.output == "2"


async def test_invalid_definition_is_refused_with_its_location(h: Harness, tmp_path: Path) -> None:
    engine = h.engine
    assert engine is not None
    project = tmp_path / "p2"
    (project / "workflows").mkdir(parents=True)
    (project / "workflows" / "bad.asl.json").write_text(json.dumps(machine({"A": {"Type": "Pass", "Next": "Nope"}}, "A")))
    with pytest.raises(InvalidDefinition) as info:
        await engine.load_project(project, {})
    assert "bad.asl.json" in str(info.value) and "/States/A/Next" in str(info.value)


async def test_task_token_success_and_pending_list(h: Harness) -> None:
    engine = h.engine
    assert engine is not None
    defn = machine(
        {
            "Approve": {
                "Type": "Task",
                "Resource": "arn:aws:states:::syncline:callback.waitForTaskToken",
                "Parameters": {"token.$": "$$.Task.Token", "order.$": "$.order"},
                "End": True,
            }
        },
        "Approve",
    )
    await engine.add_machine("approve", defn)
    arn = (await engine.start_execution("approve", {"order": "o1"}))["executionArn"]
    for _ in range(100):
        if engine.pending_tasks():
            break
        await asyncio.sleep(0.01)
    [pending] = engine.pending_tasks()
    assert pending["executionArn"] == arn and json.loads(pending["input"])["order"] == "o1"
    assert json.loads(pending["input"])["token"] == pending["taskToken"]
    engine.send_task_success(pending["taskToken"], json.dumps({"approved": True}))
    row = await engine.wait(arn)
    assert row.status == "SUCCEEDED" and json.loads(row.output or "") == {"approved": True}
    with pytest.raises(TaskDoesNotExist):
        engine.send_task_success(pending["taskToken"], "{}")


async def test_heartbeat_timeout_and_task_timeout(h: Harness) -> None:
    engine = h.engine
    assert engine is not None
    await engine.add_machine(
        "hb",
        machine(
            {
                "Wait": {
                    "Type": "Task",
                    "Resource": "arn:aws:states:::syncline:callback.waitForTaskToken",
                    "HeartbeatSeconds": 1,
                    "End": True,
                }
            },
            "Wait",
        ),
    )
    await engine.add_machine(
        "to",
        machine(
            {
                "S": {
                    "Type": "Task",
                    "Resource": "arn:aws:lambda:us-east-1:123456789012:function:slow",
                    "TimeoutSeconds": 1,
                    "End": True,
                }
            },
            "S",
        ),
    )
    hb = (await engine.start_execution("hb", {}))["executionArn"]
    to = (await engine.start_execution("to", {"seconds": 1.5}))["executionArn"]
    row = await engine.wait(hb)
    assert (row.status, row.error) == ("FAILED", "States.HeartbeatTimeout")
    row = await engine.wait(to)
    assert (row.status, row.error) == ("FAILED", "States.Timeout")


async def test_stop_then_redrive_resumes(h: Harness) -> None:
    engine = h.engine
    assert engine is not None
    await engine.add_machine(
        "cb", machine({"C": {"Type": "Task", "Resource": "arn:aws:states:::syncline:callback.waitForTaskToken", "End": True}}, "C")
    )
    arn = (await engine.start_execution("cb", {}))["executionArn"]
    await asyncio.sleep(0.05)
    await engine.stop(arn, "Manual", "stopped by the test")
    described = await engine.describe(arn)
    assert (described["status"], described["error"]) == ("ABORTED", "Manual")
    assert (await history(engine, arn))[-1]["type"] == "ExecutionAborted"
    await engine.redrive(arn)
    for _ in range(100):
        if engine.pending_tasks():
            break
        await asyncio.sleep(0.01)
    engine.send_task_success(engine.pending_tasks()[0]["taskToken"], '"done"')
    row = await engine.wait(arn)
    assert row.status == "SUCCEEDED" and row.redrive_count == 1
    assert_consistent(await history(engine, arn))


async def test_redrive_failed_task(h: Harness, tmp_path: Path) -> None:
    engine = h.engine
    assert engine is not None
    await engine.add_machine(
        "flaky",
        machine(
            {
                "P": {"Type": "Pass", "Next": "F"},
                "F": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:flaky", "End": True},
            },
            "P",
        ),
    )
    arn = (await engine.start_execution("flaky", {"marker": str(tmp_path / "marker")}))["executionArn"]
    row = await engine.wait(arn)
    assert (row.status, row.error) == ("FAILED", "ValueError")
    await engine.redrive(arn)
    row = await engine.wait(arn)
    assert row.status == "SUCCEEDED" and row.output == '"ok"'
    events = await history(engine, arn)
    assert_consistent(events)
    assert [e["type"] for e in events].count("PassStateEntered") == 1
    with pytest.raises(ExecutionNotRedrivable):
        await engine.redrive(arn)


async def test_execution_timeout(h: Harness) -> None:
    engine = h.engine
    assert engine is not None
    await engine.add_machine(
        "t", machine({"W": {"Type": "Wait", "Seconds": 30, "End": True}}, "W", TimeoutSeconds=1)
    )
    row = await engine.wait((await engine.start_execution("t", {}))["executionArn"])
    assert (row.status, row.error) == ("TIMED_OUT", "States.Timeout")


async def test_history_cap_fails_the_execution(h: Harness) -> None:
    engine = h.engine
    assert engine is not None
    loop = machine(
        {
            "Inc": {"Type": "Pass", "Parameters": {"n.$": "States.MathAdd($.n, 1)"}, "Next": "Again"},
            "Again": {"Type": "Choice", "Choices": [{"Variable": "$.n", "NumericLessThan": 100000, "Next": "Inc"}], "Default": "Done"},
            "Done": {"Type": "Succeed"},
        },
        "Inc",
    )
    await engine.add_machine("loop", loop)
    row = await engine.wait((await engine.start_execution("loop", {"n": 0}))["executionArn"])
    assert row.status == "FAILED" and row.events <= 25_000


async def test_express_sync_start_returns_output(h: Harness) -> None:
    engine = h.engine
    assert engine is not None
    await engine.add_machine(
        "x",
        machine({"T": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:double", "End": True}}, "T"),
        "EXPRESS",
    )
    result = await engine.start_sync_execution("x", {"value": 4})
    assert result["status"] == "SUCCEEDED" and json.loads(result["output"]) == {"value": 8}
    assert ":express:x:" in result["executionArn"]
    await engine.add_machine("s", WAIT_THEN_TASK)
    with pytest.raises(StateMachineTypeNotSupported):
        await engine.start_sync_execution("s", {})


async def test_nested_sync_execution(h: Harness) -> None:
    engine = h.engine
    assert engine is not None
    await engine.add_machine(
        "child", machine({"T": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:double", "End": True}}, "T")
    )
    await engine.add_machine(
        "parent",
        machine(
            {
                "Run": {
                    "Type": "Task",
                    "Resource": "arn:aws:states:::states:startExecution.sync:2",
                    "Parameters": {"StateMachineArn": engine.machine_arn("child"), "Input": {"value": 5}},
                    "OutputPath": "$.Output",
                    "End": True,
                }
            },
            "Run",
        ),
    )
    row = await engine.wait((await engine.start_execution("parent", {}))["executionArn"])
    assert row.status == "SUCCEEDED", row
    assert json.loads(row.output or "") == {"value": 10}


async def test_thousand_concurrent_executions_have_consistent_histories(h: Harness) -> None:
    engine = h.engine
    assert engine is not None
    defn = machine(
        {
            "A": {"Type": "Pass", "Next": "W"},
            "W": {"Type": "Wait", "Seconds": 0, "Next": "T"},
            "T": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:double", "End": True},
        },
        "A",
    )
    await engine.add_machine("many", defn)
    arns = [
        s["executionArn"]
        for s in await asyncio.gather(*(engine.start_execution("many", {"value": i}, f"e{i}") for i in range(1000)))
    ]
    rows = await asyncio.gather(*(engine.wait(a) for a in arns))
    assert all(r.status == "SUCCEEDED" for r in rows)
    assert sorted(json.loads(r.output or "")["value"] for r in rows) == [2 * i for i in range(1000)]
    for arn in arns[::50]:
        events = await history(engine, arn)
        assert_consistent(events)
        assert [e["type"] for e in events].count("LambdaFunctionSucceeded") == 1


async def test_history_pages_forward_and_backward(h: Harness) -> None:
    engine = h.engine
    assert engine is not None
    await engine.add_machine("m", WAIT_THEN_TASK)
    arn = (await engine.start_execution("m", {"value": 1}))["executionArn"]
    await engine.wait(arn)
    every = [e["id"] for e in await history(engine, arn)]
    forward: list[int] = []
    token = None
    while True:
        page = await engine.history(arn, limit=3, next_token=token)
        forward += [e["id"] for e in page["events"]]
        token = page["nextToken"]
        if token is None:
            break
    assert forward == every
    backward: list[int] = []
    token = None
    while True:
        page = await engine.history(arn, limit=2, next_token=token, reverse=True)
        backward += [e["id"] for e in page["events"]]
        token = page["nextToken"]
        if token is None:
            break
    assert backward == every[::-1]


async def test_stop_interrupts_a_running_task(h: Harness) -> None:
    engine = h.engine
    assert engine is not None
    await engine.add_machine(
        "slow", machine({"S": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:slow", "End": True}}, "S")
    )
    arn = (await engine.start_execution("slow", {"seconds": 1.0}))["executionArn"]
    await asyncio.sleep(0.2)
    await engine.stop(arn, "Stop", "enough")
    described = await engine.describe(arn)
    assert (described["status"], described["error"], described["cause"]) == ("ABORTED", "Stop", "enough")
    types = [e["type"] for e in await history(engine, arn)]
    assert types[-1] == "ExecutionAborted" and "LambdaFunctionSucceeded" not in types


async def wait_pending(engine: WorkflowEngine) -> list[dict[str, Any]]:
    async with asyncio.timeout(10):
        while not engine.pending_tasks():
            await asyncio.sleep(0.01)
    return engine.pending_tasks()


async def test_a_task_token_still_works_after_a_restart(h: Harness) -> None:
    engine = h.engine
    assert engine is not None
    defn = machine(
        {"Approve": {"Type": "Task", "Resource": "arn:aws:states:::syncline:callback.waitForTaskToken", "End": True}},
        "Approve",
    )
    await engine.add_machine("approve", defn)
    arn = (await engine.start_execution("approve", {}))["executionArn"]
    [before] = await wait_pending(engine)
    await h.close()
    engine = await h.open()
    await engine.add_machine("approve", defn)
    await engine.resume_all()
    [after] = await wait_pending(engine)
    assert after["taskToken"] == before["taskToken"]  # a link mailed before the crash still works
    engine.send_task_failure(after["taskToken"], "Rejected", "no")
    row = await engine.wait(arn)
    assert (row.status, row.error, row.cause) == ("FAILED", "Rejected", "no")
    assert_consistent(await history(engine, arn))


async def test_http_invoke_resource_against_a_real_server(h: Harness) -> None:
    from aiohttp import web

    async def echo(request: web.Request) -> web.Response:
        if request.query.get("fail"):
            return web.json_response({"nope": True}, status=503)
        return web.json_response({"method": request.method, "body": await request.json(), "q": dict(request.query)})

    app = web.Application()
    app.router.add_route("*", "/echo", echo)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        engine = h.engine
        assert engine is not None
        await engine.add_machine(
            "http",
            machine(
                {
                    "Call": {
                        "Type": "Task",
                        "Resource": "arn:aws:states:::http:invoke",
                        "Parameters": {
                            "ApiEndpoint": f"http://127.0.0.1:{port}/echo",
                            "Method": "POST",
                            "QueryParameters.$": "$.query",
                            "RequestBody": {"hello": "world"},
                        },
                        "ResultSelector": {"status.$": "$.StatusCode", "body.$": "$.ResponseBody"},
                        "End": True,
                    }
                },
                "Call",
            ),
        )
        ok = await engine.wait((await engine.start_execution("http", {"query": {"a": "1"}}))["executionArn"])
        assert ok.status == "SUCCEEDED", ok
        assert json.loads(ok.output or "") == {
            "status": 200,
            "body": {"method": "POST", "body": {"hello": "world"}, "q": {"a": "1"}},
        }
        bad = await engine.wait((await engine.start_execution("http", {"query": {"fail": "1"}}))["executionArn"])
        assert (bad.status, bad.error) == ("FAILED", "States.Http.StatusCode.503")
    finally:
        await runner.cleanup()


async def test_the_store_refuses_a_transition_whose_predecessor_did_not_commit(tmp_path: Path) -> None:
    """A gap would make replay diverge: the log must stay a prefix."""
    import sqlite3

    from server.workflows.asl.history import HistoryEvent
    from server.workflows.persistence import Transition

    store = WorkflowStore(tmp_path / "w.db")
    await store.open()
    try:
        event = HistoryEvent(id=1, previous_event_id=0, type="ExecutionStarted", details={"input": "{}"})
        with pytest.raises(sqlite3.IntegrityError):
            await store.append(Transition(arn="a", events=[(event, 1)], completions=[], seq=1))
        await store.append(Transition(arn="a", events=[(event, 1)], completions=[], seq=0))
        events, completions, next_seq = await store.replay_log("a")
        assert [e.type for e in events] == ["ExecutionStarted"] and completions == [] and next_seq == 1
    finally:
        await store.close()


async def test_an_activity_worker_takes_the_task_and_answers(h: Harness) -> None:
    engine = h.engine
    assert engine is not None
    activity = "arn:aws:states:us-east-1:123456789012:activity:pack"
    await engine.add_machine(
        "act",
        machine({"Pack": {"Type": "Task", "Resource": activity, "HeartbeatSeconds": 5, "End": True}}, "Pack"),
    )
    assert await engine.get_activity_task(activity, "w1", 0) is None  # nothing offered yet
    worker = asyncio.create_task(engine.get_activity_task(activity, "w1", 10))  # a long poll
    arn = (await engine.start_execution("act", {"box": 3}))["executionArn"]
    task = await worker
    assert task is not None and json.loads(task["input"]) == {"box": 3}
    assert await engine.get_activity_task("pack", "w2", 0) is None  # delivered to one worker only
    engine.send_task_heartbeat(task["taskToken"])
    engine.send_task_success(task["taskToken"], '{"packed": true}')
    row = await engine.wait(arn)
    assert row.status == "SUCCEEDED" and json.loads(row.output or "") == {"packed": True}
    types = [e["type"] for e in await history(engine, arn)]
    assert "ActivityScheduled" in types and "ActivitySucceeded" in types


async def test_parallel_and_map_resume_after_a_restart(h: Harness) -> None:
    engine = h.engine
    assert engine is not None
    defn = machine(
        {
            "Both": {
                "Type": "Parallel",
                "Branches": [
                    {"StartAt": "Nap", "States": {"Nap": {"Type": "Wait", "Seconds": 1, "End": True}}},
                    {
                        "StartAt": "Each",
                        "States": {
                            "Each": {
                                "Type": "Map",
                                "ItemsPath": "$.items",
                                "ItemProcessor": {
                                    "StartAt": "D",
                                    "States": {
                                        "D": {
                                            "Type": "Task",
                                            "Resource": "arn:aws:lambda:us-east-1:123456789012:function:double",
                                            "End": True,
                                        }
                                    },
                                },
                                "End": True,
                            }
                        },
                    },
                ],
                "End": True,
            }
        },
        "Both",
    )
    await engine.add_machine("pm", defn)
    items = [{"value": i} for i in range(3)]
    arn = (await engine.start_execution("pm", {"items": items}))["executionArn"]
    await asyncio.sleep(0.3)
    await h.close()
    engine = await h.open()
    await engine.add_machine("pm", defn)
    await engine.resume_all()
    row = await engine.wait(arn)
    assert row.status == "SUCCEEDED", row
    output = json.loads(row.output or "")
    assert output[1] == [{"value": 0}, {"value": 2}, {"value": 4}]
    events = await history(engine, arn)
    assert_consistent(events)
    types = [e["type"] for e in events]
    assert types.count("LambdaFunctionSucceeded") == 3 and types.count("WaitStateExited") == 1


async def test_heartbeats_keep_a_callback_task_alive(h: Harness) -> None:
    engine = h.engine
    assert engine is not None
    await engine.add_machine(
        "beat",
        machine(
            {
                "Wait": {
                    "Type": "Task",
                    "Resource": "arn:aws:states:::syncline:callback.waitForTaskToken",
                    "HeartbeatSeconds": 2,
                    "End": True,
                }
            },
            "Wait",
        ),
    )
    arn = (await engine.start_execution("beat", {}))["executionArn"]
    [pending] = await wait_pending(engine)
    for _ in range(6):  # 3 s in all, longer than the heartbeat period
        await asyncio.sleep(0.5)
        engine.send_task_heartbeat(pending["taskToken"])
    engine.send_task_success(pending["taskToken"], '"alive"')
    row = await engine.wait(arn)
    assert (row.status, row.output) == ("SUCCEEDED", '"alive"')


async def test_an_express_execution_over_its_time_limit_times_out(tmp_path: Path) -> None:
    engine = WorkflowEngine(store=None, resources=Resources(functions=function_lookup("fns", tmp_path)), express_limit_seconds=0.5)
    await engine.add_machine("nap", machine({"W": {"Type": "Wait", "Seconds": 30, "End": True}}, "W"), "EXPRESS")
    result = await engine.start_sync_execution("nap", {})
    assert (result["status"], result["error"]) == ("TIMED_OUT", "States.Timeout")
    await engine.close()
