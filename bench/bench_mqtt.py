"""MQTT fan-out: Syncline's embedded broker vs stock amqtt vs Mosquitto, same clients, same run.

Brokers, each in its own process:

    syncline      this process serves the todo example; subscribers connect over WebSocket at
                  /mqtt (and over TCP, [mqtt] tcp_port) and subscribe to `models/Todo/create`;
                  events come from real HTTP mutations (SQLite commit → model topic).
    syncline-raw  the same broker and WebSocket clients, events published by the server process
                  itself (no HTTP, GraphQL or SQLite): the broker path alone.
    amqtt         a stock amqtt 0.12 Broker in a subprocess with its own WebSocket listener
                  (anonymous auth), fed by one MQTT publisher client.
    mosquitto     the system Mosquitto on 127.0.0.1:1883 over TCP (Debian's build has no
                  websockets), fed by one MQTT publisher client. Skipped if not listening.

The clients are the same for every broker: a separate process opens N raw MQTT 3.1.1
connections (a minimal asyncio client: CONNECT, SUBSCRIBE QoS 0, count PUBLISH packets), then
sends M events (at most --window HTTP mutations in flight) and reports deliveries/s = N*M / (first send → last delivery).
Peers get a payload of the same size as Syncline's item JSON.

    .venv/bin/python bench/bench_mqtt.py [--clients 10 100 1000] [--events 100] [--repeat 2]

BENCH_PROFILE=syncline-ws (or syncline-tcp) prints the server's cProfile of that run to stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import os
import pstats
import json
import resource
import shutil
import socket
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
MUTATION = "mutation($t: String!) { createTodo(input: {title: $t}) { id } }"
TOPIC = "models/Todo/create"
MOSQUITTO = ("127.0.0.1", 1883)


# --------------------------------------------------------------------------- a raw MQTT client


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b, n = n % 128, n // 128
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _s(text: str) -> bytes:
    raw = text.encode()
    return len(raw).to_bytes(2, "big") + raw


def connect_packet(client_id: str, username: str | None, password: str | None) -> bytes:
    flags = 0x02 | (0x80 if username is not None else 0) | (0x40 if password is not None else 0)
    body = _s("MQTT") + bytes([4, flags]) + (60).to_bytes(2, "big") + _s(client_id)
    if username is not None:
        body += _s(username)
    if password is not None:
        body += _s(password)
    return bytes([0x10]) + _varint(len(body)) + body


def subscribe_packet(topic: str, packet_id: int = 1) -> bytes:
    body = packet_id.to_bytes(2, "big") + _s(topic) + bytes([0])
    return bytes([0x82]) + _varint(len(body)) + body


def publish_packet(topic: str, payload: bytes) -> bytes:
    body = _s(topic) + payload
    return bytes([0x30]) + _varint(len(body)) + body


class Counter:
    """Splits a byte stream into MQTT packets; counts PUBLISHes, notes CONNACK/SUBACK."""

    def __init__(self, shared: dict[str, Any]) -> None:
        self.buf = bytearray()
        self.shared = shared
        self.connack = asyncio.Event()
        self.suback = asyncio.Event()
        self.refused = False

    def feed(self, data: bytes) -> None:
        self.buf.extend(data)
        buf = self.buf
        pos = 0
        while True:
            if len(buf) - pos < 2:
                break
            mult, length, i = 1, 0, pos + 1
            while True:
                if i >= len(buf):
                    length = -1
                    break
                b = buf[i]
                length += (b & 0x7F) * mult
                mult *= 128
                i += 1
                if not b & 0x80:
                    break
            if length < 0 or len(buf) < i + length:
                break
            kind = buf[pos] >> 4
            if kind == 3:
                self.shared["count"] += 1
                self.shared["last"] = time.perf_counter()
                if self.shared["count"] >= self.shared["expect"]:
                    self.shared["done"].set()
            elif kind == 2:
                self.refused = buf[i + 1] != 0
                self.connack.set()
            elif kind == 9:
                self.refused = self.refused or buf[i + 2] == 0x80
                self.suback.set()
            pos = i + length
        del buf[:pos]


async def open_ws(url: str, counter: Counter, session: aiohttp.ClientSession) -> Any:
    ws = await session.ws_connect(url, protocols=("mqtt",), autoping=True, max_msg_size=0)

    async def reader() -> None:
        async for msg in ws:
            if msg.type is aiohttp.WSMsgType.BINARY:
                counter.feed(msg.data)

    task = asyncio.create_task(reader())
    return ws.send_bytes, ws.close, task


async def open_tcp(host: str, port: int, counter: Counter) -> Any:
    reader, writer = await asyncio.open_connection(host, port)

    async def read_loop() -> None:
        while data := await reader.read(65536):
            counter.feed(data)

    async def send(data: bytes) -> None:
        writer.write(data)
        await writer.drain()

    async def close() -> None:
        writer.close()

    task = asyncio.create_task(read_loop())
    return send, close, task


async def client_main(cfg: dict[str, Any]) -> None:
    """One measurement: N subscribers, M events; prints a JSON line."""
    n, m = cfg["n"], cfg["m"]
    shared: dict[str, Any] = {"count": 0, "last": 0.0, "expect": n * m, "done": asyncio.Event()}
    conns: list[Any] = []
    sem = asyncio.Semaphore(50)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:

        async def one(i: int) -> None:
            async with sem:
                c = Counter(shared)
                if cfg["transport"] == "ws":
                    send, close, task = await open_ws(cfg["url"], c, session)
                else:
                    send, close, task = await open_tcp(cfg["host"], cfg["port"], c)
                await send(connect_packet(f"bench-{cfg['target']}-{i}", cfg.get("username"), cfg.get("password")))
                await asyncio.wait_for(c.connack.wait(), 30)
                await send(subscribe_packet(TOPIC))
                await asyncio.wait_for(c.suback.wait(), 30)
                assert not c.refused, "the broker refused the bench client"
                conns.append((send, close, task))

        await asyncio.gather(*(one(i) for i in range(n)))
        payload = cfg["payload"].encode()
        publish = None
        if cfg["target"] == "syncline-raw":
            # the server process publishes on "GO" (a line per event batch on stdin): broker only
            loop = asyncio.get_running_loop()

            async def go(i: int) -> None:
                if i <= 0:
                    print("GO" if i == 0 else "WARM", flush=True)
                    await loop.run_in_executor(None, sys.stdin.readline)

            publish = go
        elif cfg["target"].startswith("syncline"):

            async def mutate(i: int) -> None:
                async with session.post(
                    cfg["graphql"], json={"query": MUTATION, "variables": {"t": f"bench {i:06d}"}}, headers={"x-api-key": API_KEY}
                ) as r:
                    body = await r.json()
                    assert "errors" not in body, body

            publish = mutate
        else:
            pc = Counter({"count": 0, "last": 0.0, "expect": 1 << 60, "done": asyncio.Event()})
            send, close, task = await open_tcp(cfg["pub_host"], cfg["pub_port"], pc) if cfg["pub_transport"] == "tcp" else await open_ws(cfg["url"], pc, session)
            await send(connect_packet(f"bench-pub-{cfg['target']}", None, None))
            await asyncio.wait_for(pc.connack.wait(), 30)
            conns.append((send, close, task))
            packet = publish_packet(TOPIC, payload)

            async def pub(i: int) -> None:
                await send(packet)

            publish = pub

        # warm-up: one event to everyone
        shared.update(count=0, expect=n)
        shared["done"] = asyncio.Event()
        await publish(-1)
        await asyncio.wait_for(shared["done"].wait(), 120)
        await asyncio.sleep(0.2)

        shared.update(count=0, expect=n * m)
        shared["done"] = asyncio.Event()
        t0 = time.perf_counter()
        window = asyncio.Semaphore(cfg.get("window", 16))  # mutations in flight at once (publishes are just writes)

        async def send_one(i: int) -> None:
            async with window:
                await publish(i)

        if cfg["target"] == "syncline-raw":
            await publish(0)  # the server publishes all M at once
        else:
            await asyncio.gather(*(send_one(i) for i in range(m)))
        try:
            await asyncio.wait_for(shared["done"].wait(), 300)
        except TimeoutError:
            pass
        elapsed = shared["last"] - t0
        print(json.dumps({"count": shared["count"], "expected": n * m, "seconds": elapsed, "rate": shared["count"] / elapsed if elapsed > 0 else 0.0}), flush=True)
        for send, close, task in conns:
            await close()
            task.cancel()


async def run_client(cfg: dict[str, Any], publish: Any = None) -> dict[str, Any]:
    """Run one measurement; `publish(count)` is called for "syncline-raw" (server-side events)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, __file__, "--client", json.dumps(cfg), stdout=asyncio.subprocess.PIPE, stdin=asyncio.subprocess.PIPE
    )
    assert proc.stdout is not None and proc.stdin is not None
    last = ""
    while line := (await proc.stdout.readline()).decode():
        last = line.strip() or last
        if last in ("WARM", "GO"):
            proc.stdin.write(b"\n")
            await proc.stdin.drain()
            publish(1 if last == "WARM" else cfg["m"])
    await proc.wait()
    if proc.returncode != 0:
        raise RuntimeError(f"bench client failed for {cfg['target']} n={cfg['n']}")
    result: dict[str, Any] = json.loads(last)
    return result


# --------------------------------------------------------------------------- stock amqtt


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def amqtt_main(ws_port: int, tcp_port: int) -> None:
    from amqtt.broker import Broker

    broker = Broker(
        {
            "listeners": {
                "default": {"type": "tcp", "bind": f"127.0.0.1:{tcp_port}"},
                "ws": {"type": "ws", "bind": f"127.0.0.1:{ws_port}"},
            },
            "plugins": {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}},
        }
    )
    await broker.start()
    print("READY", flush=True)
    await asyncio.Event().wait()


def mosquitto_up() -> bool:
    try:
        with socket.create_connection(MOSQUITTO, timeout=1):
            return True
    except OSError:
        return False


# --------------------------------------------------------------------------- orchestration


async def main(args: argparse.Namespace) -> None:
    from server.app import running
    from server.settings import load_settings

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    tmp = Path(tempfile.mkdtemp(prefix="syncline-bench-mqtt-"))
    ws_port, amqtt_tcp = free_port(), free_port()
    peer = subprocess.Popen([sys.executable, __file__, "--serve-amqtt", str(ws_port), str(amqtt_tcp)], stdout=subprocess.PIPE, text=True)
    try:
        assert peer.stdout is not None and peer.stdout.readline().strip() == "READY"
        project = tmp / "todo"
        shutil.copytree(ROOT / "examples" / "todo", project, ignore=shutil.ignore_patterns(".syncline", "__pycache__"))
        with (project / "syncline.toml").open("a") as f:
            f.write("\n[mqtt]\ntcp_port = 0\nsend_queue = 100000\nsend_queue_bytes = 100000000\n")
        settings = load_settings(project, env={"SYNCLINE_API_KEY": API_KEY})
        async with running(settings, port=0) as srv, aiohttp.ClientSession() as http:
            svc = srv.syncline.mqtt
            assert svc is not None and svc.tcp_port
            async with http.post(srv.url, json={"query": MUTATION, "variables": {"t": "bench 000000"}}, headers={"x-api-key": API_KEY}) as r:
                item_id = (await r.json())["data"]["createTodo"]["id"]
            async with http.post(srv.url, json={"query": "query($id: ID!) { getTodo(id: $id) { id title done priority tags due notes createdAt updatedAt _version _lastChangedAt _deleted } }", "variables": {"id": item_id}}, headers={"x-api-key": API_KEY}) as r:
                sample = json.dumps((await r.json())["data"]["getTodo"], separators=(",", ":"))
            base = {"m": args.events, "payload": sample, "graphql": srv.url, "window": args.window}
            targets: list[tuple[str, dict[str, Any]]] = [
                ("syncline-raw", {"transport": "ws", "url": srv.url.replace("http://", "ws://").replace("/graphql", "/mqtt"), "username": "API_KEY", "password": API_KEY}),
                ("syncline-ws", {"transport": "ws", "url": srv.url.replace("http://", "ws://").replace("/graphql", "/mqtt"), "username": "API_KEY", "password": API_KEY}),
                ("syncline-tcp", {"transport": "tcp", "host": "127.0.0.1", "port": svc.tcp_port, "username": "API_KEY", "password": API_KEY}),
                ("amqtt-ws", {"transport": "ws", "url": f"ws://127.0.0.1:{ws_port}/", "pub_transport": "tcp", "pub_host": "127.0.0.1", "pub_port": amqtt_tcp}),
            ]
            if mosquitto_up():
                targets.append(("mosquitto-tcp", {"transport": "tcp", "host": MOSQUITTO[0], "port": MOSQUITTO[1], "pub_transport": "tcp", "pub_host": MOSQUITTO[0], "pub_port": MOSQUITTO[1]}))
            else:
                print("mosquitto: nothing listens on 127.0.0.1:1883, skipped", file=sys.stderr)
            broker = svc.broker
            assert broker is not None
            sample_bytes = sample.encode()

            def publish(count: int) -> None:
                for _ in range(count):
                    broker.publish_nowait(TOPIC, sample_bytes)

            print(f"payload {len(sample)} bytes, {args.events} events per run, best of {args.repeat}")
            print(f"{'N':>6} " + " ".join(f"{name:>15}" for name, _ in targets) + "   ratios (deliveries/s)")
            for n in args.clients:
                best: dict[str, float] = {}
                for _ in range(args.repeat):
                    for name, extra in targets:
                        profiler = cProfile.Profile() if os.environ.get("BENCH_PROFILE") == name else None
                        if profiler is not None:
                            profiler.enable()
                        res = await run_client({**base, **extra, "target": name, "n": n}, publish)
                        if profiler is not None:
                            profiler.disable()
                            pstats.Stats(profiler, stream=sys.stderr).sort_stats("tottime").print_stats(30)
                        if res["count"] < res["expected"]:
                            print(f"  {name} n={n}: only {res['count']}/{res['expected']} delivered", file=sys.stderr)
                        best[name] = max(best.get(name, 0.0), res["rate"])
                ratios = [
                    f"syncline-ws/amqtt-ws {best['syncline-ws'] / best['amqtt-ws']:.2f}x",
                    f"syncline-raw/amqtt-ws {best['syncline-raw'] / best['amqtt-ws']:.2f}x",
                ]
                if "mosquitto-tcp" in best:
                    ratios.append(f"syncline-tcp/mosquitto {best['syncline-tcp'] / best['mosquitto-tcp']:.2f}x")
                print(f"{n:>6} " + " ".join(f"{best[name]:>15,.0f}" for name, _ in targets) + "   " + ", ".join(ratios), flush=True)
    finally:
        peer.terminate()
        peer.wait()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--client":
        asyncio.run(client_main(json.loads(sys.argv[2])))
    elif len(sys.argv) > 3 and sys.argv[1] == "--serve-amqtt":
        asyncio.run(amqtt_main(int(sys.argv[2]), int(sys.argv[3])))
    else:
        parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
        parser.add_argument("--clients", type=int, nargs="+", default=[10, 100, 1000])
        parser.add_argument("--events", type=int, default=100, help="events per run")
        parser.add_argument("--repeat", type=int, default=1, help="interleaved runs per N (best is reported)")
        parser.add_argument("--window", type=int, default=16, help="HTTP mutations in flight at once (Syncline)")
        asyncio.run(main(parser.parse_args()))
