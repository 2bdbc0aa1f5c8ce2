"""Queries/s of the same query under each auth mode, against one real server, beside API key.

One project with API_KEY (default), AMAZON_COGNITO_USER_POOLS, AWS_IAM and AWS_LAMBDA on; a
`@model` whose @auth rules admit all four, so every mode runs the same resolver and the same
directive and row checks. The server runs in its own process pinned to core 0, the load in
this one on core 1 (as bench_http.py). Modes are interleaved over several rounds and each
mode's best round is reported, which tames a shared box's noise.

- API key: `x-api-key`.
- JWT: one RS256 ID token (keys generated here, JWKS from a file), sent on every request;
  the server verifies it once and then hits its per-token cache.
- SigV4: one request signed by botocore, replayed (valid for the 5-minute window): the server
  verifies the signature on every request (canonical request, HMAC chain).
- Lambda: `authorizers:check` in the project; its answers are cached for the TTL.

    .venv/bin/python bench/bench_auth.py [--seconds 3] [--rounds 3] [--concurrency 32]

Target (issue 3): JWT / API key ≥ 0.8.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Awaitable, Callable

import aiohttp
import jwt
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from cryptography.hazmat.primitives.asymmetric import rsa

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_http import free_port, load, pin, start  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
KEY = "da2-benchauthbenchauthbenchaut"
ISSUER = "https://cognito-idp.bench/pool"
AUDIENCE = "bench-client"
AKID = "AKIABENCH00000000001"
SECRET = "benchSecretKeybenchSecretKeybenchSecret1"

SCHEMA = """
type Item @model @auth(rules: [
  { allow: public, provider: apiKey },
  { allow: private, provider: userPools },
  { allow: private, provider: iam },
  { allow: custom }
]) {
  title: String!
  done: Boolean
}
"""

AUTHORIZERS = """
def check(event):
    return {"isAuthorized": event["authorizationToken"] == "custom-bench", "resolverContext": {"t": "bench"}}
"""

TOML = f"""
[auth]
default_mode = "API_KEY"
additional_modes = ["AMAZON_COGNITO_USER_POOLS", "AWS_IAM", "AWS_LAMBDA"]

[auth.cognito]
issuer = "{ISSUER}"
client_id = "{AUDIENCE}"
key_file = "jwks.json"

[auth.iam]
access_keys = [{{ access_key_id = "{AKID}", secret_access_key = "{SECRET}", principal = "bench" }}]

[auth.lambda]
function = "authorizers:check"
ttl = "300s"
"""

QUERY = "query($id: ID!) { getItem(id: $id) { id title done _version } }"


def make_project(tmp: Path) -> tuple[Path, str]:
    """The project folder and an ID token its Cognito mode accepts."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    jwk.update({"kid": "bench-1", "alg": "RS256", "use": "sig"})
    project = tmp / "authbench"
    project.mkdir()
    (project / "schema.graphql").write_text(SCHEMA)
    (project / "authorizers.py").write_text(AUTHORIZERS)
    (project / "syncline.toml").write_text(TOML)
    (project / "jwks.json").write_text(json.dumps({"keys": [jwk]}))
    now = int(time.time())
    claims = {"iss": ISSUER, "aud": AUDIENCE, "sub": "bench-user", "cognito:username": "bench", "iat": now, "exp": now + 3600, "token_use": "id"}
    token = jwt.encode(claims, key, algorithm="RS256", headers={"kid": "bench-1"})
    return project, token


def sigv4(url: str, body: bytes) -> dict[str, str]:
    host = url.split("/")[2]
    req = AWSRequest(method="POST", url=url, data=body, headers={"Host": host, "Content-Type": "application/json"})
    SigV4Auth(Credentials(AKID, SECRET), "appsync", "us-east-1").add_auth(req)
    return dict(req.headers.items())


async def bench(seconds: float, rounds: int, concurrency: int) -> dict[str, float]:
    tmp = Path(tempfile.mkdtemp(prefix="syncline-authbench-"))
    try:
        project, token = make_project(tmp)
        port = free_port()
        env = {**os.environ, "SYNCLINE_API_KEY": KEY, "PYTHONPATH": str(ROOT)}
        srv = start(
            [*pin(0), sys.executable, "-m", "server.cli", "--log-level", "WARNING", "serve", str(project), "--port", str(port)],
            "Syncline serving",
            env,
        )
        try:
            url = f"http://127.0.0.1:{port}/graphql"
            async with aiohttp.ClientSession() as s:
                async with s.post(
                    url,
                    json={"query": 'mutation { createItem(input: {title: "bench"}) { id } }'},
                    headers={"x-api-key": KEY},
                ) as r:
                    item_id = (await r.json())["data"]["createItem"]["id"]
            body = json.dumps({"query": QUERY, "variables": {"id": item_id}}).encode()
            modes: dict[str, dict[str, str]] = {
                "API_KEY": {"x-api-key": KEY, "Content-Type": "application/json"},
                "JWT (Cognito)": {"Authorization": token, "Content-Type": "application/json"},
                "SigV4 (IAM)": sigv4(url, body),
                "Lambda": {"Authorization": "custom-bench", "Content-Type": "application/json"},
            }

            def caller(headers: dict[str, str]) -> Callable[[aiohttp.ClientSession, int], Awaitable[None]]:
                async def call(s: aiohttp.ClientSession, _: int) -> None:
                    async with s.post(url, data=body, headers=headers) as r:
                        answer: Any = await r.json()
                        assert r.status == 200 and answer["data"]["getItem"]["id"] == item_id, answer

                return call

            best: dict[str, float] = {}
            for _ in range(rounds):
                for name, headers in modes.items():
                    rate = await load(seconds, concurrency, caller(headers))
                    best[name] = max(best.get(name, 0.0), rate)
            return best
        finally:
            srv.send_signal(signal.SIGTERM)
            srv.wait()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if pin(1):
        os.sched_setaffinity(0, {1})
    r = asyncio.run(bench(args.seconds, args.rounds, args.concurrency))
    if args.json:
        print(json.dumps(r))
        return
    base = r["API_KEY"]
    print(f"{'mode':18}{'queries/s':>12}{'/ API key':>11}")
    for name, rate in r.items():
        print(f"{name:18}{rate:12,.0f}{rate / base:11.2f}")
    jwt_ratio = r["JWT (Cognito)"] / base
    print(f"JWT / API key = {jwt_ratio:.2f} (target >= 0.8): {'ok' if jwt_ratio >= 0.8 else 'BELOW TARGET'}")


if __name__ == "__main__":
    main()
