"""examples/mqtt_dashboard/dashboard.py as a user runs it: a subprocess (real paho-mqtt) against a
real server serving examples/todo, printing the model events and GraphQL subscription payloads
of the mutations this test makes."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any, AsyncIterator

import pytest

from tests.e2e.conftest import API_KEY, ROOT, Served, copy_project, serve_project

DASHBOARD = ROOT / "examples" / "mqtt_dashboard" / "dashboard.py"
CREATE = "mutation($i: CreateTodoInput!) { createTodo(input: $i) { id title _version } }"
UPDATE = "mutation($i: UpdateTodoInput!) { updateTodo(input: $i) { id _version } }"
DELETE = "mutation($i: DeleteTodoInput!) { deleteTodo(input: $i) { id _version } }"


class Dashboard:
    """The script in a subprocess; its stdout lines are read as they come."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.lines: list[str] = []

    @classmethod
    async def start(cls, *args: str) -> Dashboard:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, str(DASHBOARD), *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
        )
        return cls(proc)

    async def line(self) -> str:
        assert self.proc.stdout is not None
        raw = await asyncio.wait_for(self.proc.stdout.readline(), 30)
        line = raw.decode().rstrip("\n")
        self.lines.append(line)
        return line

    async def until(self, prefix: str) -> str:
        while not (line := await self.line()).startswith(prefix):
            assert line, f"the dashboard ended before printing {prefix!r}: {await self.finish()}"
        return line

    async def finish(self) -> tuple[int, list[str], str]:
        """Wait for it to exit; (status, every stdout line, stderr)."""
        out, err = await asyncio.wait_for(self.proc.communicate(), 30)
        self.lines += out.decode().splitlines()
        return self.proc.returncode or 0, self.lines, err.decode()

    def kill(self) -> None:
        if self.proc.returncode is None:
            self.proc.kill()


def events(lines: list[str]) -> list[tuple[str, str, Any]]:
    """("model", "Todo/create", item) and ("graphql", "onCreateTodo", data) from printed lines."""
    out = []
    for line in lines:
        kind, name, rest = (line.split(" ", 2) + ["", ""])[:3]
        if kind in ("model", "graphql"):
            out.append((kind, name, json.loads(rest)))
    return out


@pytest.fixture
async def todo(tmp_path: Path) -> AsyncIterator[Served]:
    async for served in serve_project(copy_project("todo", tmp_path)):
        yield served


async def run_dashboard_through_mutations(served: Served, *extra: str, field: str = "onCreateTodo") -> tuple[list[str], str]:
    dash = await Dashboard.start("--url", served.running.url, "--api-key", API_KEY, "--count", "4", *extra)
    try:
        await dash.until("subscribed: ")
        todo = (await served.client.ok(CREATE, {"i": {"title": "milk"}}))["createTodo"]
        updated = (await served.client.ok(UPDATE, {"i": {"id": todo["id"], "done": True, "_version": 1}}))["updateTodo"]
        await served.client.ok(DELETE, {"i": {"id": todo["id"], "_version": updated["_version"]}})
        status, lines, err = await dash.finish()
    finally:
        dash.kill()
    assert status == 0, (lines, err)
    got = events(lines)
    # One mutation reaches both its model topic and the handshake topic (in either order).
    assert sorted((k, n) for k, n, _ in got) == [
        ("graphql", field),
        ("model", "Todo/create"),
        ("model", "Todo/delete"),
        ("model", "Todo/update"),
    ]
    by_name = {n: v for _, n, v in got}
    if field == "onCreateTodo":  # the default subscription
        assert by_name[field] == {"id": todo["id"], "title": "milk", "done": None}
    else:
        assert by_name[field] == {"id": todo["id"], "_deleted": True}
    assert (by_name["Todo/create"]["id"], by_name["Todo/create"]["title"], by_name["Todo/create"]["_version"]) == (todo["id"], "milk", 1)
    assert (by_name["Todo/update"]["done"], by_name["Todo/update"]["_version"]) == (True, 2)
    assert (by_name["Todo/delete"]["_deleted"], by_name["Todo/delete"]["_version"]) == (True, 3)
    return lines, err


async def test_dashboard_prints_model_events_and_subscription_payloads(todo: Served) -> None:
    lines, _ = await run_dashboard_through_mutations(todo)
    connected = next(line for line in lines if line.startswith("connected to "))
    assert f"ws://127.0.0.1:{todo.running.port}/mqtt as syncline-" in connected
    subscribed = next(line for line in lines if line.startswith("subscribed: "))
    assert "models/Todo/#" in subscribed and "(onCreateTodo)" in subscribed


async def test_dashboard_over_tcp_when_the_server_listens(tmp_path: Path) -> None:
    project = copy_project("todo", tmp_path)
    with (project / "syncline.toml").open("a", encoding="utf-8") as f:
        f.write("\n[mqtt]\ntcp_port = 0\n")
    async for served in serve_project(project):
        svc = served.running.syncline.mqtt
        assert svc is not None and svc.tcp_port
        lines, _ = await run_dashboard_through_mutations(
            served,
            "--tcp",
            f"127.0.0.1:{svc.tcp_port}",
            "--subscription",
            "subscription { onDeleteTodo { id _deleted } }",
            field="onDeleteTodo",
        )
        assert any(line.startswith(f"connected to mqtt://127.0.0.1:{svc.tcp_port} ") for line in lines)


async def test_dashboard_exits_1_when_the_acl_refuses_a_topic(todo: Served) -> None:
    dash = await Dashboard.start("--url", todo.running.url, "--api-key", API_KEY, "--model", "Nope", "--count", "1")
    try:
        status, lines, err = await dash.finish()
    finally:
        dash.kill()
    assert status == 1, (lines, err)
    assert "SUBSCRIBE refused by the topic ACL: models/Nope/#" in err


async def test_dashboard_exits_1_on_a_wrong_api_key(todo: Served) -> None:
    dash = await Dashboard.start("--url", todo.running.url, "--api-key", "da2-wrongwrongwrongwrongwrongwr", "--count", "1")
    try:
        status, lines, err = await dash.finish()
    finally:
        dash.kill()
    assert status == 1 and "handshake refused" in err, (lines, err)


async def test_dashboard_renews_its_grant_before_it_expires(tmp_path: Path) -> None:
    project = copy_project("todo", tmp_path)
    with (project / "syncline.toml").open("a", encoding="utf-8") as f:
        f.write('\n[mqtt]\ngrant_ttl = "2s"\n')
    async for served in serve_project(project):
        dash = await Dashboard.start("--url", served.running.url, "--api-key", API_KEY, "--count", "2")
        try:
            await dash.until("subscribed: ")
            first_grant_over = time.monotonic() + 2.5  # the handshake's grant ran out by then
            while time.monotonic() < first_grant_over:
                await dash.until("renewed the subscription grant of syncline-")
            await served.client.ok(CREATE, {"i": {"title": "after the first grant"}})
            status, lines, err = await dash.finish()
        finally:
            dash.kill()
        assert status == 0, (lines, err)
        assert sorted(n for _, n, _ in events(lines)) == ["Todo/create", "onCreateTodo"]
