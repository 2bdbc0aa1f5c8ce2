"""AWS's own Amplify JS client (npm `aws-amplify` v6, `generateClient`) against a Syncline server
served over HTTPS/WSS with a `syncline dev-cert` certificate.

Amplify insists on wss:// and derives the real-time URL itself (`<endpoint>/realtime` for a
non-AppSync host), puts the connection's auth in a `header-<base64url>` subprotocol and each
start's auth in `payload.extensions.authorization`. Node trusts the self-signed certificate
through NODE_EXTRA_CA_CERTS; TLS verification stays on (one test checks that it is on).

`npm ci` runs once into tests/e2e/amplify_js/node_modules (kept while package-lock.json is
unchanged). The tests skip only when node/npm are missing or the npm registry is unreachable.
"""

from __future__ import annotations

import asyncio
import fcntl
import hashlib
import json
import os
import shutil
import ssl
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from server.app import Running, running
from server.auth.tls import make_dev_cert
from server.protocols import ProtocolName
from server.settings import load_settings

from .conftest import API_KEY, copy_project

pytestmark = pytest.mark.timeout(300)  # the first run includes `npm ci`

HERE = Path(__file__).resolve().parent / "amplify_js"
STAMP = HERE / "node_modules" / ".syncline-lock-sha256"
WAIT = 20.0  # seconds for one expected line; Amplify's own handshake timeouts are 15 s

CREATE = "mutation($i: CreateTodoInput!) { createTodo(input: $i) { id title done priority tags } }"


def _npm_ci() -> None:
    """Install the pinned packages unless node_modules already matches package-lock.json."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        pytest.skip("node and npm are needed for the Amplify JS test (node >= 20)")
    version = subprocess.run([node, "--version"], capture_output=True, text=True, check=True).stdout.strip()
    if int(version.lstrip("v").split(".")[0]) < 20:
        pytest.fail(f"Amplify JS needs node >= 20, found {version}")
    lock = hashlib.sha256((HERE / "package-lock.json").read_bytes()).hexdigest()
    with open(HERE / ".npm-ci.lock", "w") as guard:  # one installer at a time
        fcntl.flock(guard, fcntl.LOCK_EX)
        if STAMP.exists() and STAMP.read_text().strip() == lock:
            return
        ci = subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund"], cwd=HERE, capture_output=True, text=True, timeout=240
        )
        if ci.returncode != 0:
            ping = subprocess.run([npm, "ping"], cwd=HERE, capture_output=True, text=True, timeout=60)
            if ping.returncode != 0:
                pytest.skip(f"the npm registry is unreachable (npm ping: {ping.stderr.strip()[-300:]})")
            pytest.fail(f"npm ci failed although the registry answers:\n{ci.stdout[-2000:]}\n{ci.stderr[-2000:]}")
        STAMP.write_text(lock + "\n")


@pytest.fixture(scope="module")
def amplify_js() -> Path:
    _npm_ci()
    return HERE


class Tls:
    def __init__(self, tmp: Path) -> None:
        self.cert, self.key = tmp / "dev.crt", tmp / "dev.key"
        make_dev_cert(self.cert, self.key)
        self.trust = ssl.create_default_context(cafile=str(self.cert))


@pytest.fixture
def tls(tmp_path: Path) -> Tls:
    return Tls(tmp_path)


@pytest.fixture
async def server(tmp_path: Path, tls: Tls) -> AsyncIterator[Running]:
    project = copy_project("todo", tmp_path)
    settings = load_settings(
        project, env={"SYNCLINE_API_KEY": API_KEY}, overrides={"tls_cert": tls.cert, "tls_key": tls.key}
    )
    async with running(settings, port=0) as srv:
        assert srv.url.startswith("https://127.0.0.1:")
        yield srv


class Amplify:
    """client.mjs as a subprocess: JSON commands in on stdin, JSON lines out on stdout."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.seen: list[dict[str, Any]] = []

    @classmethod
    async def start(cls, app: Path, graphql_url: str, api_key: str, ca: Path | None) -> Amplify:
        env = {k: v for k, v in os.environ.items() if not k.startswith("NODE_")}  # no NODE_TLS_REJECT_UNAUTHORIZED
        env.update(SYNCLINE_GRAPHQL_URL=graphql_url, SYNCLINE_API_KEY=api_key)
        if ca is not None:
            env["NODE_EXTRA_CA_CERTS"] = str(ca)
        proc = await asyncio.create_subprocess_exec(
            "node", str(app / "client.mjs"), cwd=app, env=env,
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )
        return cls(proc)

    async def send(self, **command: Any) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write((json.dumps(command) + "\n").encode())
        await self.proc.stdin.drain()

    async def wait(self, op_id: str, event: str = "data", count: int = 1) -> list[dict[str, Any]]:
        """The first `count` lines with this id and event, reading on as needed; fail on a timeout."""
        while len(found := self.lines(op_id, event)) < count:
            try:
                raw = await asyncio.wait_for(self._readline(), WAIT)
            except TimeoutError:
                raise AssertionError(f"no {count}x {event!r} for {op_id!r} within {WAIT} s; saw {self.seen}") from None
            self.seen.append(json.loads(raw))
        return found[:count]

    async def one(self, op_id: str, event: str) -> dict[str, Any]:
        return (await self.wait(op_id, event))[0]

    def lines(self, op_id: str, event: str = "data") -> list[dict[str, Any]]:
        return [line for line in self.seen if line["id"] == op_id and line["event"] == event]

    async def _readline(self) -> bytes:
        assert self.proc.stdout is not None and self.proc.stderr is not None
        raw = await self.proc.stdout.readline()
        if not raw:
            stderr = (await self.proc.stderr.read()).decode(errors="replace")
            raise AssertionError(f"client.mjs exited ({await self.proc.wait()}): {stderr[-3000:]}")
        return raw

    async def close(self) -> None:
        if self.proc.returncode is None:
            try:
                await self.send(op="exit")
                await asyncio.wait_for(self.proc.wait(), 10)
            except (TimeoutError, ConnectionError):
                self.proc.kill()
                await self.proc.wait()


@pytest.fixture
async def amplify(amplify_js: Path) -> AsyncIterator[Any]:
    clients: list[Amplify] = []

    async def start(url: str, key: str = API_KEY, ca: Path | None = None) -> Amplify:
        client = await Amplify.start(amplify_js, url, key, ca)
        clients.append(client)
        return client

    yield start
    for client in clients:
        await client.close()


def _todo(line: dict[str, Any], field: str) -> dict[str, Any]:
    todo: dict[str, Any] = line["data"][field]
    return todo


async def test_amplify_subscribes_over_wss_and_gets_http_and_amplify_mutations(
    server: Running, tls: Tls, amplify: Any
) -> None:
    client: Amplify = await amplify(server.url, ca=tls.cert)
    await client.send(op="subscribe", id="all")
    await client.send(op="subscribe", id="done", filter={"done": {"eq": True}})
    await client.one("all", "ready")
    await client.one("done", "ready")

    # Amplify chose the AppSync protocol on /graphql/realtime over TLS, auth in a header- subprotocol.
    realtime = server.syncline.realtime
    assert realtime is not None
    (conn,) = realtime.connections
    assert (conn.protocol, conn.request.path, conn.request.secure) == (ProtocolName.APPSYNC, "/graphql/realtime", True)
    offered = conn.request.headers["Sec-WebSocket-Protocol"]
    assert "graphql-ws" in offered and "header-" in offered
    assert len(conn.subscriptions) == 2

    # A mutation over plain HTTPS (not through Amplify) ...
    async with aiohttp.ClientSession() as s:
        async with s.post(
            server.url,
            json={"query": CREATE, "variables": {"i": {"title": "from http", "done": False, "priority": "HIGH", "tags": ["a", "b"]}}},
            headers={"x-api-key": API_KEY},
            ssl=tls.trust,
        ) as r:
            body = await r.json()
    assert "errors" not in body, body
    from_http = body["data"]["createTodo"]
    # ... and one through Amplify's own client.graphql over HTTPS.
    await client.send(op="create", id="m1", input={"title": "from amplify", "done": True})
    from_amplify = _todo(await client.one("m1", "result"), "createTodo")
    assert from_amplify["title"] == "from amplify" and from_amplify["id"]

    first, second = (_todo(line, "onCreateTodo") for line in await client.wait("all", count=2))
    assert {k: first[k] for k in ("id", "title", "done", "priority", "tags")} == {
        "id": from_http["id"], "title": "from http", "done": False, "priority": "HIGH", "tags": ["a", "b"],
    }
    assert first["createdAt"] and first["updatedAt"]
    assert {k: second[k] for k in ("id", "title", "done")} == {"id": from_amplify["id"], "title": "from amplify", "done": True}

    # The filtered subscription got the done todo only; the not-done one came first on the same
    # socket, so had it been delivered it would already be here.
    await client.wait("done")
    assert [_todo(line, "onCreateTodo")["id"] for line in client.lines("done")] == [from_amplify["id"]]


async def test_amplify_with_a_bad_api_key_gets_errors_not_a_hang(server: Running, tls: Tls, amplify: Any) -> None:
    client: Amplify = await amplify(server.url, key="da2-not-a-valid-key", ca=tls.cert)
    await client.send(op="subscribe", id="s")
    failed = await client.one("s", "error")
    assert "UnauthorizedException" in failed["errors"][0]["message"]
    # Over HTTPS: Amplify names the error after x-amzn-ErrorType, as for AppSync.
    await client.send(op="create", id="m", input={"title": "nope"})
    refused = (await client.one("m", "error"))["errors"][0]
    assert (refused["message"], refused["causes"][:1]) == ("Unauthorized", ["UnauthorizedException"])
    assert not client.lines("s", "ready")


async def test_amplify_verifies_the_certificate(server: Running, tls: Tls, amplify: Any) -> None:
    """Without NODE_EXTRA_CA_CERTS the self-signed certificate is refused: TLS checks are on."""
    client: Amplify = await amplify(server.url, ca=None)
    await client.send(op="create", id="m", input={"title": "untrusted"})
    failed = (await client.one("m", "error"))["errors"][0]
    assert "DEPTH_ZERO_SELF_SIGNED_CERT" in failed["causes"], failed
    async with aiohttp.ClientSession() as s:
        async with s.post(
            server.url, json={"query": "{ listTodos { items { id } } }"}, headers={"x-api-key": API_KEY},
            ssl=tls.trust,
        ) as r:
            assert (await r.json())["data"]["listTodos"]["items"] == []
