#!/usr/bin/env python3
"""Place an order and approve it, watching the `fulfil` workflow move it live.

    .venv/bin/python examples/orders/place_order.py            # starts its own server (port 0, temp data)
    .venv/bin/python examples/orders/place_order.py --url http://127.0.0.1:4000/graphql --api-key da2-...

What it does, as a client app would:

1. opens a WebSocket (graphql-transport-ws, over aiohttp) and subscribes to `onUpdateOrder`
   for the order it is about to place (its id is made here, as an offline client would) and
   to `onExecutionStatusChange` of `fulfil`;
2. places the order with the `createOrder` mutation over HTTP — the trigger in syncline.toml
   starts the workflow;
3. prints each status the workflow writes on the order; at AWAITING_APPROVAL it plays the
   human approver: `sendTaskSuccess(taskToken: <approvalToken>, output: {"approved": true}`
   (`--reject` sends false, and the workflow compensates);
4. waits for the execution to end and prints its history as a table.

Exit status 0 only if the order ended SHIPPED (CANCELLED with `--reject`) and the execution
SUCCEEDED. Needs only aiohttp (a Syncline dependency); the default mode imports `server`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import sys
import tempfile
import uuid
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp

PROJECT = Path(__file__).resolve().parent

CREATE_ORDER = "mutation($i: CreateOrderInput!) { createOrder(input: $i) { id status _version } }"
ON_ORDER = (
    "subscription($id: ID!) { onUpdateOrder(filter: {id: {eq: $id}}) { id status note approvalToken _version } }"
)
ON_EXECUTION = 'subscription { onExecutionStatusChange(stateMachine: "fulfil") { executionArn status } }'
APPROVE = "mutation($t: String!, $o: String!) { sendTaskSuccess(taskToken: $t, output: $o) }"
DESCRIBE = "query($a: String!) { describeExecution(executionArn: $a) { name status error cause } }"
HISTORY = """query($a: String!, $n: String) {
  getExecutionHistory(executionArn: $a, nextToken: $n) { events { id previousEventId timestamp type details } nextToken }
}"""
FINAL_ORDER = {"SHIPPED", "CANCELLED", "INVALID"}


class Failed(Exception):
    """The run did not end as expected; the message says how (exit status 1)."""


class GraphQLWebSocket:
    """A minimal graphql-transport-ws client: subscribe, then read `next` payloads by id."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.ids = (str(i) for i in itertools.count(1))
        self.pending: list[dict[str, Any]] = []  # read while waiting for a pong

    @classmethod
    @contextlib.asynccontextmanager
    async def connect(cls, session: aiohttp.ClientSession, url: str, api_key: str) -> AsyncIterator[GraphQLWebSocket]:
        ws_url = url.replace("http://", "ws://", 1).replace("https://", "wss://", 1)
        async with session.ws_connect(ws_url, protocols=("graphql-transport-ws",), heartbeat=30) as ws:
            await ws.send_json({"type": "connection_init", "payload": {"x-api-key": api_key}})
            raw = await ws.receive(timeout=10)
            if raw.type != aiohttp.WSMsgType.TEXT or json.loads(raw.data).get("type") != "connection_ack":
                raise Failed(f"the server refused the WebSocket connection ({ws.close_code or raw.data}: {raw.extra or ''})")
            yield cls(ws)

    async def subscribe(self, query: str, variables: dict[str, Any] | None = None) -> str:
        op_id = next(self.ids)
        await self.ws.send_json({"id": op_id, "type": "subscribe", "payload": {"query": query, "variables": variables or {}}})
        return op_id

    async def barrier(self) -> None:
        """Ping and wait for the pong: the server handles a connection's messages in order, so
        every subscription sent before is registered and no event after this is missed."""
        await self.ws.send_json({"type": "ping"})
        while (msg := await self.receive()) is not None and msg.get("type") != "pong":
            self.pending.append(msg)

    async def receive(self) -> dict[str, Any] | None:
        raw = await self.ws.receive()
        if raw.type != aiohttp.WSMsgType.TEXT:
            return None
        msg: dict[str, Any] = json.loads(raw.data)
        if msg.get("type") == "ping":
            await self.ws.send_json({"type": "pong"})
        return msg

    async def messages(self) -> AsyncIterator[tuple[str, dict[str, Any]]]:
        """(operation id, payload) of every `next`; `error` raises; ends when the socket closes."""
        while True:
            msg = self.pending.pop(0) if self.pending else await self.receive()
            if msg is None:
                raise Failed(f"the WebSocket closed ({self.ws.close_code})")
            if msg.get("type") == "next":
                yield msg["id"], msg["payload"]
            elif msg.get("type") == "error":
                raise Failed(f"subscription {msg.get('id')} refused: {msg.get('payload')}")


class Api:
    """GraphQL over HTTP with the API key."""

    def __init__(self, session: aiohttp.ClientSession, url: str, api_key: str) -> None:
        self.session, self.url, self.headers = session, url, {"x-api-key": api_key}

    async def __call__(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        payload = {"query": query, "variables": variables or {}}
        async with self.session.post(self.url, json=payload, headers=self.headers) as resp:
            body = await resp.json(content_type=None)
        if resp.status != 200 or body.get("errors"):
            raise Failed(f"{query.split('{')[0].strip()} failed ({resp.status}): {body.get('errors') or body}")
        data: dict[str, Any] = body["data"]
        return data


async def place_and_approve(url: str, api_key: str, order: dict[str, Any], approve: bool) -> None:
    expected = "SHIPPED" if approve else "CANCELLED"
    async with aiohttp.ClientSession() as session, GraphQLWebSocket.connect(session, url, api_key) as ws:
        api = Api(session, url, api_key)
        order_sub = await ws.subscribe(ON_ORDER, {"id": order["id"]})
        execution_sub = await ws.subscribe(ON_EXECUTION)
        await ws.barrier()

        placed = (await api(CREATE_ORDER, {"i": order}))["createOrder"]
        print(f"placed order {placed['id']}: {order['quantity']} x {order['item']} for {order['customer']}, {order['amount']:.2f}")
        # The trigger names the execution after the mutation: createOrder-<id>-<_version>.
        execution_name = f"createOrder-{placed['id']}-{placed['_version']}"
        arn: str | None = None
        status: str | None = None
        execution_status: str | None = None
        async for op_id, payload in ws.messages():
            if payload.get("errors"):
                raise Failed(f"subscription error: {payload['errors']}")
            if op_id == order_sub:
                item = payload["data"]["onUpdateOrder"]
                if item["status"] == status:
                    continue
                status = item["status"]
                note = f" ({item['note']})" if item.get("note") else ""
                print(f"  order status: {status}{note}")
                if status == "AWAITING_APPROVAL":
                    output = json.dumps({"approved": approve})
                    done = (await api(APPROVE, {"t": item["approvalToken"], "o": output}))["sendTaskSuccess"]
                    print(f"  {'approved' if approve else 'rejected'} (sendTaskSuccess {output} -> {done})")
            elif op_id == execution_sub:
                notice = payload["data"]["onExecutionStatusChange"]
                if not notice["executionArn"].endswith(f":{execution_name}"):
                    continue  # another order's execution
                arn, execution_status = notice["executionArn"], notice["status"]
                print(f"  execution {execution_name}: {execution_status}")
            if execution_status not in (None, "RUNNING") and status in FINAL_ORDER:
                break
            if execution_status not in (None, "RUNNING") and execution_status != "SUCCEEDED":
                break  # failed before it wrote a final order status
        assert arn is not None
        print()
        print(format_history(await history(api, arn)))
        print()
        described = (await api(DESCRIBE, {"a": arn}))["describeExecution"]
        if described["status"] != "SUCCEEDED" or status != expected:
            raise Failed(
                f"execution {described['status']} ({described.get('error')}: {described.get('cause')}), "
                f"order {status}; expected SUCCEEDED and {expected}"
            )
        print(f"order {placed['id']} {status}; execution SUCCEEDED")


async def history(api: Api, arn: str) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    token: str | None = None
    while True:
        page = (await api(HISTORY, {"a": arn, "n": token}))["getExecutionHistory"]
        events += page["events"]
        token = page["nextToken"]
        if not token:
            return events


def format_history(events: list[dict[str, Any]]) -> str:
    """The history as a table: id, previous id, seconds since start, type, what it is about."""
    start = _when(events[0]["timestamp"]) if events else None
    rows = [("id", "prev", "t+s", "type", "detail")]
    for e in events:
        rows.append(
            (
                str(e["id"]),
                str(e["previousEventId"]),
                f"{(_when(e['timestamp']) - start).total_seconds():.3f}" if start else "",
                e["type"],
                _detail(json.loads(e["details"]) if e["details"] else {}),
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = []
    for i, r in enumerate(rows):
        lines.append(f"{r[0]:>{widths[0]}}  {r[1]:>{widths[1]}}  {r[2]:>{widths[2]}}  {r[3]:<{widths[3]}}  {r[4]}".rstrip())
        if i == 0:
            lines.append("  ".join("-" * w for w in widths) + "  ------")
    return "\n".join(lines)


def _when(timestamp: str) -> datetime:
    return datetime.fromisoformat(timestamp.replace("Z", "+00:00"))


def _detail(details: dict[str, Any]) -> str:
    if "name" in details:
        return str(details["name"])
    if "error" in details:
        return f"{details['error']}: {details.get('cause', '')}"[:70]
    resource = details.get("resource")
    if resource:
        return str(resource).rsplit(":", 1)[-1] if str(resource).startswith("arn:aws:lambda") else str(resource)
    return ""


@contextlib.asynccontextmanager
async def own_server() -> AsyncIterator[tuple[str, str]]:
    """Serve this folder's project in-process on a free port with a throwaway data dir."""
    from server.app import running
    from server.settings import load_settings

    with tempfile.TemporaryDirectory(prefix="syncline-orders-") as data:
        settings = load_settings(PROJECT, env={}, overrides={"data_dir": data})
        async with running(settings, port=0) as served:
            assert served.syncline.api_key is not None
            print(f"serving {PROJECT.name} at {served.url} (data in {data})")
            yield served.url, served.syncline.api_key


async def main(args: argparse.Namespace) -> int:
    order = {
        "id": str(uuid.uuid4()),
        "customer": args.customer,
        "item": args.item,
        "quantity": args.quantity,
        "amount": args.amount,
    }
    try:
        async with asyncio.timeout(args.timeout):
            if args.url:
                await place_and_approve(args.url, args.api_key, order, not args.reject)
            else:
                async with own_server() as (url, key):
                    await place_and_approve(url, key, order, not args.reject)
    except (Failed, aiohttp.ClientError, TimeoutError) as exc:
        print(f"FAILED: {exc!r}" if isinstance(exc, TimeoutError) else f"FAILED: {exc}", file=sys.stderr)
        return 1
    return 0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--url", help="GraphQL URL of a running server (default: start one in-process)")
    p.add_argument("--api-key", help="API key for --url (da2-...)")
    p.add_argument("--customer", default="ada")
    p.add_argument("--item", default="lamp")
    p.add_argument("--quantity", type=int, default=2)
    p.add_argument("--amount", type=float, default=30.0)
    p.add_argument("--reject", action="store_true", help="reject at the approval step (the workflow refunds and cancels)")
    p.add_argument("--timeout", type=float, default=60.0, help="give up after this many seconds")
    args = p.parse_args(argv)
    if args.url and not args.api_key:
        p.error("--url needs --api-key")
    return args


if __name__ == "__main__":
    sys.exit(asyncio.run(main(parse_args())))
