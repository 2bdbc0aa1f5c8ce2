"""JWT verification against a JWKS served by a real aiohttp server, and local key files."""

from __future__ import annotations

import json

import pytest
from cryptography.hazmat.primitives import serialization

from server.auth.oidc import JwtConfig, JwtVerifier
from server.errors import ConfigError, Unauthorized

from .conftest import AUDIENCE, ISSUER, Signer, rsa_key


def url_config(url: str, **over) -> JwtConfig:
    base = dict(mode="AMAZON_COGNITO_USER_POOLS", issuer=ISSUER, audiences=(AUDIENCE,), jwks_url=url)
    base.update(over)
    return JwtConfig(**base)


async def test_valid_rsa_and_ec_tokens_give_a_cognito_identity(signer: Signer, jwks_server) -> None:
    v = JwtVerifier(url_config(jwks_server.url))
    try:
        for alg in ("RS256", "ES256"):
            ident = await v.verify(signer.token(alg=alg, sub="u-1"), source_ip="10.0.0.1")
            assert ident.auth_mode == "AMAZON_COGNITO_USER_POOLS"
            assert (ident.username, ident.sub, ident.groups) == ("alice", "u-1", ("Admins",))
            assert ident.claims["iss"] == ISSUER and ident.source_ip == "10.0.0.1"
            assert ident.to_appsync()["issuer"] == ISSUER
    finally:
        await v.close()
    assert jwks_server.hits == 1  # one fetch serves both keys


async def test_verified_tokens_are_cached_until_exp(signer: Signer, jwks_server, clock) -> None:
    v = JwtVerifier(url_config(jwks_server.url, clock_skew_s=0), clock=clock)
    token = signer.token(exp=int(clock.now) + 100)
    try:
        first = await v.verify(token)
        jwks_server.doc = {"keys": []}  # the issuer forgot the key: the cached result still holds
        assert await v.verify(token) is first
        clock.now += 101
        with pytest.raises(Unauthorized, match="expired"):
            await v.verify(token)
    finally:
        await v.close()


async def test_cache_is_bounded(signer: Signer, jwks_server) -> None:
    v = JwtVerifier(url_config(jwks_server.url, cache_size=3))
    try:
        for i in range(10):
            await v.verify(signer.token(sub=f"u{i}"))
        assert len(v._cache) == 3
    finally:
        await v.close()


async def test_key_rotation_is_picked_up_on_unknown_kid(signer: Signer, jwks_server, clock) -> None:
    v = JwtVerifier(url_config(jwks_server.url, refetch_interval_s=30), clock=clock)
    try:
        await v.verify(signer.token())
        rotated = Signer(rsa=rsa_key(), rsa_kid="rsa-2")
        jwks_server.doc = rotated.jwks()
        clock.now += 31
        ident = await v.verify(rotated.token(kid="rsa-2"))
        assert ident.username == "alice" and jwks_server.hits == 2
    finally:
        await v.close()


async def test_unknown_kid_flood_fetches_at_most_once_per_interval(signer: Signer, jwks_server, clock) -> None:
    v = JwtVerifier(url_config(jwks_server.url, refetch_interval_s=30), clock=clock)
    try:
        await v.verify(signer.token())
        assert jwks_server.hits == 1
        clock.now += 31
        for i in range(50):
            with pytest.raises(Unauthorized, match="unknown kid"):
                await v.verify(signer.token(kid=f"forged-{i}"))
        assert jwks_server.hits == 2  # the first unknown kid refetched; the other 49 hit the floor
    finally:
        await v.close()


async def test_jwks_ttl_refreshes_keys(signer: Signer, jwks_server, clock) -> None:
    v = JwtVerifier(url_config(jwks_server.url, jwks_ttl_s=600), clock=clock)
    try:
        await v.verify(signer.token(sub="a"))
        clock.now += 601
        await v.verify(signer.token(sub="b"))
        assert jwks_server.hits == 2
    finally:
        await v.close()


async def test_unreachable_jwks_is_unauthorized_not_a_crash(signer: Signer) -> None:
    v = JwtVerifier(url_config("http://127.0.0.1:9/jwks.json", fetch_timeout_s=2))
    try:
        with pytest.raises(Unauthorized, match="JWKS fetch"):
            await v.verify(signer.token())
    finally:
        await v.close()


async def test_local_jwks_file_and_pem_file(signer: Signer, tmp_path) -> None:
    jwks_file = tmp_path / "jwks.json"
    jwks_file.write_text(json.dumps(signer.jwks()))
    v = JwtVerifier(JwtConfig(mode="OPENID_CONNECT", issuer=ISSUER, key_file=jwks_file, username_claims=("sub",)))
    ident = await v.verify(signer.token(alg="ES256", sub="oidc-user"))
    assert ident.auth_mode == "OPENID_CONNECT" and ident.username == "oidc-user"

    pem = tmp_path / "key.pem"
    pem.write_bytes(
        signer.rsa.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    v2 = JwtVerifier(JwtConfig(issuer=ISSUER, key_file=pem))
    assert (await v2.verify(signer.token(kid="whatever"))).username == "alice"


async def test_access_tokens_use_client_id_as_audience(signer: Signer, jwks_server) -> None:
    v = JwtVerifier(url_config(jwks_server.url))
    try:
        ident = await v.verify(
            signer.token(**{"aud": None, "client_id": AUDIENCE, "cognito:username": None, "username": "bob"})
        )
        assert ident.username == "bob"  # access tokens carry `username`, not `cognito:username`
        ident = await v.verify(signer.token(**{"aud": None, "client_id": AUDIENCE, "cognito:username": None, "username": None}))
        assert ident.username == ident.sub  # falls back to sub
    finally:
        await v.close()


async def test_custom_claims_for_username_and_groups(signer: Signer, tmp_path) -> None:
    f = tmp_path / "jwks.json"
    f.write_text(json.dumps(signer.jwks()))
    v = JwtVerifier(JwtConfig(key_file=f, username_claims=("email",), groups_claim="roles"))
    ident = await v.verify(signer.token(email="e@x.org", roles="editors, viewers"))
    assert ident.username == "e@x.org" and ident.groups == ("editors", "viewers")


def test_max_token_age_and_hmac_settings_are_validated() -> None:
    with pytest.raises(ConfigError, match="need hmac_secret"):
        JwtConfig(jwks_url="http://x", algorithms=("HS256",))
    with pytest.raises(ConfigError, match="only HS"):
        JwtConfig(hmac_secret="s", algorithms=("RS256",))
    with pytest.raises(ConfigError, match="unsupported"):
        JwtConfig(jwks_url="http://x", algorithms=("none",))
    with pytest.raises(ConfigError, match="exactly one"):
        JwtConfig()


async def test_explicit_hmac_secret_works_only_for_hs_tokens(signer: Signer) -> None:
    import jwt as pyjwt

    v = JwtVerifier(JwtConfig(hmac_secret="s3cret-s3cret-s3cret-s3cret-s3cret!", algorithms=("HS256",)))
    tok = pyjwt.encode(signer.claims(), "s3cret-s3cret-s3cret-s3cret-s3cret!", algorithm="HS256")
    assert (await v.verify(tok)).username == "alice"
    with pytest.raises(Unauthorized, match="not allowed"):
        await v.verify(signer.token())


async def test_issuer_outage_keeps_known_keys_working(signer: Signer, jwks_server, clock) -> None:
    v = JwtVerifier(url_config(jwks_server.url, jwks_ttl_s=60), clock=clock)
    try:
        await v.verify(signer.token(sub="a"))
        v.config = url_config("http://127.0.0.1:9/down", jwks_ttl_s=60, fetch_timeout_s=2)
        clock.now += 61  # keys are stale; the refresh fails; the known kid still verifies
        assert (await v.verify(signer.token(sub="b"))).sub == "b"
        with pytest.raises(Unauthorized, match="JWKS fetch"):
            clock.now += 61
            await v.verify(signer.token(kid="new-kid"))
    finally:
        await v.close()


async def test_cached_identity_claims_are_read_only(signer: Signer, jwks_server) -> None:
    v = JwtVerifier(url_config(jwks_server.url))
    try:
        ident = await v.verify(signer.token())
        with pytest.raises(TypeError):
            ident.claims["cognito:groups"] = ["Root"]  # type: ignore[index]
        assert ident.to_appsync()["claims"]["cognito:groups"] == ["Admins"]
    finally:
        await v.close()
