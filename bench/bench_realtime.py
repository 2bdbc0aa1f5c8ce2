"""Subscription fan-out: Syncline vs a bare aiohttp WebSocket broadcast, same payload, same run.

This process serves the todo example (real SQLite store, real HTTP mutations) and, on a second
port, a bare aiohttp WebSocket server that only broadcasts (`await ws.send_str` per socket). One
or more separate client processes (`--client-procs`) open N raw WebSocket connections
(graphql-transport-ws to Syncline, all subscribed to the same `onCreateTodo { id title }`
document, so one group) and count deliveries. Both servers get the same minimal client (an
epoll loop over raw sockets: an aiohttp client, ~30 µs of Python per message, was what set the
latency with 10,000 sockets), and the same heap treatment (`freeze_startup_heap`, as
`syncline serve` does).

    burst   M events back to back; deliveries/s = N*M / (first send → last receipt), and the
            server's CPU time per delivery (process time: robust to other load on the machine)
    paced   events at a fixed rate (deliveries/s = rate*N); p50/p99 event→delivery latency (the
            event carries its send time, perf_counter, which on Linux is CLOCK_MONOTONIC and so
            comparable across processes). For Syncline the event is an HTTP mutation, so its
            commit is inside the latency.
    memory  server RSS growth per subscribed connection

Per paced phase, stderr gets the latency spread, the collector's pauses, and for Syncline the
time from commit to fan-out start and the fan-out's own duration. BENCH_PROFILE=1 prints the
server's cProfile (CPU time) of the burst to stderr.

    .venv/bin/python bench/bench_realtime.py [--clients 1000 10000] [--burst 20] [--rate-deliveries 1000 10000]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import cProfile
import gc
import json
import os
import pstats
import resource
import select
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Awaitable, Callable
from urllib.parse import urlsplit

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
#
# The measuring client is deliberately minimal: blocking sockets for the handshakes, then one
# epoll loop over raw sockets that parses server frames (unmasked, RFC 6455) by hand. An aiohttp
# client spends ~30 µs of Python per message (a task wake-up per socket), so with 10,000 sockets
# it, not the server under test, set the latency; both servers are measured with this same client.

OP_TEXT, OP_CLOSE, OP_PING = 0x1, 0x8, 0x9
STAMP = b'"title":"'


def _masked_frame(opcode: int, payload: bytes) -> bytes:
    """A client frame (clients must mask, RFC 6455 §5.3)."""
    mask = os.urandom(4)
    n = len(payload)
    if n < 126:
        header = bytes([0x80 | opcode, 0x80 | n])
    else:
        header = bytes([0x80 | opcode, 0x80 | 126]) + n.to_bytes(2, "big")
    body = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return header + mask + body


def _text(obj: Any) -> bytes:
    return _masked_frame(OP_TEXT, (obj if isinstance(obj, str) else json.dumps(obj)).encode())


def _frames(buf: bytearray) -> list[tuple[int, bytes]]:
    """Complete server frames at the front of `buf` (consumed)."""
    out: list[tuple[int, bytes]] = []
    pos, end = 0, len(buf)
    while end - pos >= 2:
        b0, b1 = buf[pos], buf[pos + 1]
        n, head = b1 & 0x7F, 2
        if n == 126:
            if end - pos < 4:
                break
            n, head = int.from_bytes(buf[pos + 2 : pos + 4], "big"), 4
        elif n == 127:
            if end - pos < 10:
                break
            n, head = int.from_bytes(buf[pos + 2 : pos + 10], "big"), 10
        if end - pos < head + n:
            break
        out.append((b0 & 0x0F, bytes(buf[pos + head : pos + head + n])))
        pos += head + n
    del buf[:pos]
    return out


class _Conn:
    __slots__ = ("sock", "buf")

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buf = bytearray()

    def read_frames(self) -> list[tuple[int, bytes]]:
        """Blocking: at least one complete frame."""
        while True:
            got = _frames(self.buf)
            if got:
                return got
            data = self.sock.recv(65536)
            if not data:
                raise ConnectionError("server closed the connection during setup")
            self.buf += data

    def read_until(self, want: Callable[[bytes], bool]) -> None:
        while True:
            for op, payload in self.read_frames():
                if op == OP_CLOSE:
                    raise ConnectionError(f"server closed: {payload!r}")
                if op == OP_TEXT and want(payload):
                    return


def _open_batch(host: str, port: int, path: str, count: int, mode: str) -> list[_Conn]:
    """Open `count` WebSockets, one step at a time across the batch (the server works on all)."""
    conns = []
    for _ in range(count):
        s = socket.create_connection((host, port))
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        conns.append(_Conn(s))
    proto = "Sec-WebSocket-Protocol: graphql-transport-ws\r\n" if mode == "syncline" else ""
    for c in conns:
        key = base64.b64encode(os.urandom(16)).decode()
        c.sock.sendall(
            (
                f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n{proto}\r\n"
            ).encode()
        )
    for c in conns:
        while b"\r\n\r\n" not in c.buf:
            data = c.sock.recv(65536)
            if not data:
                raise ConnectionError("server closed the connection during the upgrade")
            c.buf += data
        head, _, rest = bytes(c.buf).partition(b"\r\n\r\n")
        if not head.startswith(b"HTTP/1.1 101"):
            raise ConnectionError(head.decode(errors="replace"))
        c.buf = bytearray(rest)
    if mode == "syncline":
        for c in conns:
            c.sock.sendall(_text({"type": "connection_init", "payload": {"x-api-key": API_KEY}}))
        for c in conns:
            c.read_until(lambda p: json.loads(p)["type"] == "connection_ack")
        for c in conns:
            c.sock.sendall(
                _text({"id": "1", "type": "subscribe", "payload": {"query": SUBSCRIPTION}}) + _text({"type": "ping"})
            )
        for c in conns:
            c.read_until(lambda p: json.loads(p)["type"] == "pong")
    else:
        for c in conns:
            c.sock.sendall(_text("ready"))
        for c in conns:
            c.read_until(lambda p: p == b"ok")
    return conns


def client_main(url: str, n: int, mode: str) -> None:
    raise_fd_limit()
    parts = urlsplit(url)
    host, port, path = parts.hostname or "127.0.0.1", parts.port or 80, parts.path or "/"
    conns: list[_Conn] = []
    while len(conns) < n:
        conns.extend(_open_batch(host, port, path, min(100, n - len(conns)), mode))
    by_fd: dict[int, _Conn] = {}
    ep = select.epoll()
    for c in conns:
        c.sock.setblocking(False)
        by_fd[c.sock.fileno()] = c
        ep.register(c.sock.fileno(), select.EPOLLIN)
    stdin = sys.stdin.buffer.raw  # type: ignore[attr-defined]
    ep.register(stdin.fileno(), select.EPOLLIN)
    print("READY", flush=True)
    latencies: list[float] = []
    received, target, last, cpu0 = 0, -1, 0.0, 0.0
    pending = b""
    clock = time.perf_counter
    stdin_fd = stdin.fileno()
    while True:
        for fd, _ in ep.poll(1.0):
            if fd == stdin_fd:
                data = os.read(stdin_fd, 4096)
                if not data:
                    return
                pending += data
                while b"\n" in pending:
                    line, _, pending = pending.partition(b"\n")
                    cmd, _, arg = line.decode().strip().partition(" ")
                    if cmd == "EXPECT":
                        received, target, latencies = 0, int(arg), []
                        cpu0 = time.process_time()
                        print("ARMED", flush=True)
                    elif cmd == "QUIT":
                        for c in conns:
                            c.sock.close()
                        return
                continue
            c = by_fd[fd]
            try:
                data = c.sock.recv(65536)
            except BlockingIOError:
                continue
            now = clock()
            if not data:
                ep.unregister(fd)
                print(f"closed by server: {fd}", file=sys.stderr, flush=True)
                continue
            buf = c.buf
            buf += data
            for op, payload in _frames(buf):
                if op == OP_TEXT:
                    i = payload.find(STAMP)
                    if i < 0:
                        continue  # not an event (pong, ack)
                    j = i + len(STAMP)
                    stamp = float(payload[j : payload.index(b'"', j)])
                    latencies.append(now - stamp)
                    received += 1
                    last = now
                    if received == target:
                        cpu = time.process_time() - cpu0
                        print(json.dumps({"count": received, "last": last, "cpu": cpu, "latencies": latencies}), flush=True)
                elif op == OP_PING:
                    c.sock.sendall(_masked_frame(0xA, payload))
                elif op == OP_CLOSE:
                    print(f"close frame: {payload!r}", file=sys.stderr, flush=True)


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

    async def close(self) -> None:
        await self.send("QUIT")
        await asyncio.to_thread(self.proc.wait, 60)


class Clients:
    """N connections split over `procs` client processes (one started after the other)."""

    def __init__(self, url: str, n: int, mode: str, procs: int) -> None:
        self.url, self.n, self.mode = url, n, mode
        self.sizes = [n // procs + (1 if i < n % procs else 0) for i in range(procs)]
        self.procs: list[ClientProcess] = []

    async def start(self) -> None:
        for size in self.sizes:
            proc = ClientProcess(self.url, size, self.mode)
            self.procs.append(proc)
            assert await proc.line() == "READY"

    async def expect(self, per_connection: int) -> None:
        for proc, size in zip(self.procs, self.sizes):
            await proc.send(f"EXPECT {size * per_connection}")
        for proc in self.procs:
            assert await proc.line() == "ARMED"

    async def result(self) -> dict[str, Any]:
        parts = [json.loads(await proc.line()) for proc in self.procs]
        lat = sorted(x for p in parts for x in p["latencies"])
        return {
            "count": sum(p["count"] for p in parts),
            "last": max(p["last"] for p in parts),
            "p50": lat[len(lat) // 2],
            "p99": lat[min(len(lat) - 1, int(len(lat) * 0.99))],
            "max": lat[-1],
            "client_cpu_us": sum(p["cpu"] for p in parts) / len(lat) * 1e6,
        }

    async def close(self) -> None:
        for proc in self.procs:
            await proc.close()


async def paced_phases(
    client: Clients, n: int, rates: list[int], seconds: float, fire: Callable[[], Awaitable[None]]
) -> list[tuple[float, float, float]]:
    """Events at a fixed rate (deliveries/s = events/s * N): (deliveries/s, p50 ms, p99 ms) per rate."""
    out = []
    for target in rates:
        rate = max(target / n, 0.5)
        count = max(int(rate * seconds), 2)
        await client.expect(count)
        fires: list[float] = []
        with GcPauses() as gc_pauses:
            start = time.perf_counter()
            for i in range(count):
                delay = start + i / rate - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                t = time.perf_counter()
                await fire()
                fires.append(time.perf_counter() - t)
            res = await client.result()
        print(
            f"  [{n} connections, {rate * n:,.0f} deliveries/s] p50 {res['p50'] * 1000:.1f} ms p99 {res['p99'] * 1000:.1f} ms "
            f"max {res['max'] * 1000:.1f} ms; event call max {max(fires) * 1000:.1f} ms; {gc_pauses}",
            file=sys.stderr,
            flush=True,
        )
        out.append((rate * n, res["p50"] * 1000, res["p99"] * 1000))
    return out


class GcPauses:
    """The cyclic collector's pauses while active (a full collection of a big heap stalls the loop)."""

    def __init__(self) -> None:
        self.pauses: list[tuple[int, float]] = []
        self._t = 0.0

    def _cb(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._t = time.perf_counter()
        else:
            self.pauses.append((info["generation"], time.perf_counter() - self._t))

    def __enter__(self) -> "GcPauses":
        gc.callbacks.append(self._cb)
        return self

    def __exit__(self, *exc: object) -> None:
        gc.callbacks.remove(self._cb)

    def __str__(self) -> str:
        worst = max((d for _, d in self.pauses), default=0.0)
        full = sum(1 for g, _ in self.pauses if g == 2)
        return f"gc: {len(self.pauses)} collections ({full} full), longest {worst * 1000:.1f} ms"


async def run_syncline(n: int, burst: int, rates: list[int], paced_seconds: float, procs: int) -> dict[str, Any]:
    from server.app import running
    from server.heap import freeze_startup_heap
    from server.settings import load_settings

    tmp = Path(tempfile.mkdtemp(prefix="syncline-bench-"))
    try:
        project = tmp / "todo"
        shutil.copytree(ROOT / "examples" / "todo", project, ignore=shutil.ignore_patterns(".syncline", "__pycache__"))
        with (project / "syncline.toml").open("a") as f:
            f.write("\n[realtime]\nsend_queue = 100000\nsend_queue_bytes = 100000000\ninit_timeout = \"120s\"\n")
        settings = load_settings(project, env={"SYNCLINE_API_KEY": API_KEY})
        async with running(settings, port=0) as srv, aiohttp.ClientSession() as http:
            freeze_startup_heap()  # as `syncline serve` does
            url = srv.url.replace("http://", "ws://")
            gc_rss = rss_bytes()
            client = Clients(url, n, "syncline", procs)
            await client.start()
            endpoint = srv.syncline.realtime
            assert endpoint is not None
            reg = endpoint.registry
            assert reg.subscribers == n and reg.groups == 1, (reg.subscribers, reg.groups)
            mem_per_conn = (rss_bytes() - gc_rss) / n
            # Where the time goes, per event: commit → fan-out start, and the fan-out itself.
            fanouts: list[tuple[float, float]] = []
            dispatch = reg.dispatch

            async def timed_dispatch(event: Any) -> int:
                t = time.perf_counter()
                delivered = await dispatch(event)
                if event.published_at is not None:
                    fanouts.append((t - event.published_at, time.perf_counter() - t))
                return delivered

            reg.dispatch = timed_dispatch  # type: ignore[method-assign]

            async def mutate() -> None:
                async with http.post(
                    srv.url, json={"query": MUTATION, "variables": {"t": repr(time.perf_counter())}}, headers={"x-api-key": API_KEY}
                ) as r:
                    body = await r.json()
                    assert "errors" not in body, body

            # warm-up
            await client.expect(1)
            await mutate()
            await client.result()

            # burst
            await client.expect(burst)
            execs = reg.executions
            # CPU time, not wall time: on a shared machine a preempted send() would look slow.
            profiler = cProfile.Profile(time.process_time) if os.environ.get("BENCH_PROFILE") else None
            if profiler is not None:
                profiler.enable()
            cpu0, t0 = time.process_time(), time.perf_counter()
            for _ in range(burst):
                await mutate()
            res = await client.result()
            cpu = time.process_time() - cpu0
            if profiler is not None:
                profiler.disable()
                pstats.Stats(profiler, stream=sys.stderr).sort_stats("tottime").print_stats(25)
            burst_rate = res["count"] / (res["last"] - t0)
            assert reg.executions - execs == burst  # one execution per event for the whole group

            fanouts.clear()
            paced = await paced_phases(client, n, rates, paced_seconds, mutate)
            if fanouts:
                print(
                    f"  [{n} connections, paced] publish→fan-out start max {max(a for a, _ in fanouts) * 1000:.1f} ms; "
                    f"fan-out of {n} median {statistics.median(b for _, b in fanouts) * 1000:.1f} ms, max {max(b for _, b in fanouts) * 1000:.1f} ms",
                    file=sys.stderr,
                    flush=True,
                )
            await client.close()
        return {
            "deliveries_per_s": burst_rate,
            "cpu_us": cpu / res["count"] * 1e6,
            "client_cpu_us": res["client_cpu_us"],
            "paced": paced,
            "mem_per_conn_bytes": mem_per_conn,
        }
    finally:
        gc.unfreeze()
        shutil.rmtree(tmp, ignore_errors=True)


async def run_bare(n: int, burst: int, rates: list[int], paced_seconds: float, procs: int) -> dict[str, Any]:
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
    gc.collect()
    gc.freeze()  # the same heap treatment as the Syncline server
    client = Clients(url, n, "bare", procs)
    try:
        await client.start()

        async def broadcast() -> None:
            item = {"id": "00000000-0000-0000-0000-000000000000", "title": repr(time.perf_counter())}
            text = json.dumps({"id": "1", "type": "next", "payload": {"data": {"onCreateTodo": item}}}, separators=(",", ":"))
            for ws in list(sockets):
                await ws.send_str(text)

        await client.expect(1)
        await broadcast()
        await client.result()
        await client.expect(burst)
        cpu0, t0 = time.process_time(), time.perf_counter()
        for _ in range(burst):
            await broadcast()
        res = await client.result()
        cpu = time.process_time() - cpu0
        paced = await paced_phases(client, n, rates, paced_seconds, broadcast)
        await client.close()
        return {"deliveries_per_s": res["count"] / (res["last"] - t0), "cpu_us": cpu / res["count"] * 1e6, "paced": paced}
    finally:
        gc.unfreeze()
        await runner.cleanup()


async def main(args: argparse.Namespace) -> None:
    raise_fd_limit()
    print(f"cores: {os.cpu_count()}, python {sys.version.split()[0]}")
    for n in args.clients:
        # Interleaved repeats, best of each: the two servers share a machine with other load.
        runs_s, runs_b = [], []
        for _ in range(args.repeat):
            runs_s.append(await run_syncline(n, args.burst, args.rate_deliveries, args.paced_seconds, args.client_procs))
            runs_b.append(await run_bare(n, args.burst, args.rate_deliveries, args.paced_seconds, args.client_procs))
        s = max(runs_s, key=lambda r: r["deliveries_per_s"])
        b = max(runs_b, key=lambda r: r["deliveries_per_s"])
        paced = " | ".join(
            f"paced {r:,.0f}/s: p50 {p50:.1f} ms p99 {p99:.1f} ms (bare p50 {bp50:.1f} p99 {bp99:.1f})"
            for (r, p50, p99), (_, bp50, bp99) in zip(s["paced"], b["paced"])
        )
        print(
            f"N={n:>6}: syncline {s['deliveries_per_s']:>9,.0f} deliveries/s | bare {b['deliveries_per_s']:>9,.0f}/s | "
            f"ratio {s['deliveries_per_s'] / b['deliveries_per_s']:.2f} | "
            f"server CPU/delivery {s['cpu_us']:.1f} µs, bare {b['cpu_us']:.1f} µs, client {s['client_cpu_us']:.1f} µs | {paced} | "
            f"{runs_s[0]['mem_per_conn_bytes'] / 1024:.1f} KiB/connection (first run) "
            f"(runs: syncline {[round(r['deliveries_per_s']) for r in runs_s]}, bare {[round(r['deliveries_per_s']) for r in runs_b]})",
            flush=True,
        )

if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--client":
        client_main(sys.argv[2], int(sys.argv[3]), sys.argv[4])
        sys.exit(0)
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--burst", type=int, default=20, help="mutations in the burst")
    parser.add_argument(
        "--rate-deliveries", type=int, nargs="+", default=[1000, 10000], help="deliveries/s of each paced phase"
    )
    parser.add_argument("--paced-seconds", type=float, default=3.0)
    parser.add_argument("--client-procs", type=int, default=1, help="client processes sharing the connections")
    parser.add_argument("--repeat", type=int, default=1, help="interleaved runs per N (best of each is reported)")
    asyncio.run(main(parser.parse_args()))
