"""Two clients edit the same rows offline and reconnect: both converge to the server's state,
under each of the server's conflict strategies (per model, syncline.toml)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from client_sdk import DISCARD, RETRY, SyncClient

from .conftest import Server, free_port, make_project, opened

FIELDS = ("title", "done", "priority", "tags", "_version")


async def converge(srv: Server, *clients: SyncClient) -> dict[str, dict[str, Any]]:
    for c in (*clients, *clients):
        await asyncio.wait_for(c.sync(), 20)
    server = await srv.items()
    for c in clients:
        local = {r["id"]: r for r in await c.model("Todo").query()}
        assert set(local) == set(server)
        for id, item in server.items():
            assert {k: local[id][k] for k in FIELDS} == {k: item[k] for k in FIELDS}
        assert await c.pending() == 0
    return server


@pytest.mark.parametrize(
    ("strategy", "handler", "expected_title", "expected_tags"),
    [
        ("AUTOMERGE", None, "from A", ["a", "b"]),  # server keeps its scalar, lists concatenate
        ("LAST_WRITER_WINS", None, "from B", ["b"]),  # the later write wins whole fields
        ("OPTIMISTIC_CONCURRENCY", "merge", "from A + from B", ["a", "b"]),
        ("OPTIMISTIC_CONCURRENCY", "discard", "from A", ["a"]),
        ("OPTIMISTIC_CONCURRENCY", "retry", "from B", ["b"]),
    ],
)
async def test_two_clients_converge(
    tmp_path: Path, strategy: str, handler: str | None, expected_title: str, expected_tags: list[str]
) -> None:
    calls: list[tuple[Any, Any, int]] = []

    def resolve(local: Any, remote: Any, attempt: int) -> Any:
        calls.append((local, remote, attempt))
        if handler == "merge":
            return {
                **remote,
                "title": f"{remote['title']} + {local['title']}",
                "tags": remote["tags"] + [t for t in local["tags"] if t not in remote["tags"]],
            }
        return DISCARD if handler == "discard" else RETRY

    srv = Server(make_project(tmp_path, conflict=strategy), free_port())
    await srv.start()
    b_kw = {"conflict_handler": resolve} if handler else {}
    try:
        async with opened(srv.url, tmp_path / "a.db") as a:
            row = await a.model("Todo").save({"title": "base", "tags": []})
            await asyncio.wait_for(a.sync(), 20)
            async with opened(srv.url, tmp_path / "b.db", **b_kw) as b:
                await asyncio.wait_for(b.sync(), 20)
                assert (await b.model("Todo").get(row["id"])) is not None
                await srv.stop()
                await a.model("Todo").update(row["id"], {"title": "from A", "tags": ["a"]})
                await b.model("Todo").update(row["id"], {"title": "from B", "tags": ["b"]})
            # B stays offline (closed) until A's edit has reached the server: B's is the later one.
            await srv.start()
            await asyncio.wait_for(a.sync(), 20)
            async with opened(srv.url, tmp_path / "b.db", **b_kw) as b:
                await asyncio.wait_for(b.sync(), 20)
                server = await converge(srv, a, b)
                assert server[row["id"]]["title"] == expected_title
                assert server[row["id"]]["tags"] == expected_tags
                assert await a.dead_letters() == [] and await b.dead_letters() == []
                log = await b.conflicts()
            if handler:
                assert calls and calls[0][2] == 1
                assert calls[0][0]["title"] == "from B" and calls[0][1]["title"] == "from A"
                # The conflict log says what was decided, and for a merge what was sent again.
                assert log and log[0].record_id == row["id"] and log[0].attempt == 1
                assert log[0].remote["title"] == "from A" and (log[0].local or {})["title"] == "from B"
                decision = {"merge": "resend", "discard": "discard", "retry": "resend"}[handler]
                assert log[0].decision == decision
                if handler == "merge":
                    assert (log[0].merged or {})["title"] == "from A + from B"
            else:
                assert calls == [] and log == []
    finally:
        await srv.stop()


async def test_a_handler_that_never_resolves_is_bounded(tmp_path: Path) -> None:
    """A handler that keeps losing (the row changes under it every time) ends in a dead letter,
    not an endless retry loop: attempts are bounded."""
    srv = Server(make_project(tmp_path, conflict="OPTIMISTIC_CONCURRENCY"), free_port())
    await srv.start()
    attempts: list[int] = []

    async def stale(local: Any, remote: Any, attempt: int) -> Any:
        attempts.append(attempt)
        # Someone else writes again before our resend lands.
        body = await srv.gql(
            "mutation($i: UpdateTodoInput!) { updateTodo(input: $i) { _version } }",
            {"i": {"id": remote["id"], "title": f"other {attempt}", "_version": remote["_version"]}},
        )
        assert "errors" not in body, body
        return {**local}

    try:
        async with opened(srv.url, tmp_path / "a.db") as a:
            row = await a.model("Todo").save({"title": "base"})
            await asyncio.wait_for(a.sync(), 20)
        # The other write lands while the client is away, and the client's own edit is made
        # offline over version 1: had the client heard of version 2 first (a real-time event
        # racing the edit), there would be no conflict at all.
        body = await srv.gql(
            "mutation($i: UpdateTodoInput!) { updateTodo(input: $i) { _version } }",
            {"i": {"id": row["id"], "title": "other 0", "_version": 1}},
        )
        assert body["data"]["updateTodo"]["_version"] == 2, body
        async with opened(f"http://127.0.0.1:{free_port()}/graphql", tmp_path / "a.db") as offline:
            await offline.model("Todo").update(row["id"], {"title": "mine"})
            assert (await offline.model("Todo").get(row["id"]) or {}).get("_version") == 1
        async with opened(srv.url, tmp_path / "a.db", conflict_handler=stale, max_conflict_attempts=3) as a:
            await asyncio.wait_for(a.sync(), 20)
            assert attempts == [1, 2, 3]
            assert [c.attempt for c in await a.conflicts("Todo")] == [1, 2, 3]
            assert (await a.conflicts())[-1].decision == "dead"  # the last one gave up
            dead = await a.dead_letters()
            assert len(dead) == 1 and dead[0].error_type == "ConflictUnhandled" and dead[0].record_id == row["id"]
            # The replica went back to the server's truth for that row.
            await asyncio.wait_for(a.sync(), 20)
            local = await a.model("Todo").get(row["id"])
            server = (await srv.items())[row["id"]]
            assert local is not None and local["title"] == server["title"] and local["_version"] == server["_version"]
    finally:
        await srv.stop()
