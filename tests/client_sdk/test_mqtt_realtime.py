"""realtime="mqtt": remote changes reach the replica through AppSync's MQTT handshake (a
subscription POSTed over HTTP, then paho-mqtt on the server's embedded broker), feeding the same
merge path as the WebSocket; grants are renewed before they expire."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path
from typing import AsyncIterator

import pytest

from client_sdk import LocalError, SigV4, SyncClient

from .conftest import ROOT, Server, client, free_port, make_project


@pytest.fixture
async def mqtt_server(tmp_path: Path) -> AsyncIterator[Server]:
    """The todo project with handshake grants of 2 s, so a test sees them renewed."""
    project = make_project(tmp_path)
    toml = project / "syncline.toml"
    toml.write_text(toml.read_text() + '\n[mqtt]\ngrant_ttl = "2s"\n')
    srv = Server(project, free_port())
    await srv.start()
    try:
        yield srv
    finally:
        await srv.stop()


async def _until_remote(changes: AsyncIterator[object], id: str, op: str) -> None:
    async with asyncio.timeout(15):
        async for ch in changes:
            if ch.source == "remote" and ch.op == op and ch.item.get("id") == id:  # type: ignore[attr-defined]
                return


async def test_mqtt_client_converges_on_remote_changes_without_polling(mqtt_server: Server, tmp_path: Path) -> None:
    url = mqtt_server.url
    async with client(url, tmp_path / "a.db", realtime="mqtt", poll_interval=3600) as a, client(url, tmp_path / "b.db") as b:
        await asyncio.wait_for(a.sync(), 20)
        await asyncio.wait_for(b.sync(), 20)
        async with a.observe() as changes:
            made = await b.model("Todo").save({"title": "from b"})
            await _until_remote(changes, made["id"], "create")
            # Past the 2 s grant: only a renewed grant keeps the broker subscription alive.
            await asyncio.sleep(4.5)
            await b.model("Todo").update(made["id"], {"done": True})
            await _until_remote(changes, made["id"], "update")
            await b.model("Todo").delete(made["id"])
            async with asyncio.timeout(15):
                while await a.model("Todo").get(made["id"]) is not None:
                    await asyncio.sleep(0.05)
        assert a.realtime_events["mqtt"] >= 3 and a.realtime_events["websocket"] == 0
        assert b.realtime_events["websocket"] >= 3 and b.realtime_events["mqtt"] == 0
        # a's own writes converge on b too (the outbox is transport-independent).
        mine = await a.model("Todo").save({"title": "from a"})
        async with b.observe() as changes:
            if await b.model("Todo").get(mine["id"]) is None:
                await _until_remote(changes, mine["id"], "create")


async def test_mqtt_refuses_sigv4_and_rejects_unknown_transports(tmp_path: Path) -> None:
    with pytest.raises(LocalError, match="SigV4"):
        SyncClient("http://127.0.0.1:9/graphql", database=str(tmp_path / "a.db"), auth=SigV4("AKID", "s"), realtime="mqtt")
    with pytest.raises(LocalError, match="realtime="):
        SyncClient("http://127.0.0.1:9/graphql", database=str(tmp_path / "a.db"), realtime="sse")  # type: ignore[arg-type]


def test_missing_paho_is_a_clear_error(tmp_path: Path) -> None:
    """Without paho-mqtt installed (hidden from this interpreter), asking for MQTT names the extra."""
    code = (
        "import sys; sys.modules['paho'] = None\n"
        "from client_sdk import SyncClient, LocalError\n"
        f"SyncClient('http://127.0.0.1:9/graphql', database={str(tmp_path / 'a.db')!r})\n"
        "try:\n"
        f"    SyncClient('http://127.0.0.1:9/graphql', database={str(tmp_path / 'a.db')!r}, realtime='mqtt')\n"
        "except LocalError as exc:\n"
        "    print(exc)\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert r.returncode == 0, r.stderr
    assert "pip install 'syncline[mqtt]'" in r.stdout, r.stdout


async def test_mqtt_client_resubscribes_after_a_server_restart(mqtt_server: Server, tmp_path: Path) -> None:
    async with client(mqtt_server.url, tmp_path / "a.db", realtime="mqtt", poll_interval=3600) as a:
        await asyncio.wait_for(a.sync(), 20)
        await mqtt_server.stop()
        async with asyncio.timeout(10), a.status() as statuses:
            async for st in statuses:
                if st.state == "offline":
                    break
        await mqtt_server.start()
        async with asyncio.timeout(15), a.status() as statuses:
            async for st in statuses:
                if st.state == "ready":
                    break
        before = a.realtime_events["mqtt"]
        async with a.observe() as changes:
            await mqtt_server.gql('mutation { createTodo(input: {id: "after", title: "after restart"}) { id } }')
            await _until_remote(changes, "after", "create")
        assert a.realtime_events["mqtt"] > before
