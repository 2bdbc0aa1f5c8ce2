"""AWS_IAM: AWS Signature Version 4 verification against access keys from config. Sans-IO.

The caller passes everything (method, raw path, raw query, headers, body, now), so the same
code checks HTTP requests, the WebSocket handshake and anything else that carries a SigV4
header. The canonical request follows the AWS spec ("Create a canonical request for Signature
Version 4"): for services other than S3 the path is normalised and URI-encoded once more, the
query is sorted by encoded name then value, header values are trimmed with inner runs of
spaces collapsed, and `host` must be among the signed headers.
"""

from __future__ import annotations

import hashlib
import hmac
import posixpath
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Mapping
from urllib.parse import quote, unquote

from server.auth.identity import Identity
from server.errors import ConfigError, Unauthorized

__all__ = [
    "ALGORITHM",
    "AccessKey",
    "SigV4Config",
    "SigV4Verifier",
    "UNSIGNED_PAYLOAD",
]

ALGORITHM = "AWS4-HMAC-SHA256"
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
_AUTH_RE = re.compile(
    r"^AWS4-HMAC-SHA256\s+Credential=(?P<cred>[^,\s]+)\s*,\s*SignedHeaders=(?P<sh>[^,\s]+)\s*,\s*Signature=(?P<sig>[0-9a-fA-F]{64})\s*$"
)
_SPACES = re.compile(r" +")


@dataclass(frozen=True, kw_only=True)
class AccessKey:
    """One configured IAM principal (`[[auth.iam.access_keys]]`)."""

    access_key_id: str
    secret_access_key: str = field(repr=False)
    #: Shown as the identity's username, e.g. "ci" or an ARN.
    principal: str
    groups: tuple[str, ...] = ()
    account_id: str = "000000000000"
    user_arn: str | None = None


@dataclass(frozen=True, kw_only=True)
class SigV4Config:
    access_keys: tuple[AccessKey, ...] = ()
    #: Services a credential scope may name ("appsync" is what AWS SDKs sign for AppSync).
    services: tuple[str, ...] = ("appsync",)
    #: Accepted regions; empty = any.
    regions: tuple[str, ...] = ()
    #: AWS allows a request date at most 5 minutes from the server's clock.
    clock_window_s: float = 300.0
    #: Accept `x-amz-content-sha256: UNSIGNED-PAYLOAD` (off: the body must be signed).
    allow_unsigned_payload: bool = False

    def __post_init__(self) -> None:
        seen: set[str] = set()
        for k in self.access_keys:
            if not k.access_key_id or not k.secret_access_key:
                raise ConfigError("[auth.iam] access_keys: each needs access_key_id and secret_access_key")
            if k.access_key_id in seen:
                raise ConfigError(f"[auth.iam] access_keys: {k.access_key_id} is listed twice")
            seen.add(k.access_key_id)


def _canonical_uri(raw_path: str) -> str:
    path = raw_path or "/"
    normalized = posixpath.normpath(path)
    if path.endswith("/") and normalized != "/":
        normalized += "/"
    if normalized.startswith("//"):
        normalized = "/" + normalized.lstrip("/")
    return quote(normalized, safe="/~")


def _canonical_query(raw_query: str) -> str:
    if not raw_query:
        return ""
    pairs = []
    for part in raw_query.split("&"):
        if not part:
            continue
        name, _, value = part.partition("=")
        pairs.append((quote(unquote(name), safe="-_.~"), quote(unquote(value), safe="-_.~")))
    return "&".join(f"{n}={v}" for n, v in sorted(pairs))


def _signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    k = hmac.new(("AWS4" + secret).encode(), date.encode(), hashlib.sha256).digest()
    k = hmac.new(k, region.encode(), hashlib.sha256).digest()
    k = hmac.new(k, service.encode(), hashlib.sha256).digest()
    return hmac.new(k, b"aws4_request", hashlib.sha256).digest()


class SigV4Verifier:
    """Checks `Authorization: AWS4-HMAC-SHA256 ...` requests against configured keys."""

    def __init__(self, config: SigV4Config) -> None:
        self.config = config
        self._keys = {k.access_key_id: k for k in config.access_keys}

    def verify(
        self,
        *,
        method: str,
        path: str,
        query: str,
        headers: Mapping[str, str],
        body: bytes,
        now: datetime,
        source_ip: str | None = None,
    ) -> Identity:
        """The identity of a correctly signed request.

        Args:
            path: the path as sent (still percent-encoded), e.g. aiohttp's `request.raw_path`
                without its query.
            query: the raw query string, without `?`.
            headers: request headers (any case).
            now: the server's clock, timezone-aware.

        Raises:
            Unauthorized: with a reason (never the signature or the secret).
        """
        h = {k.lower(): v for k, v in headers.items()}
        m = _AUTH_RE.match(h.get("authorization", "").strip())
        if m is None:
            raise Unauthorized("malformed AWS4-HMAC-SHA256 Authorization header")
        parts = m["cred"].split("/")
        if len(parts) != 5 or parts[4] != "aws4_request":
            raise Unauthorized("SigV4 credential must be AKID/date/region/service/aws4_request")
        akid, scope_date, region, service, _ = parts
        if service not in self.config.services:
            raise Unauthorized(f"SigV4 service {service!r} is not accepted (expected {', '.join(self.config.services)})")
        if self.config.regions and region not in self.config.regions:
            raise Unauthorized(f"SigV4 region {region!r} is not accepted")
        signed = m["sh"].split(";")
        if signed != sorted(signed) or any(s != s.lower() or not s for s in signed):
            raise Unauthorized("SigV4 SignedHeaders must be lower-case and sorted")
        if "host" not in signed:
            raise Unauthorized("SigV4 SignedHeaders must include host")
        missing = [s for s in signed if s not in h]
        if missing:
            raise Unauthorized(f"SigV4 signed headers missing from the request: {', '.join(missing)}")
        for must in ("x-amz-date", "x-amz-security-token", "x-amz-content-sha256"):
            if must in h and must not in signed:
                raise Unauthorized(f"SigV4: header {must} is present but not signed")
        amz_date = h.get("x-amz-date")
        if amz_date is None:
            raise Unauthorized("SigV4 request has no x-amz-date header")
        try:
            when = datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=timezone.utc)
        except ValueError:
            raise Unauthorized("SigV4 x-amz-date is not in the form 20260101T000000Z") from None
        if scope_date != amz_date[:8]:
            raise Unauthorized("SigV4 credential date does not match x-amz-date")
        skew = abs((now - when).total_seconds())
        if skew > self.config.clock_window_s:
            raise Unauthorized(
                f"SigV4 request time {amz_date} is {skew:.0f}s from the server's clock (limit {self.config.clock_window_s:g}s)"
            )
        body_hash = hashlib.sha256(body).hexdigest()
        declared = h.get("x-amz-content-sha256")
        if declared is not None:
            if declared == UNSIGNED_PAYLOAD:
                if not self.config.allow_unsigned_payload:
                    raise Unauthorized("SigV4 UNSIGNED-PAYLOAD is not accepted; sign the body")
                body_hash = UNSIGNED_PAYLOAD
            elif not hmac.compare_digest(declared.lower(), body_hash):
                raise Unauthorized("SigV4 x-amz-content-sha256 does not match the body")
        key = self._keys.get(akid)
        if key is None:
            raise Unauthorized(f"SigV4 access key {akid} is not configured")
        canonical_headers = "".join(f"{s}:{_SPACES.sub(' ', h[s].strip())}\n" for s in signed)
        canonical_request = "\n".join(
            [method.upper(), _canonical_uri(path), _canonical_query(query), canonical_headers, m["sh"], body_hash]
        )
        scope = f"{scope_date}/{region}/{service}/aws4_request"
        string_to_sign = "\n".join(
            [ALGORITHM, amz_date, scope, hashlib.sha256(canonical_request.encode("utf-8")).hexdigest()]
        )
        expected = hmac.new(
            _signing_key(key.secret_access_key, scope_date, region, service), string_to_sign.encode(), hashlib.sha256
        ).hexdigest()
        if not hmac.compare_digest(expected, m["sig"].lower()):
            raise Unauthorized(f"SigV4 signature does not match for access key {akid}")
        arn = key.user_arn or f"arn:aws:iam::{key.account_id}:user/{key.principal}"
        return Identity(
            auth_mode="AWS_IAM",
            username=key.principal,
            groups=key.groups,
            claims={"userArn": arn, "accountId": key.account_id, "accessKey": akid},
            source_ip=source_ip,
        )
