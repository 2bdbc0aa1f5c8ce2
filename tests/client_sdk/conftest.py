"""A real Syncline server (a copy of examples/todo on 127.0.0.1 port 0) and real replica files."""

from __future__ import annotations

import contextlib
import shutil
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any, AsyncIterator

import aiohttp
import pytest

from client_sdk import ApiKey, ModelDef, SyncClient
from server.app import running
from server.settings import load_settings

ROOT = Path(__file__).resolve().parents[2]
API_KEY = "da2-testkeytestkeytestkeytestke"
TODO = ModelDef.of(
    "Todo",
    {"title": "String!", "done": "Boolean", "priority": "Priority", "tags": "[String]", "due": "AWSDate", "notes": "AWSJSON"},
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def make_project(tmp: Path, *, conflict: str = "AUTOMERGE", sync: str = "") -> Path:
    project = tmp / "todo"
    shutil.copytree(ROOT / "examples" / "todo", project, ignore=shutil.ignore_patterns(".syncline", "__pycache__"))
    toml = (project / "syncline.toml").read_text().replace('conflict = "AUTOMERGE"', f'conflict = "{conflict}"')
    (project / "syncline.toml").write_text(toml + ("\n[sync]\n" + sync + "\n" if sync else ""))
    return project


@dataclass
class Server:
    """A server on a fixed port that tests can stop and start again (same data directory)."""

    project: Path
    port: int
    _cm: Any = None
    running: Any = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/graphql"

    async def start(self) -> None:
        settings = load_settings(self.project, env={"SYNCLINE_API_KEY": API_KEY})
        self._cm = running(settings, host="127.0.0.1", port=self.port)
        self.running = await self._cm.__aenter__()

    async def stop(self) -> None:
        if self._cm is not None:
            cm, self._cm = self._cm, None
            await cm.__aexit__(None, None, None)

    async def gql(self, query: str, variables: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
        async with aiohttp.ClientSession() as s:
            async with s.post(
                self.url, json={"query": query, "variables": variables or {}, **extra}, headers={"x-api-key": API_KEY}
            ) as r:
                body: dict[str, Any] = await r.json()
                return body

    async def items(self, *, deleted: bool = False) -> dict[str, dict[str, Any]]:
        """Every Todo on the server by id (tombstones too when `deleted`)."""
        out: dict[str, dict[str, Any]] = {}
        token = None
        while True:
            body = await self.gql(
                "query($t: String) { syncTodos(lastSync: 0, limit: 200, nextToken: $t) { items { id title done "
                "priority tags due notes _version _deleted _lastChangedAt } nextToken } }",
                {"t": token},
            )
            assert "errors" not in body, body
            conn = body["data"]["syncTodos"]
            for it in conn["items"]:
                if deleted or not it["_deleted"]:
                    out[it["id"]] = it
            token = conn["nextToken"]
            if not token:
                return out


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[Server]:
    srv = Server(make_project(tmp_path), free_port())
    await srv.start()
    try:
        yield srv
    finally:
        await srv.stop()


def client(url: str, db: Path, **kw: Any) -> SyncClient:
    """A client tuned for tests: short backoff, fast polling when the WebSocket is off."""
    kw.setdefault("backoff_base", 0.05)
    kw.setdefault("backoff_cap", 0.3)
    kw.setdefault("models", [TODO])
    return SyncClient(url, database=str(db), auth=ApiKey(API_KEY), **kw)


@contextlib.asynccontextmanager
async def opened(url: str, db: Path, **kw: Any) -> AsyncIterator[SyncClient]:
    async with client(url, db, **kw) as c:
        yield c
