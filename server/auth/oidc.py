"""OPENID_CONNECT / AMAZON_COGNITO_USER_POOLS: JWT verification with pyjwt + cryptography.

Keys come from a JWKS URL (fetched with aiohttp, cached, refetched when a token names an
unknown `kid`, but never more often than `refetch_interval_s`, so a flood of made-up kids
cannot hammer the issuer) or from a local JWKS / PEM file.

Defences, each tested in tests/auth/test_attacks.py:
- `alg` must be on the allow-list (default asymmetric only) and match the key's family: an
  RSA key verifies only RS*/PS*, an EC key only ES*, so "HS256 signed with the RSA public
  key" fails before pyjwt is called; `none` is never accepted.
- size limit before any parsing; issuer; audience (`aud`, or Cognito access tokens'
  `client_id`); exp / nbf / iat with a configured clock skew; optional maximum token age.

Verified tokens are cached (bounded LRU keyed by the token's SHA-256, valid until `exp`), so a
client that sends the same token on every request pays a dict lookup, not an RSA verify.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import time
from collections import OrderedDict
from dataclasses import dataclass, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any, Callable, Literal, Mapping

import aiohttp
import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa

from server.auth.identity import Identity
from server.errors import ConfigError, Unauthorized

__all__ = [
    "DEFAULT_ALGORITHMS",
    "DEFAULT_USERNAME_CLAIMS",
    "JwtConfig",
    "JwtMode",
    "JwtVerifier",
    "KNOWN_ALGORITHMS",
    "load_key_file",
]

log = logging.getLogger("syncline.auth")

JwtMode = Literal["OPENID_CONNECT", "AMAZON_COGNITO_USER_POOLS"]

DEFAULT_ALGORITHMS: tuple[str, ...] = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA")
_FAMILY_ALGS: dict[str, frozenset[str]] = {
    "RSA": frozenset({"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"}),
    "EC": frozenset({"ES256", "ES384", "ES512", "ES256K"}),
    "OKP": frozenset({"EdDSA"}),
    "oct": frozenset({"HS256", "HS384", "HS512"}),
}
KNOWN_ALGORITHMS = frozenset().union(*_FAMILY_ALGS.values())
DEFAULT_USERNAME_CLAIMS: tuple[str, ...] = ("cognito:username", "username", "sub")
"""Cognito puts the user name in `cognito:username` (ID tokens) or `username` (access tokens);
other issuers have only `sub`, which is unique and stable, so it is the last fallback."""


@dataclass(frozen=True, kw_only=True)
class JwtConfig:
    """One JWT provider (`[auth.oidc]` or `[auth.cognito]`)."""

    mode: JwtMode = "OPENID_CONNECT"
    issuer: str | None = None
    #: Accepted audiences (AppSync's OIDC client id / Cognito app client ids); empty = any.
    audiences: tuple[str, ...] = ()
    jwks_url: str | None = None
    #: A JWKS JSON file or a PEM public key (or certificate).
    key_file: Path | None = None
    #: Shared secret for HS* tokens; only when explicitly configured (never with public keys).
    hmac_secret: str | None = None
    algorithms: tuple[str, ...] = DEFAULT_ALGORITHMS
    clock_skew_s: float = 60.0
    #: Refuse tokens issued longer ago than this (AppSync's `iatTTL`); None = no limit.
    max_token_age_s: float | None = None
    max_token_bytes: int = 8192
    username_claims: tuple[str, ...] = DEFAULT_USERNAME_CLAIMS
    groups_claim: str = "cognito:groups"
    jwks_ttl_s: float = 3600.0
    refetch_interval_s: float = 30.0
    fetch_timeout_s: float | None = 5.0
    cache_size: int = 10_000

    def __post_init__(self) -> None:
        bad = [a for a in self.algorithms if a not in KNOWN_ALGORITHMS]
        if bad or not self.algorithms:
            raise ConfigError(
                f"[auth] algorithms: unsupported {bad or 'empty list'}; choose from {sorted(KNOWN_ALGORITHMS)} ('none' is never allowed)"
            )
        sources = [s for s in (self.jwks_url, self.key_file, self.hmac_secret) if s]
        if len(sources) != 1:
            raise ConfigError("[auth] a JWT provider needs exactly one of jwks_url, key_file or hmac_secret")
        hs = [a for a in self.algorithms if a.startswith("HS")]
        if hs and not self.hmac_secret:
            raise ConfigError(f"[auth] algorithms: {hs} need hmac_secret; HMAC is never verified with public keys")
        if self.hmac_secret and any(not a.startswith("HS") for a in self.algorithms):
            raise ConfigError("[auth] algorithms: with hmac_secret only HS256/HS384/HS512 are allowed")


def _family(key: Any) -> str:
    if isinstance(key, (rsa.RSAPublicKey, rsa.RSAPrivateKey)):
        return "RSA"
    if isinstance(key, (ec.EllipticCurvePublicKey, ec.EllipticCurvePrivateKey)):
        return "EC"
    if isinstance(key, (ed25519.Ed25519PublicKey, ed448.Ed448PublicKey)):
        return "OKP"
    if isinstance(key, bytes):
        return "oct"
    raise ConfigError(f"unsupported key type {type(key).__name__}")


def _keys_from_jwks(data: Any, *, where: str) -> dict[str | None, Any]:
    if not isinstance(data, dict) or not isinstance(data.get("keys"), list):
        raise ConfigError(f"{where}: not a JWKS document (expected {{\"keys\": [...]}})")
    keys: dict[str | None, Any] = {}
    for jwk in data["keys"]:
        if not isinstance(jwk, dict) or jwk.get("use", "sig") != "sig":
            continue
        if jwk.get("kty") == "oct":
            continue  # symmetric keys in a public JWKS are never trusted
        try:
            keys[jwk.get("kid")] = jwt.PyJWK(jwk).key
        except (jwt.PyJWKError, jwt.InvalidKeyError, ValueError, TypeError) as exc:
            log.warning("%s: skipping unusable key %r: %s", where, jwk.get("kid"), exc)
    return keys


def load_key_file(path: Path) -> dict[str | None, Any]:
    """Keys from a JWKS JSON file or a PEM public key / certificate (kid None = any kid)."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"[auth] key_file {path}: {exc.strerror}") from exc
    if raw.lstrip().startswith(b"{"):
        return _keys_from_jwks(json.loads(raw), where=str(path))
    try:
        if b"CERTIFICATE" in raw:
            from cryptography import x509

            return {None: x509.load_pem_x509_certificate(raw).public_key()}
        return {None: serialization.load_pem_public_key(raw)}
    except ValueError as exc:
        raise ConfigError(f"[auth] key_file {path}: not a JWKS, PEM public key or certificate ({exc})") from exc


class JwtVerifier:
    """Verifies JWTs for one provider; `verify` is async because it may fetch the JWKS.

    Args:
        config: the provider's settings.
        clock: Unix-seconds clock (tests inject one to test expiry and the refetch floor).
    """

    def __init__(self, config: JwtConfig, *, clock: Callable[[], float] = time.time) -> None:
        self.config = config
        self._clock = clock
        self._keys: dict[str | None, Any] = {}
        self._fetched_at: float | None = None
        self._fetch_lock = asyncio.Lock()
        self._session: aiohttp.ClientSession | None = None
        self._cache: OrderedDict[bytes, tuple[Identity, float]] = OrderedDict()
        self.fetch_count = 0
        if config.key_file is not None:
            self._keys = load_key_file(config.key_file)
        elif config.hmac_secret is not None:
            self._keys = {None: config.hmac_secret.encode("utf-8")}

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    # -- keys -----------------------------------------------------------------------------

    async def _fetch(self) -> None:
        url = self.config.jwks_url
        assert url is not None
        if self._session is None:
            self._session = aiohttp.ClientSession()
        self._fetched_at = self._clock()  # set first: a failing issuer is not retried in a loop
        self.fetch_count += 1
        try:
            async with asyncio.timeout(self.config.fetch_timeout_s):
                async with self._session.get(url) as resp:
                    if resp.status != 200:
                        raise Unauthorized(f"JWKS fetch from {url} answered HTTP {resp.status}")
                    data = await resp.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            raise Unauthorized(f"JWKS fetch from {url} failed: {exc.__class__.__name__}") from exc
        try:
            self._keys = _keys_from_jwks(data, where=url)
        except ConfigError as exc:
            raise Unauthorized(f"JWKS from {url} is unusable: {exc.message}") from exc

    async def _key_for(self, kid: str | None) -> Any:
        if self.config.jwks_url is None:
            key = self._keys.get(kid, self._keys.get(None))
            if key is None:
                raise Unauthorized(f"no configured key has kid {kid!r}")
            return key
        now = self._clock()
        stale = self._fetched_at is None or now - self._fetched_at >= self.config.jwks_ttl_s
        if kid in self._keys and not stale:
            return self._keys[kid]
        async with self._fetch_lock:
            now = self._clock()
            if kid in self._keys and self._fetched_at is not None and now - self._fetched_at < self.config.jwks_ttl_s:
                return self._keys[kid]
            floor_ok = self._fetched_at is None or now - self._fetched_at >= self.config.refetch_interval_s
            if floor_ok:
                try:
                    await self._fetch()
                except Unauthorized as exc:
                    if kid not in self._keys:
                        raise
                    # The issuer is down but we know this key: keep serving with it rather
                    # than locking every user out; the next refresh is after the floor.
                    log.warning("JWKS refresh failed, using cached keys: %s", exc.message)
        if kid not in self._keys:
            if not floor_ok:
                raise Unauthorized(
                    f"unknown kid {kid!r}; the JWKS was fetched {now - (self._fetched_at or now):.0f}s ago "
                    f"(refetched at most every {self.config.refetch_interval_s:g}s)"
                )
            raise Unauthorized(f"unknown kid {kid!r}: not in the issuer's JWKS")
        return self._keys[kid]

    # -- verification -------------------------------------------------------------------

    def peek_issuer(self, token: str) -> str | None:
        """The unverified `iss` (only to route a token to its provider; never trusted)."""
        try:
            iss = jwt.decode(token, options={"verify_signature": False}).get("iss")
        except jwt.PyJWTError:
            return None
        return iss if isinstance(iss, str) else None

    async def verify(self, token: str, *, source_ip: str | None = None) -> Identity:
        """The identity a valid token proves.

        Raises:
            Unauthorized: with a reason that never contains the token.
        """
        cfg = self.config
        if len(token) > cfg.max_token_bytes:
            raise Unauthorized(f"token is {len(token)} bytes, more than the {cfg.max_token_bytes} allowed")
        now = self._clock()
        digest = hashlib.sha256(token.encode("utf-8", "surrogateescape")).digest()
        hit = self._cache.get(digest)
        if hit is not None:
            identity, exp = hit
            if now < exp:
                self._cache.move_to_end(digest)
                return identity if identity.source_ip == source_ip else _with_ip(identity, source_ip)
            del self._cache[digest]
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise Unauthorized(f"malformed JWT: {exc}") from exc
        alg = header.get("alg")
        if not isinstance(alg, str) or alg.lower() == "none" or alg not in cfg.algorithms:
            raise Unauthorized(f"JWT algorithm {alg!r} is not allowed (allowed: {', '.join(cfg.algorithms)})")
        kid = header.get("kid")
        if kid is not None and not isinstance(kid, str):
            raise Unauthorized("JWT header kid is not a string")
        key = await self._key_for(kid)
        family = _family(key)
        if alg not in _FAMILY_ALGS[family]:
            raise Unauthorized(f"JWT algorithm {alg} does not match the {family} key {kid!r}")
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key=key,
                algorithms=[alg],
                issuer=cfg.issuer,
                leeway=cfg.clock_skew_s,
                # exp/nbf/iat are checked below against our clock, with our skew.
                options={
                    "require": ["exp", "iat"],
                    "verify_aud": False,
                    "verify_iat": False,
                    "verify_exp": False,
                    "verify_nbf": False,
                },
            )
        except jwt.PyJWTError as exc:
            raise Unauthorized(f"JWT rejected: {exc}") from exc
        exp_raw, iat_raw = claims.get("exp"), claims.get("iat")
        if not isinstance(exp_raw, (int, float)) or not isinstance(iat_raw, (int, float)):
            raise Unauthorized("JWT exp and iat must be numbers")
        exp, iat = float(exp_raw), float(iat_raw)
        if now > exp + cfg.clock_skew_s:
            raise Unauthorized("JWT has expired")
        nbf = claims.get("nbf")
        if isinstance(nbf, (int, float)) and now + cfg.clock_skew_s < float(nbf):
            raise Unauthorized("JWT is not yet valid (nbf)")
        if now + cfg.clock_skew_s < iat:
            raise Unauthorized("JWT was issued in the future (iat)")
        if cfg.max_token_age_s is not None and now - iat > cfg.max_token_age_s + cfg.clock_skew_s:
            raise Unauthorized(f"JWT is older than {cfg.max_token_age_s:g}s (iat)")
        if cfg.audiences:
            aud = claims.get("aud", claims.get("client_id"))
            auds = [aud] if isinstance(aud, str) else aud if isinstance(aud, list) else []
            if not any(a in cfg.audiences for a in auds):
                raise Unauthorized("JWT audience (aud / client_id) is not one of the configured client ids")
        identity = self._identity(claims, source_ip)
        self._cache[digest] = (identity, float(exp) + cfg.clock_skew_s)
        if len(self._cache) > cfg.cache_size:
            self._cache.popitem(last=False)
        return identity

    def _identity(self, claims: Mapping[str, Any], source_ip: str | None) -> Identity:
        username = None
        for name in self.config.username_claims:
            value = claims.get(name)
            if isinstance(value, (str, int)) and not isinstance(value, bool):
                username = str(value)
                break
        raw_groups = claims.get(self.config.groups_claim, ())
        if isinstance(raw_groups, str):
            # Some issuers send one group as a string, or a comma/space separated list.
            raw_groups = [g for g in raw_groups.replace(",", " ").split() if g]
        groups = tuple(str(g) for g in raw_groups) if isinstance(raw_groups, (list, tuple)) else ()
        sub = claims.get("sub")
        return Identity(
            auth_mode=self.config.mode,
            username=username,
            sub=str(sub) if sub is not None else None,
            groups=groups,
            # Read-only: the identity is cached and shared by every request with this token.
            claims=MappingProxyType(dict(claims)),
            source_ip=source_ip,
        )


def _with_ip(identity: Identity, source_ip: str | None) -> Identity:
    return replace(identity, source_ip=source_ip)
