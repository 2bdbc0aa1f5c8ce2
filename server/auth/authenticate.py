"""The one identity function every channel calls: HTTP, the WebSocket handshake, MQTT CONNECT.

`Authenticator(config).authenticate(headers, ...)` picks the mode from the headers, as AppSync
does, restricted to the modes syncline.toml enables (one default plus additional ones):

    x-api-key: da2-...                        → API_KEY
    Authorization: AWS4-HMAC-SHA256 ...       → AWS_IAM
    Authorization: <JWT> (or "Bearer <JWT>")  → OPENID_CONNECT / AMAZON_COGNITO_USER_POOLS
                                                 (by issuer when both are enabled)
    Authorization: anything else              → AWS_LAMBDA

A refusal raises Unauthorized and logs one line (logger "syncline.auth") with the mode, the
source IP and the reason; the credential itself is never logged.

`[auth]` in syncline.toml (all sections optional; see docs/auth.md)::

    [auth]
    default_mode = "API_KEY"                 # API_KEY | OPENID_CONNECT | AMAZON_COGNITO_USER_POOLS | AWS_IAM | AWS_LAMBDA
    additional_modes = ["AMAZON_COGNITO_USER_POOLS"]
    [auth.api_key]   keys = ["da2-..." | {key, description, expires}], store = true
    [auth.oidc]      issuer, client_id, jwks_url | key_file | hmac_secret, algorithms, clock_skew,
                     max_token_age, max_token_bytes, username_claim, groups_claim, jwks_ttl,
                     refetch_interval, fetch_timeout, cache_size
    [auth.cognito]   the same keys, or user_pool_id + region
    [auth.iam]       services, regions, clock_window, allow_unsigned_payload,
                     access_keys = [{access_key_id, secret_access_key, principal, groups, account_id, user_arn}]
    [auth.lambda]    function = "module:function", ttl, timeout, identity_validation_expression,
                     api_id, account_id
"""

from __future__ import annotations

import base64
import binascii
import difflib
import json
import logging
import re
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Mapping, get_args

from server.auth.api_keys import ApiKeyRegistry, parse_expiry
from server.auth.identity import AuthMode, Identity
from server.auth.lambda_authorizer import AuthorizerFn, LambdaAuthorizer, LambdaConfig
from server.auth.oidc import DEFAULT_ALGORITHMS, DEFAULT_USERNAME_CLAIMS, JwtConfig, JwtMode, JwtVerifier
from server.auth.sigv4 import AccessKey, SigV4Config, SigV4Verifier
from server.errors import ConfigError, Unauthorized

__all__ = [
    "AuthConfig",
    "Authenticator",
    "CLIENT_MODES",
    "MAX_CREDENTIAL_BYTES",
    "headers_from_appsync_handshake",
    "headers_from_mqtt_connect",
]

log = logging.getLogger("syncline.auth")

CLIENT_MODES: tuple[AuthMode, ...] = tuple(m for m in get_args(AuthMode) if m != "SYSTEM")
MAX_CREDENTIAL_BYTES = 16_384
"""No credential of any mode is longer; bigger ones are refused before any parsing."""
_JWT_RE = re.compile(r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$")
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_UNIT_S = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86_400.0}


@dataclass(frozen=True, kw_only=True)
class AuthConfig:
    """Every mode's settings; `from_mapping` reads syncline.toml's `[auth]` table."""

    default_mode: AuthMode = "API_KEY"
    additional_modes: tuple[AuthMode, ...] = ()
    #: Keys from config: (key, description, expires unix seconds or None).
    api_keys: tuple[tuple[str, str, float | None], ...] = ()
    #: Also accept keys from `<data_dir>/api_keys.json` (`syncline keys ...`).
    api_key_store: bool = True
    oidc: JwtConfig | None = None
    cognito: JwtConfig | None = None
    iam: SigV4Config | None = None
    lambda_: LambdaConfig | None = None

    def __post_init__(self) -> None:
        for m in (self.default_mode, *self.additional_modes):
            if m not in CLIENT_MODES:
                raise ConfigError(f"[auth] unknown mode {m!r}; choose from {', '.join(CLIENT_MODES)}")
        needs: dict[str, tuple[object, str]] = {
            "OPENID_CONNECT": (self.oidc, "[auth.oidc]"),
            "AMAZON_COGNITO_USER_POOLS": (self.cognito, "[auth.cognito]"),
            "AWS_IAM": (self.iam, "[auth.iam]"),
            "AWS_LAMBDA": (self.lambda_, "[auth.lambda]"),
        }
        for m in self.modes:
            if m in needs and needs[m][0] is None:
                raise ConfigError(f"[auth] mode {m} is enabled but {needs[m][1]} is missing")

    @property
    def modes(self) -> frozenset[AuthMode]:
        return frozenset((self.default_mode, *self.additional_modes))

    @classmethod
    def from_mapping(
        cls, data: Mapping[str, Any], *, api_key: str | None = None, base_dir: Path | None = None
    ) -> AuthConfig:
        """Parse the `[auth]` table.

        Args:
            data: the table as tomllib returns it.
            api_key: `[server] api_key` / `SYNCLINE_API_KEY`, accepted as a never-expiring key.
            base_dir: relative `key_file` paths resolve against it (the project directory).

        Raises:
            ConfigError: naming the bad key (with a "did you mean" for near misses).
        """
        r = _Reader(data, "[auth]")
        default = r.choice("default_mode", CLIENT_MODES, "API_KEY")
        additional = tuple(r.str_list("additional_modes", ()))
        for m in additional:
            if m not in CLIENT_MODES:
                raise ConfigError(f"[auth] additional_modes: unknown mode {m!r}; choose from {', '.join(CLIENT_MODES)}")
        keys: list[tuple[str, str, float | None]] = []
        store = True
        ak = r.table("api_key")
        if ak is not None:
            for i, item in enumerate(ak.items("keys", [])):
                where = f"[auth.api_key] keys[{i}]"
                if isinstance(item, str):
                    keys.append((item, "", None))
                elif isinstance(item, Mapping):
                    kr = _Reader(item, where)
                    key = kr.text("key", None)
                    if not key:
                        raise ConfigError(f"{where}: needs key")
                    keys.append((key, kr.text("description", "") or "", parse_expiry(kr.raw("expires"), now=0, key=f"{where}.expires")))
                    kr.done()
                else:
                    raise ConfigError(f"{where}: expected a key string or a table {{key, description, expires}}")
            store = ak.flag("store", True)
            ak.done()
        if api_key:
            keys.append((api_key, "SYNCLINE_API_KEY", None))
        oidc_t = r.table("oidc")
        cognito_t = r.table("cognito")
        iam_t = r.table("iam")
        lambda_t = r.table("lambda")
        r.done()
        return cls(
            default_mode=default,  # type: ignore[arg-type]
            additional_modes=additional,  # type: ignore[arg-type]
            api_keys=tuple(keys),
            api_key_store=store,
            oidc=_jwt_config(oidc_t, "OPENID_CONNECT", base_dir) if oidc_t else None,
            cognito=_jwt_config(cognito_t, "AMAZON_COGNITO_USER_POOLS", base_dir) if cognito_t else None,
            iam=_iam_config(iam_t) if iam_t else None,
            lambda_=_lambda_config(lambda_t) if lambda_t else None,
        )


class _Reader:
    """Reads one TOML table, remembering which keys were used so `done` can name the rest."""

    def __init__(self, data: Any, where: str) -> None:
        if not isinstance(data, Mapping):
            raise ConfigError(f"{where}: expected a table")
        self.data, self.where, self.used = data, where, set[str]()

    def raw(self, key: str) -> Any:
        self.used.add(key)
        return self.data.get(key)

    def _get(self, key: str, types: type | tuple[type, ...], what: str, default: Any) -> Any:
        value = self.raw(key)
        if value is None:
            return default
        if isinstance(value, bool) and bool not in (types if isinstance(types, tuple) else (types,)):
            raise ConfigError(f"{self.where} {key}: expected {what}, got {value!r}")
        if not isinstance(value, types):
            raise ConfigError(f"{self.where} {key}: expected {what}, got {value!r}")
        return value

    def text(self, key: str, default: str | None) -> str | None:
        value: str | None = self._get(key, str, "a string", default)
        return value

    def flag(self, key: str, default: bool) -> bool:
        return self._get(key, bool, "true or false", default)  # type: ignore[no-any-return]

    def count(self, key: str, default: int) -> int:
        value = self._get(key, int, "a whole number", default)
        if value <= 0:
            raise ConfigError(f"{self.where} {key}: must be positive, got {value}")
        return value  # type: ignore[no-any-return]

    def items(self, key: str, default: list[Any]) -> list[Any]:
        return self._get(key, list, "a list", default)  # type: ignore[no-any-return]

    def str_list(self, key: str, default: tuple[str, ...], *, allow_single: bool = False) -> tuple[str, ...]:
        value = self.raw(key)
        if value is None:
            return default
        if allow_single and isinstance(value, str):
            return (value,)
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{self.where} {key}: expected a list of strings, got {value!r}")
        return tuple(value)

    def choice(self, key: str, choices: tuple[str, ...], default: str) -> str:
        value = self.text(key, default)
        if value is None or value not in choices:
            raise ConfigError(f"{self.where} {key}: {value!r} is not one of {', '.join(choices)}")
        return value

    def seconds(self, key: str, default: float | None) -> float | None:
        value = self.raw(key)
        if value is None:
            return default
        if isinstance(value, bool):
            raise ConfigError(f"{self.where} {key}: expected a duration such as \"30s\", got {value!r}")
        if isinstance(value, (int, float)):
            if value < 0:
                raise ConfigError(f"{self.where} {key}: a duration cannot be negative")
            return float(value)
        if isinstance(value, str):
            m = _DURATION.match(value)
            if m:
                return float(m.group(1)) * _UNIT_S[m.group(2) or "s"]
        raise ConfigError(f"{self.where} {key}: expected a duration such as \"30s\", \"5m\" or a number of seconds, got {value!r}")

    def table(self, key: str) -> _Reader | None:
        value = self.raw(key)
        if value is None:
            return None
        return _Reader(value, f"{self.where[:-1]}.{key}]")

    def done(self) -> None:
        unknown = [k for k in self.data if k not in self.used]
        if unknown:
            k = unknown[0]
            close = difflib.get_close_matches(k, sorted(self.used), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else f" (known: {', '.join(sorted(self.used))})"
            raise ConfigError(f"{self.where}: unknown key {k!r}{hint}")


_JWT_KEYS = (
    "issuer client_id jwks_url key_file hmac_secret algorithms clock_skew max_token_age max_token_bytes "
    "username_claim groups_claim jwks_ttl refetch_interval fetch_timeout cache_size user_pool_id region"
).split()


def _jwt_config(r: _Reader, mode: JwtMode, base_dir: Path | None) -> JwtConfig:
    issuer = r.text("issuer", None)
    jwks_url = r.text("jwks_url", None)
    pool, region = r.text("user_pool_id", None), r.text("region", None)
    if pool or region:
        if mode != "AMAZON_COGNITO_USER_POOLS" or not (pool and region):
            raise ConfigError(f"{r.where}: user_pool_id and region go together, and only in [auth.cognito]")
        issuer = issuer or f"https://cognito-idp.{region}.amazonaws.com/{pool}"
        if not (jwks_url or r.data.get("key_file") or r.data.get("hmac_secret")):
            jwks_url = issuer + "/.well-known/jwks.json"
    key_file = r.text("key_file", None)
    path = None
    if key_file:
        path = Path(key_file)
        if not path.is_absolute() and base_dir is not None:
            path = base_dir / path
    try:
        cfg = JwtConfig(
            mode=mode,
            issuer=issuer,
            audiences=r.str_list("client_id", (), allow_single=True),
            jwks_url=jwks_url,
            key_file=path,
            hmac_secret=r.text("hmac_secret", None),
            algorithms=r.str_list("algorithms", DEFAULT_ALGORITHMS, allow_single=True),
            clock_skew_s=r.seconds("clock_skew", 60.0) or 0.0,
            max_token_age_s=r.seconds("max_token_age", None),
            max_token_bytes=r.count("max_token_bytes", 8192),
            username_claims=r.str_list("username_claim", DEFAULT_USERNAME_CLAIMS, allow_single=True),
            groups_claim=r.text("groups_claim", "cognito:groups") or "cognito:groups",
            jwks_ttl_s=r.seconds("jwks_ttl", 3600.0) or 3600.0,
            refetch_interval_s=r.seconds("refetch_interval", 30.0) or 0.0,
            fetch_timeout_s=r.seconds("fetch_timeout", 5.0),
            cache_size=r.count("cache_size", 10_000),
        )
    except ConfigError as exc:
        raise ConfigError(exc.message.replace("[auth]", r.where, 1)) from exc
    r.done()
    return cfg


def _iam_config(r: _Reader) -> SigV4Config:
    keys = []
    for i, item in enumerate(r.items("access_keys", [])):
        kr = _Reader(item, f"[auth.iam] access_keys[{i}]")
        akid, secret, principal = kr.text("access_key_id", None), kr.text("secret_access_key", None), kr.text("principal", None)
        if not (akid and secret and principal):
            raise ConfigError(f"{kr.where}: needs access_key_id, secret_access_key and principal")
        keys.append(
            AccessKey(
                access_key_id=akid,
                secret_access_key=secret,
                principal=principal,
                groups=kr.str_list("groups", ()),
                account_id=kr.text("account_id", "000000000000") or "000000000000",
                user_arn=kr.text("user_arn", None),
            )
        )
        kr.done()
    cfg = SigV4Config(
        access_keys=tuple(keys),
        services=r.str_list("services", ("appsync",), allow_single=True),
        regions=r.str_list("regions", (), allow_single=True),
        clock_window_s=r.seconds("clock_window", 300.0) or 300.0,
        allow_unsigned_payload=r.flag("allow_unsigned_payload", False),
    )
    r.done()
    return cfg


def _lambda_config(r: _Reader) -> LambdaConfig:
    function = r.text("function", None)
    if not function:
        raise ConfigError("[auth.lambda] function: required, e.g. \"authorizers:check\"")
    cfg = LambdaConfig(
        function=function,
        ttl_s=r.seconds("ttl", 300.0) or 0.0,
        timeout_s=r.seconds("timeout", 10.0),
        identity_validation_expression=r.text("identity_validation_expression", None),
        api_id=r.text("api_id", "syncline") or "syncline",
        account_id=r.text("account_id", "000000000000") or "000000000000",
    )
    r.done()
    return cfg


class Authenticator:
    """Builds the Identity of a request from its headers.

    Args:
        config: which modes are on and their settings.
        data_dir: the project's data directory (API keys made by `syncline keys create`).
        clock: Unix-seconds clock for expiry checks (tests inject one).
        lambda_function: the AWS_LAMBDA authorizer, instead of importing `config.lambda_.function`.
        project_dir: where `config.lambda_.function` is looked up (PROJECT/authorizers.py).
    """

    def __init__(
        self,
        config: AuthConfig,
        *,
        data_dir: Path | None = None,
        clock: Callable[[], float] = time.time,
        lambda_function: AuthorizerFn | None = None,
        project_dir: Path | None = None,
    ) -> None:
        self.config = config
        self._clock = clock
        modes = config.modes
        self.api_keys = (
            ApiKeyRegistry(data_dir if config.api_key_store else None, configured=config.api_keys, clock=clock)
            if "API_KEY" in modes
            else None
        )
        self._jwt: dict[str, JwtVerifier] = {}
        if "OPENID_CONNECT" in modes and config.oidc is not None:
            self._jwt["OPENID_CONNECT"] = JwtVerifier(config.oidc, clock=clock)
        if "AMAZON_COGNITO_USER_POOLS" in modes and config.cognito is not None:
            self._jwt["AMAZON_COGNITO_USER_POOLS"] = JwtVerifier(config.cognito, clock=clock)
        self._sigv4 = SigV4Verifier(config.iam) if "AWS_IAM" in modes and config.iam is not None else None
        self._lambda = (
            LambdaAuthorizer(config.lambda_, function=lambda_function, project_dir=project_dir)
            if "AWS_LAMBDA" in modes and config.lambda_ is not None
            else None
        )

    async def close(self) -> None:
        """Close the JWKS HTTP sessions."""
        for v in self._jwt.values():
            await v.close()

    async def authenticate(
        self,
        headers: Mapping[str, str],
        *,
        method: str = "POST",
        path: str = "/graphql",
        query: str = "",
        body: bytes = b"",
        source_ip: str | None = None,
    ) -> Identity:
        """The caller's identity.

        Args:
            headers: request headers in any case (for MQTT CONNECT / WS handshakes, a mapping
                built from what the client sent, e.g. {"authorization": password}).
            method, path, query, body: needed by AWS_IAM (raw path and query, as sent) and
                for the AWS_LAMBDA event (the GraphQL request in `body`).

        Raises:
            Unauthorized: no usable credential, a mode that is not enabled, or a credential
                its mode refuses; the reason is logged, the credential never.
        """
        h = {k.lower(): v for k, v in headers.items()}
        mode = "NONE"
        try:
            if "x-api-key" in h:
                mode = "API_KEY"
                return self._api_key(h["x-api-key"].strip(), source_ip)
            auth = h.get("authorization", "").strip()
            if not auth:
                raise Unauthorized("no credentials: send an x-api-key or an Authorization header")
            if len(auth) > MAX_CREDENTIAL_BYTES:
                raise Unauthorized(f"Authorization header is longer than {MAX_CREDENTIAL_BYTES} bytes")
            if auth.startswith("AWS4-"):
                mode = "AWS_IAM"
                return self._iam(h, method, path, query, body, source_ip)
            token = auth[7:].strip() if auth[:7].lower() == "bearer " else auth
            verifier = self._pick_jwt(token)
            if verifier is not None:
                mode = verifier.config.mode
                return await verifier.verify(token, source_ip=source_ip)
            mode = "AWS_LAMBDA"
            return await self._lambda_auth(auth, h, body, source_ip)
        except Unauthorized as exc:
            log.warning("authentication refused: mode=%s source_ip=%s reason=%s", mode, source_ip, exc.message)
            raise

    def _require(self, mode: AuthMode) -> None:
        if mode not in self.config.modes:
            raise Unauthorized(f"{mode} authorization is not enabled on this API")

    def _api_key(self, key: str, source_ip: str | None) -> Identity:
        self._require("API_KEY")
        assert self.api_keys is not None
        rec = self.api_keys.verify(key)
        return Identity(auth_mode="API_KEY", api_key_id=rec.id, source_ip=source_ip)

    def _iam(
        self, h: Mapping[str, str], method: str, path: str, query: str, body: bytes, source_ip: str | None
    ) -> Identity:
        self._require("AWS_IAM")
        assert self._sigv4 is not None
        now = datetime.fromtimestamp(self._clock(), timezone.utc)
        return self._sigv4.verify(method=method, path=path, query=query, headers=h, body=body, now=now, source_ip=source_ip)

    def _pick_jwt(self, token: str) -> JwtVerifier | None:
        """The JWT provider for a token, or None to hand it to the Lambda authorizer."""
        if not _JWT_RE.match(token):
            if not self._jwt or self._lambda is not None:
                return None
            raise Unauthorized("Authorization header is not a JWT")
        if not self._jwt:
            return None
        if len(self._jwt) == 1 and self._lambda is None:
            return next(iter(self._jwt.values()))
        iss = next(iter(self._jwt.values())).peek_issuer(token)
        for v in self._jwt.values():
            if v.config.issuer is not None and v.config.issuer == iss:
                return v
        if self._lambda is not None:
            return None
        return next(iter(self._jwt.values()))

    async def _lambda_auth(self, token: str, h: Mapping[str, str], body: bytes, source_ip: str | None) -> Identity:
        if self._lambda is None:
            enabled = ", ".join(sorted(self.config.modes))
            raise Unauthorized(f"Authorization header is not usable with the enabled modes ({enabled})")
        query_string, op, variables = "", None, None
        if body:
            try:
                req = json.loads(body)
            except ValueError:
                req = None
            if isinstance(req, dict):
                q = req.get("query")
                query_string = q if isinstance(q, str) else ""
                op = req.get("operationName") if isinstance(req.get("operationName"), str) else None
                variables = req.get("variables") if isinstance(req.get("variables"), dict) else None
        return await self._lambda.authorize(
            token, headers=h, query_string=query_string, operation_name=op, variables=variables, source_ip=source_ip
        )


# -- other channels: turn what they carry into the headers `authenticate` takes --------------


def headers_from_appsync_handshake(header_param: str) -> dict[str, str]:
    """The headers in AppSync's real-time handshake (`wss://…?header=<base64 JSON>&payload=e30=`).

    The JSON holds `host` plus the mode's header (`x-api-key`, `Authorization`, or for IAM the
    signed `Authorization`, `x-amz-date`, … of a POST to `/graphql/connect` with body `{}`).

    Raises:
        Unauthorized: the parameter is not base64 of a JSON object of strings.
    """
    try:
        padded = header_param + "=" * (-len(header_param) % 4)
        data = json.loads(base64.b64decode(padded.replace("-", "+").replace("_", "/"), validate=True))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise Unauthorized("the handshake's header parameter is not base64-encoded JSON") from None
    if not isinstance(data, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in data.items()):
        raise Unauthorized("the handshake's header parameter must be a JSON object of strings")
    return {k.lower(): v for k, v in data.items()}


def headers_from_mqtt_connect(username: str | None, password: bytes | str | None) -> dict[str, str]:
    """The headers an MQTT CONNECT stands for: the password is the credential.

    `username` "x-api-key" (or a password that looks like an API key, `da2-…`) selects
    API_KEY; anything else is sent as `Authorization` (a JWT or a Lambda token).
    """
    if password is None:
        return {}
    if isinstance(password, bytes):
        try:
            password = password.decode("utf-8")
        except UnicodeDecodeError:
            raise Unauthorized("MQTT password is not UTF-8") from None
    if (username or "").lower() in ("x-api-key", "apikey", "api_key") or password.startswith("da2-"):
        return {"x-api-key": password}
    return {"authorization": password}
