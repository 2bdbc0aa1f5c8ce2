"""Table-driven attacks: each is refused with Unauthorized, a reason, one log line, and the
credential never appears in the log (issue 3, "Bad input")."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import time
from dataclasses import dataclass
from typing import Any, Callable

import pytest
from cryptography.hazmat.primitives import serialization

from server.errors import Unauthorized

from .conftest import AUDIENCE, rsa_key
from .sigv4_helpers import signed
from .world import World, make_world


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def forge(header: dict[str, Any], claims: dict[str, Any], key: bytes | None) -> str:
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims).encode())}"
    sig = b"" if key is None else hmac.new(key, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64(sig)}"


@dataclass
class Attack:
    name: str
    #: world -> (headers, authenticate kwargs, the secret that must not be logged or None)
    build: Callable[[World], tuple[dict[str, str], dict[str, Any], str | None]]
    reason: str
    before: Callable[[World], None] | None = None


def jwt_attack(make_token: Callable[[World], str]):
    def build(w: World):
        token = make_token(w)
        return {"Authorization": token}, {}, token

    return build


def iam_attack(mutate: Callable[[dict], dict]):
    def build(w: World):
        req = mutate(signed())
        return req.pop("headers"), req, req["headers_secret"] if "headers_secret" in req else None

    return build


def hs256_with_rsa_public_key(w: World) -> str:
    pem = w.signer.rsa.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    return forge({"alg": "HS256", "typ": "JWT", "kid": w.signer.rsa_kid}, w.signer.claims(), pem)


def tampered(w: World) -> str:
    head, _, sig = w.signer.token().split(".")
    evil = w.signer.claims(**{"cognito:groups": ["Admins", "Root"], "sub": "someone-else"})
    return f"{head}.{b64(json.dumps(evil).encode())}.{sig}"


def drop_host(req: dict) -> dict:
    h = dict(req["headers"])
    h["Authorization"] = h["Authorization"].replace("SignedHeaders=content-type;host;x-amz-date", "SignedHeaders=content-type;x-amz-date")
    assert h["Authorization"] != req["headers"]["Authorization"]
    return {**req, "headers": h}


def wrong_payload_hash(req: dict) -> dict:
    from .sigv4_helpers import signed as sign

    return sign(extra_headers={"X-Amz-Content-Sha256": hashlib.sha256(b"another body").hexdigest()})


def revoke(w: World) -> None:
    key, rec = w.auth.api_keys.create()
    w.auth.api_keys.revoke(rec.id)
    w.revoked_key = key  # type: ignore[attr-defined]


def expire(w: World) -> None:
    key, _ = w.auth.api_keys.create(ttl_s=86_400)
    w.clock.now += 86_400 + 1
    w.expired_key = key  # type: ignore[attr-defined]


ATTACKS = [
    Attack("no credentials", lambda w: ({}, {}, None), "no credentials"),
    Attack("empty authorization", lambda w: ({"Authorization": "   "}, {}, None), "no credentials"),
    Attack("bare Bearer", lambda w: ({"Authorization": "Bearer"}, {}, None), "Lambda authorizer"),
    Attack("garbled JWT", lambda w: ({"Authorization": "eyJhbGciOi.@@@.###"}, {}, "eyJhbGciOi.@@@.###"), "Lambda authorizer"),
    Attack("empty api key", lambda w: ({"x-api-key": ""}, {}, None), "API key is empty"),
    Attack("unknown api key", lambda w: ({"x-api-key": "da2-zzzzzzzzzzzzzzzzzzzzzzzzzz"}, {}, "da2-zzzzzzzzzzzzzzzzzzzzzzzzzz"), "not valid"),
    Attack("revoked api key", lambda w: ({"x-api-key": w.revoked_key}, {}, w.revoked_key), "revoked", before=revoke),
    Attack("expired api key", lambda w: ({"x-api-key": w.expired_key}, {}, w.expired_key), "expired", before=expire),
    Attack("expired token", jwt_attack(lambda w: w.signer.token(exp=int(time.time()) - 600, iat=int(time.time()) - 4000)), "expired"),
    Attack("not-yet-valid token", jwt_attack(lambda w: w.signer.token(nbf=int(time.time()) + 600)), "not yet valid"),
    Attack("issued in the future", jwt_attack(lambda w: w.signer.token(iat=int(time.time()) + 600)), "issued in the future"),
    Attack("wrong audience", jwt_attack(lambda w: w.signer.token(aud="another-client")), "audience"),
    Attack("no exp", jwt_attack(lambda w: w.signer.token(exp=None)), "exp"),
    Attack("alg none", jwt_attack(lambda w: forge({"alg": "none", "kid": w.signer.rsa_kid}, w.signer.claims(), None)), "algorithm 'none' is not allowed"),
    Attack("HS256 signed with the RSA public key", jwt_attack(hs256_with_rsa_public_key), "algorithm 'HS256' is not allowed"),
    Attack("RS256 header on the EC key", jwt_attack(lambda w: w.signer.token(kid=w.signer.ec_kid)), "does not match the EC key"),
    Attack("unknown kid", jwt_attack(lambda w: w.signer.token(kid="not-a-kid")), "unknown kid"),
    Attack("tampered payload", jwt_attack(tampered), "Signature verification failed"),
    Attack("token signed by another key", jwt_attack(lambda w: w.signer.token(key=rsa_key())), "Signature verification failed"),
    Attack("huge opaque header", lambda w: ({"Authorization": "custom-ok" + "x" * 20000}, {}, "custom-ok" + "x" * 20000), "longer than 16384"),
    Attack("oversized token", jwt_attack(lambda w: w.signer.token(pad="x" * 9000)), "more than the 8192 allowed"),
    Attack("SigV4 wrong payload hash", iam_attack(wrong_payload_hash), "does not match the body"),
    Attack("SigV4 host not signed", iam_attack(drop_host), "must include host"),
    Attack("SigV4 garbled header", lambda w: ({"Authorization": "AWS4-HMAC-SHA256 Credential=x"}, {}, None), "malformed"),
    Attack("SigV4 outside the time window", iam_attack(lambda r: r), "server's clock", before=lambda w: setattr(w.clock, "now", w.clock.now + 600)),
    Attack("Lambda authorizer raises", lambda w: ({"Authorization": "custom-raise"}, {}, "custom-raise"), "failed: RuntimeError"),
    Attack("Lambda authorizer times out", lambda w: ({"Authorization": "custom-slow"}, {}, "custom-slow"), "timed out"),
    Attack("Lambda authorizer denies", lambda w: ({"Authorization": "custom-no"}, {}, "custom-no"), "denied"),
]


@pytest.mark.parametrize("attack", ATTACKS, ids=[a.name for a in ATTACKS])
async def test_attack_is_refused_with_a_logged_reason(attack: Attack, tmp_path, signer, jwks_server, clock, caplog) -> None:
    world = await make_world(tmp_path, signer, jwks_server.url, clock)
    try:
        if attack.before:
            attack.before(world)
        headers, kwargs, secret = attack.build(world)
        caplog.clear()
        caplog.set_level(logging.WARNING, logger="syncline.auth")
        with pytest.raises(Unauthorized) as info:
            await world.auth.authenticate(headers, source_ip="198.51.100.9", **kwargs)
        assert info.value.error_type == "Unauthorized"
        assert attack.reason in info.value.message
        lines = [r.getMessage() for r in caplog.records if "authentication refused" in r.getMessage()]
        assert len(lines) == 1 and attack.reason in lines[0] and "198.51.100.9" in lines[0]
        if secret:
            assert secret not in caplog.text
            assert secret not in info.value.message
    finally:
        await world.auth.close()


async def test_unknown_kid_flood_is_bounded_by_the_refetch_floor(tmp_path, signer, jwks_server, clock) -> None:
    world = await make_world(tmp_path, signer, jwks_server.url, clock)
    try:
        await world.auth.authenticate({"Authorization": signer.token()})
        for i in range(100):
            with pytest.raises(Unauthorized, match="unknown kid"):
                await world.auth.authenticate({"Authorization": signer.token(kid=f"k{i}")})
        assert jwks_server.hits == 1  # inside the 30 s floor: no refetch at all
    finally:
        await world.auth.close()


def test_attack_table_has_no_duplicate_names() -> None:
    assert len({a.name for a in ATTACKS}) == len(ATTACKS) >= 25
    assert AUDIENCE
