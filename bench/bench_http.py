"""Model mutations/s and queries/s over HTTP: Syncline beside a bare aiohttp + aiosqlite handler.

Both servers run in their own process pinned to core 0 (one core, as the target says); the
load generator runs in this process pinned to core 1, with the same number of concurrent
keep-alive connections against each. The bare handler does the same work minus GraphQL,
versioning and the ledger: parse a JSON body, insert a row and commit; select a row by id.

The two run side by side and are measured in turn over several rounds (medians reported), so
the load other processes put on the machine weighs on both alike. Besides the rates, the
servers' CPU time per request (all threads) is reported: it moves much less with that load.

    .venv/bin/python bench/bench_http.py [--seconds 5] [--rounds 5] [--concurrency 32]

Targets (issue 2): Syncline ≥ 0.5x the bare handler, and ≥ 2,000 mutations/s.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Awaitable, Callable

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
KEY = "da2-benchbenchbenchbenchbenchb"

BARE_SERVER = r'''
import asyncio, json, sys, uuid
import aiosqlite
from aiohttp import web

async def main(path, port):
    db = await aiosqlite.connect(path)
    await db.execute("PRAGMA journal_mode=WAL")
    await db.execute("PRAGMA synchronous=NORMAL")
    await db.execute("CREATE TABLE IF NOT EXISTS todo (id TEXT PRIMARY KEY, doc TEXT NOT NULL)")
    await db.commit()

    async def mutate(request):
        body = await request.json()
        item = {"id": str(uuid.uuid4()), "title": body["title"], "done": False}
        await db.execute("INSERT INTO todo (id, doc) VALUES (?, ?)", (item["id"], json.dumps(item)))
        await db.commit()
        return web.json_response({"data": {"createTodo": item}})

    async def query(request):
        body = await request.json()
        async with db.execute("SELECT doc FROM todo WHERE id = ?", (body["id"],)) as cur:
            row = await cur.fetchone()
        return web.json_response({"data": {"getTodo": json.loads(row[0]) if row else None}})

    app = web.Application()
    app.router.add_post("/m", mutate)
    app.router.add_post("/q", query)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    print("ready", flush=True)
    await asyncio.Event().wait()

asyncio.run(main(sys.argv[1], int(sys.argv[2])))
'''


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, all its threads (Linux /proc; 0.0 elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pin(core: int) -> list[str]:
    return ["taskset", "-c", str(core)] if shutil.which("taskset") and (os.cpu_count() or 1) > 1 else []


def start(cmd: list[str], ready: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=ROOT)
    assert proc.stdout is not None
    deadline = time.time() + 60
    while time.time() < deadline:
        line = proc.stdout.readline()
        if not line:
            raise RuntimeError(f"{cmd} exited early")
        if re.search(ready, line):
            return proc
    raise RuntimeError(f"{cmd} did not start")


async def load(
    seconds: float,
    concurrency: int,
    call: Callable[[aiohttp.ClientSession, int], Awaitable[None]],
    *,
    server_pid: int | None = None,
    cpu: list[float] | None = None,
) -> float:
    """Run `call` from `concurrency` workers for `seconds`; return completed calls per second.

    With `server_pid` and `cpu`, also appends the server's CPU time per call (µs) to `cpu`:
    unlike the rate, it hardly depends on what else the machine is running.
    """
    done = 0
    stop_at = 0.0
    conn = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=conn) as session:
        for i in range(concurrency):  # warm up connections
            await call(session, i)
        start_t = time.perf_counter()
        start_cpu = cpu_seconds(server_pid) if server_pid is not None else 0.0
        stop_at = start_t + seconds

        async def worker(w: int) -> None:
            nonlocal done
            n = 0
            while time.perf_counter() < stop_at:
                await call(session, w * 1_000_000 + n)
                n += 1
                done += 1

        await asyncio.gather(*(worker(w) for w in range(concurrency)))
        if server_pid is not None and cpu is not None:
            cpu.append((cpu_seconds(server_pid) - start_cpu) / max(1, done) * 1e6)
        return done / (time.perf_counter() - start_t)


Call = Callable[[aiohttp.ClientSession, int], Awaitable[None]]


async def bench(seconds: float, concurrency: int, rounds: int) -> dict[str, float]:
    """Both servers run side by side; every round measures each kind on each server in turn
    (alternating which goes first), and the medians are reported, so a change in the
    machine's load during the run weighs on both sides alike."""
    tmp = Path(tempfile.mkdtemp(prefix="syncline-bench-"))
    procs: list[subprocess.Popen[str]] = []
    try:
        # -- bare aiohttp + aiosqlite ----------------------------------------------------
        port = free_port()
        script = tmp / "bare.py"
        script.write_text(BARE_SERVER)
        bare = start([*pin(0), sys.executable, str(script), str(tmp / "bare.db"), str(port)], "ready")
        procs.append(bare)
        ids: list[str] = []
        base = f"http://127.0.0.1:{port}"

        async def bare_m(s: aiohttp.ClientSession, n: int) -> None:
            async with s.post(base + "/m", json={"title": f"t{n}"}) as r:
                body = await r.json()
                if len(ids) < 1000:
                    ids.append(body["data"]["createTodo"]["id"])

        async def bare_q(s: aiohttp.ClientSession, n: int) -> None:
            async with s.post(base + "/q", json={"id": ids[n % len(ids)]}) as r:
                assert (await r.json())["data"]["getTodo"] is not None

        # -- Syncline on examples/todo -------------------------------------------------------
        project = tmp / "todo"
        shutil.copytree(ROOT / "examples" / "todo", project, ignore=shutil.ignore_patterns(".syncline"))
        port = free_port()
        env = {**os.environ, "SYNCLINE_API_KEY": KEY, "PYTHONPATH": str(ROOT)}
        srv = start(
            [*pin(0), sys.executable, "-m", "server.cli", "--log-level", "WARNING", "serve", str(project), "--port", str(port)],
            "Syncline serving",
            env,
        )
        procs.append(srv)
        sids: list[str] = []
        url = f"http://127.0.0.1:{port}/graphql"
        headers = {"x-api-key": KEY}
        create = "mutation($t: String!) { createTodo(input: {title: $t}) { id title done _version } }"
        get = "query($id: ID!) { getTodo(id: $id) { id title done _version } }"

        async def syn_m(s: aiohttp.ClientSession, n: int) -> None:
            async with s.post(url, json={"query": create, "variables": {"t": f"t{n}"}}, headers=headers) as r:
                body: Any = await r.json()
                if len(sids) < 1000:
                    sids.append(body["data"]["createTodo"]["id"])

        async def syn_q(s: aiohttp.ClientSession, n: int) -> None:
            q = {"query": get, "variables": {"id": sids[n % len(sids)]}}
            async with s.post(url, json=q, headers=headers) as r:
                assert (await r.json())["data"]["getTodo"] is not None

        sides: dict[str, tuple[int, dict[str, Call]]] = {
            "bare": (bare.pid, {"mutations": bare_m, "queries": bare_q}),
            "syncline": (srv.pid, {"mutations": syn_m, "queries": syn_q}),
        }
        rates: dict[str, list[float]] = {f"{side}_{kind}": [] for side in sides for kind in ("mutations", "queries")}
        cpus: dict[str, list[float]] = {key: [] for key in rates}
        for r in range(rounds):
            order = list(sides) if r % 2 == 0 else list(sides)[::-1]
            for kind in ("mutations", "queries"):  # mutations first: queries read their ids
                for side in order:
                    pid, calls = sides[side]
                    key = f"{side}_{kind}"
                    rates[key].append(
                        await load(seconds / rounds, concurrency, calls[kind], server_pid=pid, cpu=cpus[key])
                    )
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
            proc.wait()
        shutil.rmtree(tmp, ignore_errors=True)
    results = {key: statistics.median(values) for key, values in rates.items()}
    results.update({f"{key}_cpu_us": statistics.median(values) for key, values in cpus.items()})
    return results


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=5.0, help="per kind and server, over all rounds")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if pin(1):
        os.sched_setaffinity(0, {1})
    r = asyncio.run(bench(args.seconds, args.concurrency, max(1, args.rounds)))
    if args.json:
        print(json.dumps(r))
        return
    print(f"{'':22}{'Syncline':>12}{'bare aiohttp+aiosqlite':>26}{'ratio':>8}")
    for kind in ("mutations", "queries"):
        s, b = r[f"syncline_{kind}"], r[f"bare_{kind}"]
        print(f"{kind + '/s':22}{s:12,.0f}{b:26,.0f}{s / b:8.2f}")
    for kind, one in (("mutations", "mutation"), ("queries", "query")):
        s, b = r[f"syncline_{kind}_cpu_us"], r[f"bare_{kind}_cpu_us"]
        print(f"{'server CPU µs/' + one:22}{s:12,.0f}{b:26,.0f}{b / s:8.2f}")


if __name__ == "__main__":
    main()
