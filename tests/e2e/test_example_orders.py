"""examples/orders/place_order.py as a user runs it: a subprocess that places an order, watches it
over a WebSocket subscription, approves it by task token and prints the execution history —
against the server it starts itself, and against a running one (--url/--api-key)."""

from __future__ import annotations

import asyncio
import re
import sys
from pathlib import Path
from typing import AsyncIterator

import pytest

from tests.e2e.conftest import API_KEY, ROOT, Served, copy_project, serve_project

SCRIPT = ROOT / "examples" / "orders" / "place_order.py"
LIST = '{ listExecutions(stateMachine: "fulfil") { executions { name status } } }'
ORDERS = "{ listOrders { items { id status note } } }"


async def run(*args: str) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, str(SCRIPT), *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), 90)
    finally:
        if proc.returncode is None:
            proc.kill()
    return proc.returncode or 0, out.decode(), err.decode()


def statuses(out: str) -> list[str]:
    return re.findall(r"^  order status: (\S+)", out, re.M)


def history_rows(out: str) -> list[tuple[int, str, str]]:
    """(id, type, detail) of each row of the printed history table."""
    rows = []
    for line in out.splitlines():
        m = re.match(r"^\s*(\d+)\s+(\d+)\s+[\d.]+\s+(\S+)\s*(.*)$", line)
        if m:
            rows.append((int(m.group(1)), m.group(3), m.group(4)))
    return rows


def check_shipped(out: str) -> None:
    assert statuses(out) == ["VALIDATED", "PAID_AND_RESERVED", "AWAITING_APPROVAL", "SHIPPED"], out
    order_id = re.search(r"^placed order (\S+):", out, re.M)
    assert order_id, out
    assert f"order status: SHIPPED (TRK-{order_id.group(1)})" in out
    assert f"execution createOrder-{order_id.group(1)}-1: RUNNING" in out
    assert f"execution createOrder-{order_id.group(1)}-1: SUCCEEDED" in out
    assert 'approved (sendTaskSuccess {"approved": true} -> True)' in out
    rows = history_rows(out)
    assert [r[0] for r in rows] == list(range(1, len(rows) + 1))
    assert rows[0][1] == "ExecutionStarted" and rows[-1][1] == "ExecutionSucceeded"
    assert ("LambdaFunctionFailed", "PaymentGatewayBusy: try again") in [(t, d) for _, t, d in rows]  # the retry
    entered = [d for _, t, d in rows if t.endswith("StateEntered")]
    assert entered.index("AwaitApproval") < entered.index("Ship") < entered.index("MarkShipped")


async def test_place_order_with_its_own_server() -> None:
    status, out, err = await run()
    assert status == 0, (out, err)
    assert re.search(r"^serving orders at http://127\.0\.0\.1:\d+/graphql", out, re.M), out
    check_shipped(out)


@pytest.fixture
async def orders(tmp_path: Path) -> AsyncIterator[Served]:
    async for served in serve_project(copy_project("orders", tmp_path)):
        yield served


async def test_place_order_against_a_running_server_approve_and_reject(orders: Served) -> None:
    status, out, err = await run("--url", orders.running.url, "--api-key", API_KEY)
    assert status == 0, (out, err)
    assert "serving" not in out
    check_shipped(out)

    status, out, err = await run("--url", orders.running.url, "--api-key", API_KEY, "--reject", "--item", "desk")
    assert status == 0, (out, err)
    assert statuses(out) == ["VALIDATED", "PAID_AND_RESERVED", "AWAITING_APPROVAL", "CANCELLED"], out
    assert 'rejected (sendTaskSuccess {"approved": false} -> True)' in out
    entered = [d for _, t, d in history_rows(out) if t.endswith("StateEntered")]
    assert entered[-2:] == ["Compensate", "MarkCancelled"]

    # The server holds what the script printed: two orders, two executions.
    data = await orders.client.ok(LIST)
    assert sorted(e["status"] for e in data["listExecutions"]["executions"]) == ["SUCCEEDED", "SUCCEEDED"]
    items = (await orders.client.ok(ORDERS))["listOrders"]["items"]
    assert sorted(i["status"] for i in items) == ["CANCELLED", "SHIPPED"]


async def test_a_failed_run_exits_1(orders: Served) -> None:
    """An invalid order ends the execution FAILED (Validate → MarkInvalid → Fail): not a success."""
    status, out, err = await run("--url", orders.running.url, "--api-key", API_KEY, "--quantity", "0")
    assert status == 1, (out, err)
    assert statuses(out) == ["INVALID"]
    assert "execution FAILED (InvalidOrder: The order failed validation), order INVALID" in err
    assert history_rows(out)[-1][1] == "ExecutionFailed"


async def test_a_wrong_api_key_exits_1(orders: Served) -> None:
    status, out, err = await run("--url", orders.running.url, "--api-key", "da2-wrongwrongwrongwrongwrongwr")
    assert status == 1 and "FAILED" in err, (out, err)
    assert (await orders.client.ok(ORDERS))["listOrders"]["items"] == []  # refused before placing anything
