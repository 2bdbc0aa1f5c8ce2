"""Backup while writers run, restore, export and import — on real stores."""

from __future__ import annotations

import asyncio
import io
import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest

from server.app import running
from server.backup import backup, export_rows, import_rows, restore
from server.errors import BadRequest, ConfigError
from server.settings import load_settings

from .conftest import API_KEY, ROOT, Served, copy_project

CREATE = "mutation($t: String!) { createTodo(input: {title: $t}) { id _lastChangedAt } }"
ALL = "{ syncTodos(limit: 1000) { items { id title _version _lastChangedAt } startedAt } }"


async def test_backup_while_writing_restores_a_consistent_store(todo: Served, tmp_path: Path) -> None:
    acked: set[str] = set()
    stop = asyncio.Event()

    async def writer(n: int) -> None:
        i = 0
        while not stop.is_set():
            data = await todo.client.ok(CREATE, {"t": f"w{n}-{i}"})
            acked.add(data["createTodo"]["id"])
            i += 1

    writers = [asyncio.create_task(writer(n)) for n in range(4)]
    while len(acked) < 50:
        await asyncio.sleep(0.01)
    snapshot = await asyncio.to_thread(backup, todo.running.syncline.settings.data_dir, tmp_path / "b.db", pages_per_step=1)
    acked_at_backup_end = set(acked)
    while len(acked) < len(acked_at_backup_end) + 20:
        await asyncio.sleep(0.01)
    stop.set()
    await asyncio.gather(*writers)

    project = copy_project("todo", tmp_path / "restored")
    restore(snapshot, project / ".syncline")
    async for served in _serve(project):
        body = await served.ok(ALL)
        items = body["syncTodos"]["items"]
        ids = {i["id"] for i in items}
        assert ids and ids <= acked  # only acknowledged writes, none invented
        assert len(ids) >= 50
        assert {i["_version"] for i in items} == {1}
        newest = max(i["_lastChangedAt"] for i in items)
        assert body["syncTodos"]["startedAt"] >= newest
        # the restored store keeps its stamp: a new write sorts after every restored one
        new = (await served.ok(CREATE, {"t": "after"}))["createTodo"]
        assert new["_lastChangedAt"] > newest


async def _serve(project: Path):  # type: ignore[no-untyped-def]
    from .conftest import Client

    settings = load_settings(project, env={"SYNCLINE_API_KEY": API_KEY})
    async with running(settings, port=0) as srv, aiohttp.ClientSession() as session:
        yield Client(session, srv.url)


async def test_restore_refuses_a_data_dir_that_has_a_store(todo: Served, tmp_path: Path) -> None:
    await todo.client.ok(CREATE, {"t": "x"})
    data_dir = todo.running.syncline.settings.data_dir
    snap = backup(data_dir, tmp_path / "b.db")
    with pytest.raises(ConfigError, match="already holds a store"):
        restore(snap, data_dir)
    with pytest.raises(ConfigError, match="exists"):
        backup(data_dir, snap)
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"not a database at all" * 100)
    with pytest.raises((ConfigError, Exception)):
        restore(junk, tmp_path / "empty")
    assert not (tmp_path / "empty" / "syncline.db").exists()


async def test_export_then_import_into_another_project(todo: Served, tmp_path: Path) -> None:
    for t in ("a", "b", "c"):
        await todo.client.ok(CREATE, {"t": t})
    out = io.StringIO()
    assert export_rows(todo.running.syncline.settings.data_dir, out, model="Todo") == 3
    lines = out.getvalue()

    project = copy_project("todo", tmp_path / "other")
    settings = load_settings(project, env={"SYNCLINE_API_KEY": API_KEY})
    from server.app import Syncline

    app = await Syncline.create(settings)
    try:
        assert await import_rows(app.store, io.StringIO(lines)) == {"created": 3, "updated": 0}
        assert await import_rows(app.store, io.StringIO(lines)) == {"created": 0, "updated": 3}
        with pytest.raises(BadRequest, match="line 1"):
            await import_rows(app.store, io.StringIO("{broken\n"))
    finally:
        await app.store.close()
    async for served in _serve(project):
        titles = sorted(i["title"] for i in (await served.ok(ALL))["syncTodos"]["items"])
        assert titles == ["a", "b", "c"]


def test_backup_cli(tmp_path: Path) -> None:
    project = copy_project("todo", tmp_path)
    env = {"SYNCLINE_API_KEY": API_KEY, "PYTHONPATH": str(ROOT)}

    async def seed() -> None:
        from server.app import Syncline
        from server.auth.identity import SYSTEM

        app = await Syncline.create(load_settings(project, env=env))
        await app.store.create("Todo", {"title": "seed"}, identity=SYSTEM)
        await app.store.close()

    asyncio.run(seed())
    r = subprocess.run(
        [sys.executable, "-m", "server.cli", "backup", str(tmp_path / "copy.db"), "--project", str(project)],
        capture_output=True, text=True, cwd=ROOT, env={**env, "PATH": "/usr/bin:/bin"},
    )
    assert r.returncode == 0, r.stderr
    assert "backup: 100%" in r.stderr and (tmp_path / "copy.db").exists()
    r = subprocess.run(
        [sys.executable, "-m", "server.cli", "export", "--project", str(project)],
        capture_output=True, text=True, cwd=ROOT, env={**env, "PATH": "/usr/bin:/bin"},
    )
    assert r.returncode == 0 and '"title": "seed"' in r.stdout
