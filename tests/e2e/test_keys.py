"""API keys made with `syncline keys` work against a running server until revoked."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from .conftest import ROOT, Served


async def cli(*args: str) -> str:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "server.cli", *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, cwd=ROOT,
    )
    out, err = await proc.communicate()
    assert proc.returncode == 0, err.decode()
    return out.decode()


async def status(todo: Served, key: str) -> int:
    async with todo.client.session.post(todo.running.url, json={"query": "{ hello }"}, headers={"x-api-key": key}) as r:
        return r.status


async def test_created_key_works_until_revoked(todo: Served) -> None:
    project = str(todo.project)
    out = await cli("keys", "--project", project, "create", "--description", "phone app", "--expires", "30d")
    key, info = out.splitlines()[0], out.splitlines()[1]
    key_id = info.split()[1].rstrip(",")
    assert key.startswith("da2-")
    assert await status(todo, key) == 200
    listing = await cli("keys", "--project", project, "list")
    assert key_id in listing and "phone app" in listing and key not in listing
    await cli("keys", "--project", project, "revoke", key_id)
    assert await status(todo, key) == 401
    assert await status(todo, todo.client.key or "") == 200  # the configured key is untouched
    assert not any(key in p.read_text(errors="ignore") for p in Path(project, ".syncline").iterdir() if p.is_file())
