"""Real servers on 127.0.0.1 port 0 serving a copy of a project, and a small HTTP client."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, AsyncIterator

import aiohttp
import pytest

from server.app import Running, running
from server.settings import load_settings

ROOT = Path(__file__).resolve().parents[2]
API_KEY = "da2-testkeytestkeytestkeytestke"


def copy_project(name: str, dest: Path) -> Path:
    target = dest / name
    shutil.copytree(ROOT / "examples" / name, target, ignore=shutil.ignore_patterns(".syncline", "__pycache__"))
    return target


def project_with_workflows(tmp_path: Path, machines: dict[str, Any], resolvers: str = "") -> Path:
    """The todo example plus `workflows/NAME.asl.json` files and extra resolver code."""
    project = copy_project("todo", tmp_path)
    (project / "workflows").mkdir()
    for name, definition in machines.items():
        (project / "workflows" / f"{name}.asl.json").write_text(json.dumps(definition))
    with (project / "resolvers.py").open("a") as f:
        f.write(resolvers)
    return project


@dataclass
class Client:
    session: aiohttp.ClientSession
    url: str
    key: str | None = API_KEY

    async def raw(self, payload: Any, *, headers: dict[str, str] | None = None) -> tuple[int, dict[str, Any]]:
        h = {"x-api-key": self.key} if self.key else {}
        h.update(headers or {})
        async with self.session.post(self.url, json=payload, headers=h) as resp:
            return resp.status, await resp.json(content_type=None)

    async def gql(self, query: str, variables: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
        payload: dict[str, Any] = {"query": query, "variables": variables or {}}
        payload.update(extra)
        status, body = await self.raw(payload)
        assert status == 200, (status, body)
        return body

    async def ok(self, query: str, variables: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
        body = await self.gql(query, variables, **extra)
        assert "errors" not in body, body["errors"]
        data: dict[str, Any] = body["data"]
        return data


@dataclass
class Served:
    running: Running
    client: Client
    project: Path


async def serve_project(project: Path, **server: Any) -> AsyncIterator[Served]:
    settings = load_settings(project, env={"SYNCLINE_API_KEY": API_KEY}, overrides=server)
    async with running(settings, port=0) as srv, aiohttp.ClientSession() as session:
        yield Served(running=srv, client=Client(session, srv.url), project=project)


@pytest.fixture
async def todo(tmp_path: Path) -> AsyncIterator[Served]:
    project = copy_project("todo", tmp_path)
    async for served in serve_project(project):
        yield served
