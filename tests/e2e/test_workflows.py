"""Workflows end to end: the real server, the examples/orders project, live status over WebSockets,
and a SIGKILL in the middle of a Wait and of a slow task."""

from __future__ import annotations

import asyncio
import json
import signal
from pathlib import Path
from typing import Any, AsyncIterator

import pytest

import aiohttp
from gql import Client, gql
from gql.transport.websockets import WebsocketsTransport

from tests.e2e.conftest import API_KEY, Client as HttpClient, Served, copy_project, project_with_workflows, serve_project
from tests.e2e.test_crash import start_server

CREATE_ORDER = "mutation($i: CreateOrderInput!) { createOrder(input: $i) { id _version status } }"
GET_ORDER = "query($id: ID!) { getOrder(id: $id) { id status approvalToken note } }"
LIST = "query($m: String) { listExecutions(stateMachine: $m) { executions { executionArn name status error } } }"
HISTORY = "query($a: String!) { getExecutionHistory(executionArn: $a) { events { id previousEventId type details } } }"
SUCCESS = "mutation($t: String!, $o: String!) { sendTaskSuccess(taskToken: $t, output: $o) }"


async def until_value(fn: Any, what: str, timeout: float = 30.0) -> Any:
    """Poll until `fn()` returns something truthy (the server gets there asynchronously)."""
    async with asyncio.timeout(timeout):
        while True:
            value = await fn()
            if value:
                return value
            await asyncio.sleep(0.05)


async def order_status(client: HttpClient, order_id: str, *statuses: str) -> dict[str, Any]:
    async def get() -> Any:
        order = (await client.ok(GET_ORDER, {"id": order_id}))["getOrder"]
        return order if order and order["status"] in statuses else None

    result: dict[str, Any] = await until_value(get, f"order {order_id} in {statuses}")
    return result


async def executions(client: HttpClient, machine: str) -> list[dict[str, Any]]:
    data = await client.ok(LIST, {"m": machine})
    result: list[dict[str, Any]] = data["listExecutions"]["executions"]
    return result


async def history_types(client: HttpClient, arn: str) -> list[str]:
    events = (await client.ok(HISTORY, {"a": arn}))["getExecutionHistory"]["events"]
    assert [e["id"] for e in events] == list(range(1, len(events) + 1))
    return [e["type"] for e in events]


async def finished(client: HttpClient, machine: str, count: int = 1) -> list[dict[str, Any]]:
    async def get() -> Any:
        rows = await executions(client, machine)
        return rows if len(rows) >= count and all(r["status"] != "RUNNING" for r in rows) else None

    result: list[dict[str, Any]] = await until_value(get, f"{machine} executions closed")
    return result


@pytest.fixture
async def orders(tmp_path: Path) -> AsyncIterator[Served]:
    project = copy_project("orders", tmp_path)
    async for served in serve_project(project):
        yield served


async def test_order_is_approved_and_shipped_while_a_websocket_client_watches(orders: Served) -> None:
    served = orders
    client = served.client
    url = served.running.url.replace("http://", "ws://")
    statuses: list[str] = []
    execution_statuses: list[str] = []
    subscribed = asyncio.Event()

    async def watch_order() -> None:
        transport = WebsocketsTransport(url=url, init_payload={"x-api-key": API_KEY})
        async with Client(transport=transport) as session:
            subscribed.set()
            async for result in session.subscribe(gql("subscription { onUpdateOrder { id status } }")):
                statuses.append(result["onUpdateOrder"]["status"])
                if statuses[-1] == "SHIPPED":
                    return

    async def watch_execution() -> None:
        transport = WebsocketsTransport(url=url, init_payload={"x-api-key": API_KEY})
        doc = gql('subscription { onExecutionStatusChange(stateMachine: "fulfil") { executionArn status } }')
        async with Client(transport=transport) as session:
            async for result in session.subscribe(doc):
                execution_statuses.append(result["onExecutionStatusChange"]["status"])
                if execution_statuses[-1] != "RUNNING":
                    return

    watchers = [asyncio.create_task(watch_order()), asyncio.create_task(watch_execution())]
    try:
        await asyncio.wait_for(subscribed.wait(), 10)
        registry = served.running.syncline.realtime.registry  # type: ignore[union-attr]
        await until_value(lambda: _ready(registry.subscribers == 2), "two subscribers")
        order = (
            await client.ok(CREATE_ORDER, {"i": {"customer": "ada", "item": "lamp", "quantity": 2, "amount": 30.0}})
        )["createOrder"]
        waiting = await order_status(client, order["id"], "AWAITING_APPROVAL")
        pending = (await client.ok("{ listPendingTasks(stateMachine: \"fulfil\") { taskToken stateName } }"))[
            "listPendingTasks"
        ]
        assert pending == [{"taskToken": waiting["approvalToken"], "stateName": "AwaitApproval"}]
        ok = await client.ok(SUCCESS, {"t": waiting["approvalToken"], "o": json.dumps({"approved": True})})
        assert ok == {"sendTaskSuccess": True}
        async with asyncio.timeout(30):
            await asyncio.gather(*watchers)
    finally:
        for w in watchers:
            w.cancel()
    assert statuses == ["VALIDATED", "PAID_AND_RESERVED", "AWAITING_APPROVAL", "SHIPPED"]
    assert execution_statuses == ["RUNNING", "SUCCEEDED"]
    shipped = await order_status(client, order["id"], "SHIPPED")
    assert shipped["note"] == f"TRK-{order['id']}"
    [execution] = await finished(client, "fulfil")
    assert execution["status"] == "SUCCEEDED"
    types = await history_types(client, execution["executionArn"])
    # The first charge attempt failed with PaymentGatewayBusy and was retried.
    assert types.count("LambdaFunctionFailed") == 1
    assert types.count("ParallelStateSucceeded") == 1 and types[-1] == "ExecutionSucceeded"


async def _ready(value: bool) -> bool:
    return value


async def test_rejection_and_out_of_stock_compensate_invalid_fails(orders: Served) -> None:
    served = orders
    client = served.client
    rejected = (
        await client.ok(CREATE_ORDER, {"i": {"customer": "bob", "item": "desk", "quantity": 1, "amount": 99.0}})
    )["createOrder"]
    no_stock = (
        await client.ok(CREATE_ORDER, {"i": {"customer": "cy", "item": "desk", "quantity": 500, "amount": 9.0}})
    )["createOrder"]
    invalid = (
        await client.ok(CREATE_ORDER, {"i": {"customer": "di", "item": "desk", "quantity": 0, "amount": 9.0}})
    )["createOrder"]
    waiting = await order_status(client, rejected["id"], "AWAITING_APPROVAL")
    await client.ok(SUCCESS, {"t": waiting["approvalToken"], "o": json.dumps({"approved": False})})
    await order_status(client, rejected["id"], "CANCELLED")
    await order_status(client, no_stock["id"], "CANCELLED")
    await order_status(client, invalid["id"], "INVALID")
    rows = {r["name"]: r for r in await finished(client, "fulfil", 3)}
    by_order = {oid: next(r for n, r in rows.items() if oid in n) for oid in (rejected["id"], no_stock["id"], invalid["id"])}
    assert by_order[rejected["id"]]["status"] == "SUCCEEDED"
    assert by_order[no_stock["id"]]["status"] == "SUCCEEDED"
    assert (by_order[invalid["id"]]["status"], by_order[invalid["id"]]["error"]) == ("FAILED", "InvalidOrder")
    metrics_url = served.running.url.replace("/graphql", "/metrics")
    async with client.session.get(metrics_url) as resp:
        text = await resp.text()
    assert 'syncline_workflow_executions_total{state_machine="fulfil",status="FAILED"} 1.0' in text
    assert 'syncline_workflow_transitions_total{state_machine="fulfil"}' in text
    assert 'syncline_workflow_task_seconds_count{resource="lambda:refund"} 2.0' in text
    for oid in (rejected["id"], no_stock["id"]):
        types = await history_types(client, by_order[oid]["executionArn"])
        entered = [t for t in types if t.endswith("StateEntered")]
        assert "ChoiceStateEntered" in entered or "ParallelStateEntered" in entered
        assert types.count("LambdaFunctionSucceeded") >= 2  # ... and refund ran (compensation)
    events = (await client.ok(HISTORY, {"a": by_order[no_stock["id"]]["executionArn"]}))["getExecutionHistory"]
    assert any("OutOfStock" in (e["details"] or "") for e in events["events"] if e["type"] == "LambdaFunctionFailed")


async def test_a_replayed_mutation_starts_one_execution(orders: Served) -> None:
    served = orders
    client = served.client
    variables = {"i": {"id": "o-replay", "customer": "ed", "item": "pen", "quantity": 1, "amount": 1.0}}
    tag = {"extensions": {"mutationId": {"clientId": "phone-1", "seq": 7}}}
    first = await client.ok(CREATE_ORDER, variables, **tag)
    again = await client.ok(CREATE_ORDER, variables, **tag)
    assert first == again
    await order_status(client, "o-replay", "AWAITING_APPROVAL")
    rows = await executions(client, "fulfil")
    assert len(rows) == 1 and rows[0]["status"] == "RUNNING"


async def test_start_by_name_is_idempotent_over_graphql(orders: Served) -> None:
    served = orders
    start = "mutation($i: String) { startExecution(stateMachine: \"fulfil\", name: \"manual-1\", input: $i) { executionArn } }"
    order = {"order": {"id": "manual", "customer": "x", "item": "y", "quantity": 0, "amount": 1}}
    one = await served.client.ok(start, {"i": json.dumps(order)})
    body = await served.client.gql(start, {"i": json.dumps({"order": {**order["order"], "quantity": 5}})})
    assert body["errors"][0]["errorType"] == "ExecutionAlreadyExists"
    [row] = await finished(served.client, "fulfil")
    assert row["executionArn"] == one["startExecution"]["executionArn"] and row["status"] == "FAILED"


CRASH_DEFINITIONS = {
    "sleeper": {
        "StartAt": "Nap",
        "States": {
            "Nap": {"Type": "Wait", "Seconds": 5, "Next": "After"},
            "After": {"Type": "Pass", "Result": "woke", "End": True},
        },
    },
    "worker": {
        "StartAt": "Work",
        "States": {
            "Work": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:slow_step", "Next": "After"},
            "After": {"Type": "Pass", "End": True},
        },
    },
}
SLOW_STEP = '''

def slow_step(event, context):
    import time
    time.sleep(3)
    return {"done": True, "token": context["idempotencyToken"]}
'''


async def test_sigkill_during_a_wait_and_a_slow_task_then_both_complete_once(tmp_path: Path) -> None:
    project = project_with_workflows(tmp_path, CRASH_DEFINITIONS, SLOW_STEP)
    start = "mutation($m: String!, $n: String) { startExecution(stateMachine: $m, name: $n, input: \"{}\") { executionArn } }"
    proc, url = await start_server(project)
    try:
        async with aiohttp.ClientSession() as session:
            client = HttpClient(session, url)
            sleeper = (await client.ok(start, {"m": "sleeper", "n": "nap"}))["startExecution"]["executionArn"]
            worker = (await client.ok(start, {"m": "worker", "n": "work"}))["startExecution"]["executionArn"]

            async def in_flight() -> bool:
                types = await history_types(client, worker)
                return "LambdaFunctionStarted" in types

            await until_value(in_flight, "the task started")
            napping = await history_types(client, sleeper)
            proc.send_signal(signal.SIGKILL)
            await proc.wait()
        # Killed inside the Wait (entered, not exited) and inside the task (started, no result).
        assert "WaitStateEntered" in napping and "WaitStateExited" not in napping
        proc, url = await start_server(project)
        async with aiohttp.ClientSession() as session:
            client = HttpClient(session, url)
            rows = {r["executionArn"]: r for r in (await finished(client, "sleeper")) + (await finished(client, "worker"))}
            assert rows[sleeper]["status"] == "SUCCEEDED" and rows[worker]["status"] == "SUCCEEDED"
            for arn in (sleeper, worker):
                types = await history_types(client, arn)  # ids 1..n, no gaps, no repeats
                entered = [t for t in types if t.endswith("StateEntered") or t.startswith("Execution")]
                assert len(entered) == len(set(entered)), types  # every transition exactly once
                assert types[0] == "ExecutionStarted" and types[-1] == "ExecutionSucceeded"
            events = (await client.ok(HISTORY, {"a": sleeper}))["getExecutionHistory"]["events"]
            stamps = {e["type"]: e for e in events}
            assert set(stamps) >= {"WaitStateEntered", "WaitStateExited", "PassStateEntered"}
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGKILL)
            await proc.wait()


async def test_workflow_settings_errors_name_the_problem(tmp_path: Path) -> None:
    from server.errors import ConfigError
    from server.settings import load_settings


    project = copy_project("orders", tmp_path)
    toml = project / "syncline.toml"
    toml.write_text(toml.read_text().replace('type = "STANDARD"', 'typ = "STANDARD"'))
    with pytest.raises(ConfigError, match="did you mean 'type'"):
        load_settings(project)
    toml.write_text(toml.read_text().replace('typ = "STANDARD"', 'type = "STANDARD"').replace("createOrder", "createOrdr"))
    with pytest.raises(ConfigError, match="createOrdr"):
        async for _ in serve_project(project):
            pass


async def test_execution_events_stream_to_a_subscriber_and_clients_cannot_publish(orders: Served) -> None:
    served = orders
    arn = "arn:aws:states:us-east-1:123456789012:execution:fulfil:watched"
    url = served.running.url.replace("http://", "ws://")
    seen: list[dict[str, Any]] = []

    async def watch() -> None:
        transport = WebsocketsTransport(url=url, init_payload={"x-api-key": API_KEY})
        doc = gql("subscription($a: String) { onExecutionEvent(executionArn: $a) { executionArn event { id type } } }")
        async with Client(transport=transport) as session:
            async for result in session.subscribe(doc, variable_values={"a": arn}):
                seen.append(result["onExecutionEvent"])
                if result["onExecutionEvent"]["event"]["type"] == "ExecutionFailed":
                    return

    watcher = asyncio.create_task(watch())
    try:
        registry = served.running.syncline.realtime.registry  # type: ignore[union-attr]
        await until_value(lambda: _ready(registry.subscribers == 1), "subscribed")
        other = {"order": {"id": "x", "customer": "x", "item": "y", "quantity": 0, "amount": 1}}
        start = "mutation($n: String, $i: String) { startExecution(stateMachine: \"fulfil\", name: $n, input: $i) { executionArn } }"
        await served.client.ok(start, {"n": "unwatched", "i": json.dumps(other)})
        await served.client.ok(start, {"n": "watched", "i": json.dumps(other)})
        async with asyncio.timeout(20):
            await watcher
    finally:
        watcher.cancel()
    assert {s["executionArn"] for s in seen} == {arn}
    assert [s["event"]["id"] for s in seen] == list(range(1, len(seen) + 1))
    body = await served.client.gql(f'mutation {{ publishExecutionEvent(executionArn: "{arn}") {{ status }} }}')
    assert body["errors"][0]["errorType"] == "Unauthorized"


MACHINE_API = """
mutation($n: String!, $d: String!) { createStateMachine(name: $n, definition: $d) { name version source } }
"""


async def test_state_machines_made_over_graphql_are_versioned_and_kept(tmp_path: Path) -> None:
    project = copy_project("orders", tmp_path)
    v1 = json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": 1, "End": True}}})
    v2 = json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": 2, "End": True}}})
    bad = json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "Next": "Q"}}})
    sync = "mutation($i: String) { startExecution(stateMachine: \"made\", input: $i) { executionArn } }"
    async for served in serve_project(project):
        client = served.client
        checked = (await client.ok(
            "query($d: String!) { validateStateMachineDefinition(definition: $d) { result diagnostics { code location } } }",
            {"d": bad},
        ))["validateStateMachineDefinition"]
        assert checked["result"] == "FAIL" and checked["diagnostics"][0]["location"] == "/States/P/Next"
        refused = await client.gql(MACHINE_API, {"n": "made", "d": bad})
        assert refused["errors"][0]["errorType"] == "InvalidDefinition"
        made = (await client.ok(MACHINE_API, {"n": "made", "d": v1}))["createStateMachine"]
        assert made == {"name": "made", "version": 1, "source": "api"}
        again = await client.gql(MACHINE_API, {"n": "made", "d": v1})
        assert again["errors"][0]["errorType"] == "StateMachineAlreadyExists"
        first = (await client.ok(sync, {"i": "{}"}))["startExecution"]["executionArn"]
        updated = (await client.ok(
            'mutation($d: String) { updateStateMachine(stateMachine: "made", definition: $d) { version } }', {"d": v2}
        ))["updateStateMachine"]
        assert updated == {"version": 2}
        file_machine = await client.gql('mutation { deleteStateMachine(stateMachine: "fulfil") }')
        assert "edit" in file_machine["errors"][0]["message"] or "delete the file" in file_machine["errors"][0]["message"]
        await finished(client, "made")
        described = (await client.ok(
            "query($a: String!) { describeExecution(executionArn: $a) { output stateMachineVersion } }", {"a": first}
        ))["describeExecution"]
        assert described == {"output": "1", "stateMachineVersion": 1}
    async for served in serve_project(project):  # a restart keeps API-made machines at their version
        client = served.client
        names = {m["name"]: m["version"] for m in (await client.ok("{ listStateMachines { name version } }"))["listStateMachines"]}
        assert names == {"fulfil": 1, "made": 2}
        second = (await client.ok(sync, {"i": "{}"}))["startExecution"]["executionArn"]
        await until_value(
            lambda: _status_is(client, second, "SUCCEEDED"), "second execution done"
        )
        assert (await client.ok('mutation { deleteStateMachine(stateMachine: "made") }')) == {"deleteStateMachine": True}
        gone = await client.gql(sync, {"i": "{}"})
        assert gone["errors"][0]["errorType"] == "StateMachineDoesNotExist"


async def _status_is(client: HttpClient, arn: str, status: str) -> bool:
    row = (await client.ok("query($a: String!) { describeExecution(executionArn: $a) { status output } }", {"a": arn}))[
        "describeExecution"
    ]
    return bool(row["status"] == status and row["output"] == "2")


async def test_start_sync_execution_of_an_express_machine(orders: Served) -> None:
    client = orders.client
    definition = json.dumps(
        {"StartAt": "V", "States": {"V": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:validate_order", "End": True}}}
    )
    await client.ok(
        'mutation($d: String!) { createStateMachine(name: "check", definition: $d, type: "EXPRESS") { type } }', {"d": definition}
    )
    run = 'mutation($i: String) { startSyncExecution(stateMachine: "check", input: $i) { status output error cause } }'
    ok = (await client.ok(run, {"i": json.dumps({"quantity": 1, "amount": 2})}))["startSyncExecution"]
    assert ok == {"status": "SUCCEEDED", "output": '{"valid":true}', "error": None, "cause": None}
    bad = (await client.ok(run, {"i": json.dumps({"id": "z", "quantity": 0, "amount": 2})}))["startSyncExecution"]
    assert (bad["status"], bad["error"]) == ("FAILED", "InvalidOrder") and "positive quantity" in bad["cause"]
    standard = await client.gql('mutation { startSyncExecution(stateMachine: "fulfil") { status } }')
    assert standard["errors"][0]["errorType"] == "StateMachineTypeNotSupported"


async def test_a_custom_mutation_triggers_a_workflow_with_its_arguments_and_result(tmp_path: Path) -> None:
    project = copy_project("orders", tmp_path)
    with (project / "schema.graphql").open("a") as f:
        f.write("\ntype Refund { id: ID! amount: Float }\ntype Mutation { requestRefund(orderId: ID!, amount: Float!): Refund }\n")
    with (project / "resolvers.py").open("a") as f:
        f.write('\n\ndef request_refund(event):\n    return {"id": "rf-" + event["arguments"]["orderId"], "amount": event["arguments"]["amount"]}\n')
    (project / "workflows" / "refund.asl.json").write_text(
        json.dumps({"StartAt": "R", "States": {"R": {"Type": "Pass", "End": True}}})
    )
    toml = project / "syncline.toml"
    toml.write_text(
        toml.read_text()
        + '\n[resolvers]\n"Mutation.requestRefund" = "resolvers:request_refund"\n'
        + '\n[workflows.refund]\ntriggers = [{ mutation = "requestRefund", input = { "order.$" = "$.arguments.orderId", "refund.$" = "$.result" } }]\n'
    )
    async for served in serve_project(project):
        client = served.client
        refund = "mutation { requestRefund(orderId: \"o9\", amount: 5.5) { id } }"
        assert (await client.ok(refund)) == {"requestRefund": {"id": "rf-o9"}}
        [row] = await finished(client, "refund")
        assert row["name"] == "requestRefund-rf-o9-0" and row["status"] == "SUCCEEDED"
        described = (await client.ok("query($a: String!) { describeExecution(executionArn: $a) { output } }", {"a": row["executionArn"]}))
        assert json.loads(described["describeExecution"]["output"]) == {"order": "o9", "refund": {"id": "rf-o9", "amount": 5.5}}


async def test_readiness_names_the_workflow_engine(orders: Served) -> None:
    base = orders.running.url.removesuffix("/graphql")
    async with orders.client.session.get(base + "/readyz") as r:
        assert r.status == 200 and {"store", "workflows"} <= set((await r.json())["checks"])
    await orders.running.syncline.workflows.engine.close()  # type: ignore[union-attr]
    async with orders.client.session.get(base + "/readyz") as r:
        body = await r.json()
        assert r.status == 503 and "workflows" in body["failing"] and "store" not in body["failing"]
