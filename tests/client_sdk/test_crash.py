"""The client process is killed with SIGKILL in the middle of draining its outbox; after a restart
the outbox resumes with nothing lost and nothing applied twice (the server's (clientId, seq) ledger
answers a resent batch with its recorded outcome)."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

from .conftest import API_KEY, ROOT, Server, free_port, make_project, opened

N_OLD = 150
N_NEW = 150

DRAINER = textwrap.dedent(
    """
    import asyncio, sys
    from client_sdk import ApiKey, ModelDef, SyncClient
    TODO = ModelDef.of("Todo", {"title": "String!", "done": "Boolean", "priority": "Priority",
                                "tags": "[String]", "due": "AWSDate", "notes": "AWSJSON"})
    async def main():
        async with SyncClient(sys.argv[1], database=sys.argv[2], auth=ApiKey(sys.argv[3]), models=[TODO],
                              batch_size=int(sys.argv[4]), realtime=False, introspect=False,
                              backoff_base=0.05, backoff_cap=0.3):
            print("open", flush=True)
            await asyncio.sleep(3600)
    asyncio.run(main())
    """
)


def outbox_size(db: Path) -> int:
    with sqlite3.connect(db) as conn:
        return int(conn.execute("SELECT count(*) FROM _outbox").fetchone()[0])


async def test_sigkill_mid_drain_loses_nothing_and_duplicates_nothing(tmp_path: Path) -> None:
    srv = Server(make_project(tmp_path), free_port())
    db = tmp_path / "app.db"
    script = tmp_path / "drainer.py"
    script.write_text(DRAINER)
    await srv.start()
    try:
        async with opened(srv.url, db) as c:
            todos = c.model("Todo")
            old = [(await todos.save({"title": f"old {i}"}))["id"] for i in range(N_OLD)]
            await asyncio.wait_for(c.sync(), 30)
            await srv.stop()
            for id in old:  # three edits each, coalesced into one update per row
                for k in range(3):
                    await todos.update(id, {"title": f"old {id} edit {k}", "done": k % 2 == 0})
            new = [(await todos.save({"title": f"new {i}", "tags": [str(i)]}))["id"] for i in range(N_NEW)]
            assert await c.pending() == N_OLD + N_NEW
        await srv.start()

        proc = subprocess.Popen(
            [sys.executable, str(script), srv.url, str(db), API_KEY, "2"],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        try:
            async with asyncio.timeout(60):
                while True:
                    items = await srv.items()
                    applied = sum(1 for i in items.values() if i["_version"] == 2) + len(set(new) & set(items))
                    if applied >= 40:
                        break
                    assert proc.poll() is None, proc.communicate()
                    await asyncio.sleep(0.01)
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
        left = outbox_size(db)
        assert 0 < left < N_OLD + N_NEW, "the kill should land in the middle of the drain"

        async with opened(srv.url, db, realtime=False) as c:
            await asyncio.wait_for(c.sync(), 60)
            assert await c.pending() == 0
            assert await c.dead_letters() == []  # a duplicate create would be refused and land here
            local = {r["id"]: r for r in await c.model("Todo").query()}
        server = await srv.items()
        assert set(server) == set(old) | set(new)
        for id in old:
            # Exactly one update applied: version 2, the last edit's fields.
            assert server[id]["_version"] == 2, server[id]
            assert server[id]["title"] == f"old {id} edit 2" and server[id]["done"] is True
        for i, id in enumerate(new):
            assert server[id]["_version"] == 1 and server[id]["tags"] == [str(i)]
        assert {id: (r["title"], r["_version"]) for id, r in local.items()} == {
            id: (r["title"], r["_version"]) for id, r in server.items()
        }
        conflicts, _ = await srv.running.syncline.store.conflicts(model="Todo")
        assert conflicts == []  # a replayed update would have met version 2 and conflicted
    finally:
        await srv.stop()


async def test_a_batch_applied_but_not_acknowledged_is_resent_as_is(tmp_path: Path) -> None:
    """Deterministic version of the crash: the batch reached the server and committed, the
    process died before recording the answer. The restarted client resends the same frozen
    batch under the same (clientId, seq); the server replays and applies nothing."""
    import aiohttp

    from client_sdk._client_http import HttpTransport
    from client_sdk._documents import WireMutation, batch_document
    from client_sdk import ApiKey

    srv = Server(make_project(tmp_path), free_port())
    db = tmp_path / "app.db"
    async with opened(srv.url, db) as c:
        row = await c.model("Todo").save({"title": "once", "tags": ["a"]})
        other = await c.model("Todo").save({"title": "twice?"})
        replica = c._replica
        head = await replica.head(10)
        seq, batch = await replica.assign_wire([e.entry for e in head])
        client_id = c.client_id
        models = replica.models
    await srv.start()
    try:
        async with aiohttp.ClientSession() as session:  # the send whose answer was lost
            http = HttpTransport(session, srv.url, ApiKey(API_KEY), timeout=10)
            doc, variables = batch_document(
                [WireMutation(key=e.wire_key, model=models[e.model], op=e.op, input=e.wire_input or {}) for e in batch]
            )
            body = await http.execute(doc, variables, extensions={"mutationId": {"clientId": client_id, "seq": seq}})
            assert "errors" not in body, body
        async with opened(srv.url, db, realtime=False) as c:
            await asyncio.wait_for(c.sync(), 20)
            assert await c.pending() == 0 and await c.dead_letters() == []
            assert (await c.model("Todo").get(row["id"]))["_version"] == 1
        server = await srv.items()
        assert set(server) == {row["id"], other["id"]}
        assert all(i["_version"] == 1 for i in server.values())
    finally:
        await srv.stop()
