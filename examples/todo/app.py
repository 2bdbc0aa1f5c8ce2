#!/usr/bin/env python3
"""An offline-first todo list on Syncline's Python client (`client_sdk`).

    python examples/todo/app.py --url URL --api-key KEY --db todo.db COMMAND

    add TITLE [--tag T] [--due YYYY-MM-DD]   edit ID TITLE   done ID   rm ID
    ls            the todos, the outbox (changes not yet on the server) and the sync status
    watch         local and remote changes as they happen, until Ctrl-C
    conflicts     the conflicts the server raised and what this app decided
    dead-letters  changes the server refused [--retry N | --drop N]

Every command works on the local replica (the --db file) first, so it works with the server
down: the change waits in the outbox, and the next run that reaches the server sends it,
exactly once. IDs may be shortened to any unique prefix (`ls` shows 8 characters).

When the server refuses a stale write (`conflict = "OPTIMISTIC_CONCURRENCY"`), `merge_todo`
resolves it: done if either side ticked it, the longer title, the union of the tags. Under
AUTOMERGE (examples/todo's default) the server merges by itself and the handler is not asked.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
from typing import Any, Mapping

from client_sdk import DISCARD, RETRY, ApiKey, Change, LocalError, ModelDef, RecordNotFound, Status, SyncClient

# The Todo type of examples/todo/schema.graphql. Giving it lets the app write before it has
# ever reached the server; once online, the client also reads the server's own definition.
TODO = ModelDef.of(
    "Todo",
    {"title": "String!", "done": "Boolean", "priority": "Priority", "tags": "[String]", "due": "AWSDate", "notes": "AWSJSON"},
)


def merge_todo(local: Mapping[str, Any], remote: Mapping[str, Any]) -> dict[str, Any]:
    """Both sides' intent survives: done wins over not done, the longer title wins (ties: the
    greater one), tags are united. Symmetric, so every replica reaches the same item whichever
    side's write reached the server first."""
    titles = [str(local.get("title") or ""), str(remote.get("title") or "")]
    merged = dict(remote)
    for k in ("priority", "due", "notes"):
        if local.get(k) is not None:
            merged[k] = local[k]
    merged["title"] = max(titles, key=lambda t: (len(t), t))
    merged["done"] = bool(local.get("done")) or bool(remote.get("done"))
    merged["tags"] = sorted(set(local.get("tags") or []) | set(remote.get("tags") or []))
    return merged


def resolve_conflict(local: Mapping[str, Any] | None, remote: Mapping[str, Any], attempt: int, who: str = "") -> Any:
    """The client's conflict handler: called when the server refused one of our writes because
    the todo changed there since we last saw it (`remote` is the server's item)."""
    rid = short(str(remote.get("id", "?")))
    if remote.get("_deleted"):
        print(f"{who}conflict on {rid}: deleted on the server; dropping our change", flush=True)
        return DISCARD
    if local is None:
        print(f"{who}conflict on {rid}: we deleted it, the server changed it; deleting anyway", flush=True)
        return RETRY
    merged = merge_todo(local, remote)
    print(
        f"{who}conflict on {rid} (attempt {attempt}): ours {describe(local)} | server's {describe(remote)}"
        f" -> merged {describe(merged)}",
        flush=True,
    )
    return merged


def short(rid: str) -> str:
    return rid[:8]


def describe(item: Mapping[str, Any]) -> str:
    tags = f" #{' #'.join(item['tags'])}" if item.get("tags") else ""
    return f"[{'x' if item.get('done') else ' '}] {item.get('title')!r}{tags}"


async def reach(client: SyncClient, timeout: float) -> str:
    """One full sync cycle if the server answers; otherwise say why not. Never raises: the
    local write is already safe in the outbox either way."""
    sync = asyncio.ensure_future(client.sync())
    statuses = client.status()

    async def failed() -> Status | None:
        st: Status
        async for st in statuses:
            # A first failed attempt means offline; another process holding the replica's
            # sync lock (e.g. `watch`) means this one only writes: the other sends our change.
            if st.state == "follower" or (st.state == "offline" and st.error):
                return st
        return None

    fail = asyncio.ensure_future(failed())
    try:
        done, _ = await asyncio.wait({sync, fail}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for t in (sync, fail):
            t.cancel()
        await asyncio.gather(sync, fail, return_exceptions=True)
        await statuses.aclose()
    pending = await client.pending()
    if sync in done and not sync.cancelled() and sync.exception() is None:
        return f"sync: ready, {pending} pending"
    st = fail.result() if fail in done else None
    follower = sync in done and not sync.cancelled() and isinstance(sync.exception(), LocalError)
    if follower or (st is not None and st.state == "follower"):
        return f"sync: another process syncs this file; it sends the {pending} pending"
    why = st.error if st is not None else f"no answer within {timeout:g} s"
    return f"sync: offline ({why}); {pending} pending, sent on the next run that reaches the server"


async def find(client: SyncClient, prefix: str, timeout: float) -> str:
    """The full id of the one todo whose id starts with `prefix` (syncing once if unknown)."""
    for attempt in range(2):
        ids = [r["id"] for r in await client.model("Todo").query() if r["id"].startswith(prefix)]
        if len(ids) == 1:
            return str(ids[0])
        if len(ids) > 1:
            raise SystemExit(f"{prefix!r} matches {len(ids)} todos; give more of the id")
        if attempt == 0:
            await reach(client, timeout)
    raise SystemExit(f"no todo {prefix!r} in {client.database}")


async def cmd_ls(client: SyncClient, args: argparse.Namespace) -> None:
    status = await reach(client, args.timeout)
    rows = await client.model("Todo").query(order_by="createdAt")
    for r in rows:
        note = "  (not on the server yet)" if r.get("_version") is None else ""
        print(f"{short(r['id'])}  {describe(r)}{note}")
    print(f"{len(rows)} todo(s); {status}")


async def cmd_watch(client: SyncClient, args: argparse.Namespace) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)

    async def changes() -> None:
        async with client.model("Todo").observe() as stream:
            async for ch in stream:
                assert isinstance(ch, Change)
                print(f"{ch.source} {ch.op} {short(str(ch.item['id']))}  {describe(ch.item)}", flush=True)

    async def statuses() -> None:
        async with client.status() as stream:
            async for st in stream:
                why = f" ({st.error})" if st.error else ""
                print(f"status: {st.state}, {st.pending} pending{why}", flush=True)

    print(f"watching {client.database} (Ctrl-C to stop)", flush=True)
    tasks = [asyncio.ensure_future(changes()), asyncio.ensure_future(statuses())]
    try:
        await stop.wait()
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
    print("stopped", flush=True)


async def cmd_add(client: SyncClient, args: argparse.Namespace) -> None:
    item: dict[str, Any] = {"title": args.title, "done": False}
    if args.tag:
        item["tags"] = args.tag
    if args.due:
        item["due"] = args.due
    row = await client.model("Todo").save(item)
    print(f"added {short(row['id'])}  {describe(row)}")
    print(await reach(client, args.timeout))


async def cmd_change(client: SyncClient, args: argparse.Namespace) -> None:
    todos = client.model("Todo")
    rid = await find(client, args.id, args.timeout)
    if args.command == "rm":
        await todos.delete(rid)
        print(f"removed {short(rid)}")
    else:
        change = {"done": True} if args.command == "done" else {"title": args.title}
        row = await todos.update(rid, change)
        print(f"{'done' if args.command == 'done' else 'edited'} {short(rid)}  {describe(row)}")
    print(await reach(client, args.timeout))


async def cmd_conflicts(client: SyncClient, args: argparse.Namespace) -> None:
    status = await reach(client, args.timeout)
    # The SDK logs every conflict the server raised and what was decided (docs/sync.md).
    rows = await client.conflicts("Todo")
    for c in rows:
        now = await client.model("Todo").get(c.record_id)
        print(
            f"#{c.id} {short(c.record_id)} attempt {c.attempt}: ours {describe(c.local) if c.local else '(deleted)'}"
            f" | server's {describe(c.remote)} -> {c.decision}; now {describe(now) if now else '(deleted)'}"
        )
    print(f"{len(rows)} conflict(s); {status}")


async def cmd_dead_letters(client: SyncClient, args: argparse.Namespace) -> None:
    if args.retry is not None or args.drop is not None:
        try:
            if args.retry is not None:
                await client.retry_dead_letter(args.retry)
                print(f"queued dead letter {args.retry} again")
            else:
                await client.drop_dead_letter(args.drop)
                print(f"dropped dead letter {args.drop}")
        except LocalError as exc:
            raise SystemExit(str(exc)) from None
    status = await reach(client, args.timeout)
    dead = await client.dead_letters()
    for d in dead:
        print(f"#{d.id} {d.op} {short(d.record_id)} {dict(d.payload)}: {d.error_type}: {d.message}")
    print(f"{len(dead)} dead letter(s); {status}")


COMMANDS = {
    "ls": cmd_ls,
    "watch": cmd_watch,
    "add": cmd_add,
    "edit": cmd_change,
    "done": cmd_change,
    "rm": cmd_change,
    "conflicts": cmd_conflicts,
    "dead-letters": cmd_dead_letters,
}


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description="An offline-first todo list on Syncline's client SDK.")
    p.add_argument("--url", default="http://127.0.0.1:4000/graphql", help="the GraphQL endpoint")
    p.add_argument("--api-key", default=os.environ.get("SYNCLINE_API_KEY"), help="default: $SYNCLINE_API_KEY")
    p.add_argument("--db", default="todo.db", help="the local replica (SQLite file)")
    p.add_argument("--timeout", type=float, default=10.0, help="seconds to wait for the server per command")
    sub = p.add_subparsers(dest="command", required=True)
    add = sub.add_parser("add", help="add a todo")
    add.add_argument("title")
    add.add_argument("--tag", action="append", help="a tag (repeatable)")
    add.add_argument("--due", help="a due date, YYYY-MM-DD")
    edit = sub.add_parser("edit", help="change a todo's title")
    edit.add_argument("id")
    edit.add_argument("title")
    sub.add_parser("done", help="tick a todo").add_argument("id")
    sub.add_parser("rm", help="delete a todo").add_argument("id")
    sub.add_parser("ls", help="list todos, pending changes and sync status")
    sub.add_parser("watch", help="print changes as they happen until Ctrl-C")
    sub.add_parser("conflicts", help="list resolved conflicts")
    dead = sub.add_parser("dead-letters", help="list (or retry, or drop) changes the server refused")
    group = dead.add_mutually_exclusive_group()
    group.add_argument("--retry", type=int, metavar="N")
    group.add_argument("--drop", type=int, metavar="N")
    return p


async def run(args: argparse.Namespace) -> None:
    client = SyncClient(
        args.url,
        database=args.db,
        auth=ApiKey(args.api_key) if args.api_key else None,
        models=[TODO],
        conflict_handler=resolve_conflict,
        backoff_cap=5.0,
    )
    async with client:
        await COMMANDS[args.command](client, args)


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        asyncio.run(run(args))
    except RecordNotFound as exc:
        print(exc, file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
