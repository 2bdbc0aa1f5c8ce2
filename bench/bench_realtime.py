"""Subscription fan-out: Syncline vs a bare aiohttp WebSocket broadcast, same payload, same run.

This process serves the todo example (real SQLite store, real HTTP mutations) and, on a second
port, a bare aiohttp WebSocket server that only broadcasts. A separate client process opens N
raw aiohttp WebSocket connections (graphql-transport-ws to Syncline, all subscribed to the same
`onCreateTodo { id title }` document, so one group), then counts deliveries.

    burst   M mutations sent back to back over HTTP; deliveries/s = N*M / (first send → last receipt)
    paced   mutations at a fixed rate (deliveries/s = rate*N); p50/p99 mutation→delivery latency
            (the mutation carries its send time, perf_counter, which on Linux is CLOCK_MONOTONIC and
            so comparable across processes)
    bare    the same payload text written to every socket with `await ws.send_str`, M times
    memory  server RSS growth per subscribed connection

BENCH_PROFILE=1 prints the server's cProfile of the burst to stderr.

    .venv/bin/python bench/bench_realtime.py [--clients 1000 10000] [--burst 20] [--rate-deliveries 1000 10000]
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import os
import pstats
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

API_KEY = "da2-benchbenchbenchbenchbenchbe"
SUBSCRIPTION = "subscription { onCreateTodo { id title } }"
MUTATION = "mutation($t: String!) { createTodo(input: {title: $t}) { id } }"


def raise_fd_limit() -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = hard if hard != resource.RLIM_INFINITY else 1 << 20
    resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    return want


def rss_bytes() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


# --------------------------------------------------------------------------- client process


async def client_main(url: str, n: int, mode: str) -> None:
    raise_fd_limit()
    received = 0
    target = -1
    latencies: list[float] = []
    last = 0.0
    done = asyncio.Event()

    def on_message(data: str) -> None:
        nonlocal received, last
        msg = json.loads(data)
        if msg.get("type") != "next":
            return
        stamp = float(msg["payload"]["data"]["onCreateTodo"]["title"])
        now = time.perf_counter()
        latencies.append(now - stamp)
        received += 1
        last = now
        if received == target:
            done.set()

    sem = asyncio.Semaphore(200)
    conns: list[aiohttp.ClientWebSocketResponse] = []
    connector = aiohttp.TCPConnector(limit=0)
    session = aiohttp.ClientSession(connector=connector)

    async def one(i: int) -> None:
        async with sem:
            if mode == "syncline":
                ws = await session.ws_connect(url, protocols=("graphql-transport-ws",), autoping=True)
                await ws.send_json({"type": "connection_init", "payload": {"x-api-key": API_KEY}})
                ack = await ws.receive_json()
                assert ack["type"] == "connection_ack", ack
                await ws.send_json({"id": "1", "type": "subscribe", "payload": {"query": SUBSCRIPTION}})
                await ws.send_json({"type": "ping"})
                while (await ws.receive_json())["type"] != "pong":
                    pass
            else:
                ws = await session.ws_connect(url)
                await ws.send_str("ready")
                assert (await ws.receive_str()) == "ok"
            conns.append(ws)

    await asyncio.gather(*(one(i) for i in range(n)))

    async def reader(ws: aiohttp.ClientWebSocketResponse) -> None:
        async for msg in ws:
            if msg.type == aiohttp.WSMsgType.TEXT:
                on_message(msg.data)

    readers = [asyncio.create_task(reader(ws)) for ws in conns]
    loop = asyncio.get_running_loop()
    stdin = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(stdin), sys.stdin)
    print("READY", flush=True)
    while line := (await stdin.readline()).decode().strip():
        cmd, _, arg = line.partition(" ")
        if cmd == "EXPECT":
            received, target, latencies = 0, int(arg), []
            done.clear()
            print("ARMED", flush=True)
            await asyncio.wait_for(done.wait(), 600)
            lat = sorted(latencies)
            print(
                json.dumps(
                    {
                        "count": received,
                        "last": last,
                        "p50": lat[len(lat) // 2],
                        "p99": lat[min(len(lat) - 1, int(len(lat) * 0.99))],
                        "max": lat[-1],
                    }
                ),
                flush=True,
            )
        elif cmd == "QUIT":
            break
    for t in readers:
        t.cancel()
    await asyncio.gather(*readers, return_exceptions=True)
    await session.close()
    await asyncio.sleep(0.1)


# --------------------------------------------------------------------------- server side


class ClientProcess:
    def __init__(self, url: str, n: int, mode: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "--client", url, str(n), mode],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    async def line(self) -> str:
        assert self.proc.stdout is not None
        out = await asyncio.to_thread(self.proc.stdout.readline)
        if not out:
            raise RuntimeError(f"client process died (exit {self.proc.poll()})")
        return out.strip()

    async def send(self, text: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(text + "\n")
        self.proc.stdin.flush()

    async def expect(self, count: int) -> None:
        await self.send(f"EXPECT {count}")
        assert await self.line() == "ARMED"

    async def result(self) -> dict[str, Any]:
        return json.loads(await self.line())

    async def close(self) -> None:
        await self.send("QUIT")
        await asyncio.to_thread(self.proc.wait, 60)


async def run_syncline(n: int, burst: int, rates: list[int], paced_seconds: float) -> dict[str, Any]:
    from server.app import running
    from server.settings import load_settings

    tmp = Path(tempfile.mkdtemp(prefix="syncline-bench-"))
    try:
        project = tmp / "todo"
        shutil.copytree(ROOT / "examples" / "todo", project, ignore=shutil.ignore_patterns(".syncline", "__pycache__"))
        with (project / "syncline.toml").open("a") as f:
            f.write("\n[realtime]\nsend_queue = 100000\nsend_queue_bytes = 100000000\ninit_timeout = \"120s\"\n")
        settings = load_settings(project, env={"SYNCLINE_API_KEY": API_KEY})
        async with running(settings, port=0) as srv, aiohttp.ClientSession() as http:
            url = srv.url.replace("http://", "ws://")
            gc_rss = rss_bytes()
            client = ClientProcess(url, n, "syncline")
            assert await client.line() == "READY"
            endpoint = srv.syncline.realtime
            assert endpoint is not None
            reg = endpoint.registry
            assert reg.subscribers == n and reg.groups == 1, (reg.subscribers, reg.groups)
            mem_per_conn = (rss_bytes() - gc_rss) / n

            async def mutate() -> None:
                async with http.post(
                    srv.url, json={"query": MUTATION, "variables": {"t": repr(time.perf_counter())}}, headers={"x-api-key": API_KEY}
                ) as r:
                    body = await r.json()
                    assert "errors" not in body, body

            # warm-up
            await client.expect(n)
            await mutate()
            await client.result()

            # burst
            await client.expect(n * burst)
            execs = reg.executions
            profiler = cProfile.Profile() if os.environ.get("BENCH_PROFILE") else None
            if profiler is not None:
                profiler.enable()
            t0 = time.perf_counter()
            for _ in range(burst):
                await mutate()
            res = await client.result()
            if profiler is not None:
                profiler.disable()
                pstats.Stats(profiler, stream=sys.stderr).sort_stats("tottime").print_stats(25)
            burst_rate = res["count"] / (res["last"] - t0)
            assert reg.executions - execs == burst  # one execution per event for the whole group

            # paced, at each rate (deliveries/s = mutations/s * N)
            paced: list[tuple[float, dict[str, Any]]] = []
            for target in rates:
                rate = max(target / n, 0.5)
                count = max(int(rate * paced_seconds), 2)
                await client.expect(n * count)
                start = time.perf_counter()
                for i in range(count):
                    delay = start + i / rate - time.perf_counter()
                    if delay > 0:
                        await asyncio.sleep(delay)
                    await mutate()
                paced.append((rate * n, await client.result()))
            await client.close()
        return {
            "deliveries_per_s": burst_rate,
            "paced": [(r, res["p50"] * 1000, res["p99"] * 1000) for r, res in paced],
            "mem_per_conn_bytes": mem_per_conn,
        }
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


async def run_bare(n: int, burst: int) -> dict[str, Any]:
    """A bare aiohttp broadcast: every socket gets the same text, no protocol, no GraphQL."""
    from aiohttp import web

    sockets: list[web.WebSocketResponse] = []

    async def handler(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(compress=False)
        await ws.prepare(request)
        await ws.receive_str()
        sockets.append(ws)
        await ws.send_str("ok")
        async for _ in ws:
            pass
        return ws

    app = web.Application()
    app.router.add_get("/ws", handler)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    url = f"ws://127.0.0.1:{site.port}/ws"
    client = ClientProcess(url, n, "bare")
    try:
        assert await client.line() == "READY"

        async def broadcast() -> None:
            item = {"id": "00000000-0000-0000-0000-000000000000", "title": repr(time.perf_counter())}
            text = json.dumps({"id": "1", "type": "next", "payload": {"data": {"onCreateTodo": item}}}, separators=(",", ":"))
            for ws in list(sockets):
                await ws.send_str(text)

        await client.expect(n)
        await broadcast()
        await client.result()
        await client.expect(n * burst)
        t0 = time.perf_counter()
        for _ in range(burst):
            await broadcast()
        res = await client.result()
        await client.close()
        return {"deliveries_per_s": res["count"] / (res["last"] - t0)}
    finally:
        await runner.cleanup()


async def main(args: argparse.Namespace) -> None:
    raise_fd_limit()
    print(f"cores: {os.cpu_count()}, python {sys.version.split()[0]}")
    for n in args.clients:
        # Interleaved repeats, best of each: the two servers share a machine with other load.
        runs_s, runs_b = [], []
        for _ in range(args.repeat):
            runs_s.append(await run_syncline(n, args.burst, args.rate_deliveries, args.paced_seconds))
            runs_b.append(await run_bare(n, args.burst))
        s = max(runs_s, key=lambda r: r["deliveries_per_s"])
        b = max(runs_b, key=lambda r: r["deliveries_per_s"])
        paced = " | ".join(f"paced {r:,.0f}/s: p50 {p50:.1f} ms p99 {p99:.1f} ms" for r, p50, p99 in s["paced"])
        print(
            f"N={n:>6}: syncline {s['deliveries_per_s']:>9,.0f} deliveries/s | bare {b['deliveries_per_s']:>9,.0f}/s | "
            f"ratio {s['deliveries_per_s'] / b['deliveries_per_s']:.2f} | {paced} | "
            f"{runs_s[0]['mem_per_conn_bytes'] / 1024:.1f} KiB/connection (first run) "
            f"(runs: syncline {[round(r['deliveries_per_s']) for r in runs_s]}, bare {[round(r['deliveries_per_s']) for r in runs_b]})",
            flush=True,
        )

if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--client":
        asyncio.run(client_main(sys.argv[2], int(sys.argv[3]), sys.argv[4]))
        sys.exit(0)
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--burst", type=int, default=20, help="mutations in the burst")
    parser.add_argument(
        "--rate-deliveries", type=int, nargs="+", default=[1000, 10000], help="deliveries/s of each paced phase"
    )
    parser.add_argument("--paced-seconds", type=float, default=3.0)
    parser.add_argument("--repeat", type=int, default=1, help="interleaved runs per N (best of each is reported)")
    asyncio.run(main(parser.parse_args()))
