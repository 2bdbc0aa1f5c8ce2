"""Shared auth fixtures: real keys, real tokens, a real JWKS server on 127.0.0.1 port 0."""

from __future__ import annotations

import functools
import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import jwt
import pytest
from aiohttp import web
from cryptography.hazmat.primitives.asymmetric import ec, rsa

ISSUER = "https://issuer.test/pool"
AUDIENCE = "client-123"


def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@functools.cache
def shared_rsa_key() -> rsa.RSAPrivateKey:
    """One RSA key for the session: generating 2048-bit keys per test costs ~0.3 s each."""
    return rsa_key()


def jwk_of(key: Any, kid: str, alg: str) -> dict[str, Any]:
    pub = key.public_key()
    algo = jwt.algorithms.RSAAlgorithm if alg.startswith(("RS", "PS")) else jwt.algorithms.ECAlgorithm
    d = json.loads(algo.to_jwk(pub))
    d.update({"kid": kid, "alg": alg, "use": "sig"})
    return d


@dataclass
class Signer:
    """Makes tokens with the test's own keys."""

    rsa: rsa.RSAPrivateKey = field(default_factory=shared_rsa_key)
    ec: ec.EllipticCurvePrivateKey = field(default_factory=lambda: ec.generate_private_key(ec.SECP256R1()))
    rsa_kid: str = "rsa-1"
    ec_kid: str = "ec-1"

    def jwks(self) -> dict[str, Any]:
        return {"keys": [jwk_of(self.rsa, self.rsa_kid, "RS256"), jwk_of(self.ec, self.ec_kid, "ES256")]}

    def claims(self, **over: Any) -> dict[str, Any]:
        now = int(time.time())
        c: dict[str, Any] = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": "sub-" + uuid.uuid4().hex[:8],
            "cognito:username": "alice",
            "cognito:groups": ["Admins"],
            "iat": now,
            "exp": now + 3600,
            "token_use": "id",
        }
        c.update(over)
        return {k: v for k, v in c.items() if v is not None}

    def token(self, *, alg: str = "RS256", kid: str | None = None, key: Any = None, **claims: Any) -> str:
        if key is None:
            key = self.ec if alg.startswith("ES") else self.rsa
        if kid is None:
            kid = self.ec_kid if alg.startswith("ES") else self.rsa_kid
        return jwt.encode(self.claims(**claims), key, algorithm=alg, headers={"kid": kid})


@pytest.fixture
def signer() -> Signer:
    return Signer()


@dataclass
class JwksServer:
    url: str
    hits: int = 0
    doc: dict[str, Any] = field(default_factory=dict)


@pytest.fixture
async def jwks_server(signer: Signer):
    """Serves the signer's JWKS; counts fetches so the refetch floor can be tested."""
    state = JwksServer(url="", doc=signer.jwks())

    async def handler(request: web.Request) -> web.Response:
        state.hits += 1
        return web.json_response(state.doc)

    app = web.Application()
    app.router.add_get("/.well-known/jwks.json", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    state.url = f"http://127.0.0.1:{port}/.well-known/jwks.json"
    yield state
    await runner.cleanup()


class Clock:
    """A settable Unix clock (starts at real time so tokens signed now are valid)."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()
