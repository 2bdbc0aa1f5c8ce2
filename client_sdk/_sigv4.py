"""AWS Signature Version 4 signing (AWS4-HMAC-SHA256), sans-IO: request parts and a time in,
headers out.

Follows the AWS spec ("Create a signed AWS API request"), as botocore's `SigV4Auth` does for
services other than S3: the path is normalised (dot segments and repeated slashes removed) and
URI-encoded once more, the query is sorted by encoded name then value, header values are
trimmed with inner whitespace collapsed, and every header given is signed (host always).
Written on hashlib/hmac so the SDK needs no AWS library; tests check it against botocore.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Mapping
from urllib.parse import quote, unquote, urlsplit

__all__ = ["ALGORITHM", "Credentials", "host_of", "sign"]

ALGORITHM = "AWS4-HMAC-SHA256"
_DEFAULT_PORTS = {"http": 80, "ws": 80, "https": 443, "wss": 443}
#: Headers a proxy or the HTTP library may change on the way: never signed (as in botocore).
_UNSIGNED = frozenset(
    "authorization baggage connection expect keep-alive proxy-authenticate proxy-authorization te traceparent "
    "tracestate trailer transfer-encoding upgrade user-agent x-amzn-trace-id".split()
)


@dataclass(frozen=True, kw_only=True)
class Credentials:
    access_key_id: str
    secret_access_key: str = field(repr=False)
    session_token: str | None = field(default=None, repr=False)


def host_of(url: str) -> str:
    """The Host header for `url`: the host, plus the port unless it is the scheme's default."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    port = parts.port
    if port is not None and port != _DEFAULT_PORTS.get(parts.scheme.lower()):
        host = f"{host}:{port}"
    return host


def _remove_dot_segments(path: str) -> str:
    if not path:
        return "/"
    out: list[str] = []
    for seg in path.split("/"):
        if seg in ("", "."):
            continue
        if seg == "..":
            if out:
                out.pop()
        else:
            out.append(seg)
    first = "/" if path.startswith("/") else ""
    last = "/" if path.endswith("/") and out else ""
    return first + "/".join(out) + last


def canonical_uri(raw_path: str) -> str:
    return quote(_remove_dot_segments(raw_path), safe="/~")


def canonical_query(raw_query: str) -> str:
    pairs = []
    for part in raw_query.split("&"):
        if not part:
            continue
        name, _, value = part.partition("=")
        pairs.append((quote(unquote(name), safe="-_.~"), quote(unquote(value), safe="-_.~")))
    return "&".join(f"{n}={v}" for n, v in sorted(pairs))


def signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    k = hmac.new(("AWS4" + secret).encode(), date.encode(), hashlib.sha256).digest()
    for part in (region, service, "aws4_request"):
        k = hmac.new(k, part.encode(), hashlib.sha256).digest()
    return k


def sign(
    *,
    method: str,
    url: str,
    headers: Mapping[str, str],
    body: bytes,
    credentials: Credentials,
    region: str,
    service: str,
    now: datetime,
) -> dict[str, str]:
    """The headers to send: `headers` plus host, x-amz-date, x-amz-security-token (with a
    session token) and authorization, all with lower-case names.

    Args:
        url: the request URL as it will be sent (path and query still percent-encoded).
        now: the signing time (timezone-aware, or naive UTC); the server allows 5 minutes of skew.
    """
    if now.tzinfo is not None:
        now = now.astimezone(timezone.utc)
    amz_date = now.strftime("%Y%m%dT%H%M%SZ")
    date = amz_date[:8]
    out = {k.lower(): v for k, v in headers.items() if k.lower() not in ("authorization", "x-amz-date", "x-amz-security-token")}
    out.setdefault("host", host_of(url))
    out["x-amz-date"] = amz_date
    if credentials.session_token:
        out["x-amz-security-token"] = credentials.session_token
    signed = sorted(k for k in out if k not in _UNSIGNED)
    canonical_headers = "".join(f"{k}:{' '.join(out[k].split())}\n" for k in signed)
    signed_headers = ";".join(signed)
    parts = urlsplit(url)
    canonical_request = "\n".join(
        [
            method.upper(),
            canonical_uri(parts.path),
            canonical_query(parts.query),
            canonical_headers,
            signed_headers,
            hashlib.sha256(body).hexdigest(),
        ]
    )
    scope = f"{date}/{region}/{service}/aws4_request"
    string_to_sign = "\n".join([ALGORITHM, amz_date, scope, hashlib.sha256(canonical_request.encode("utf-8")).hexdigest()])
    signature = hmac.new(
        signing_key(credentials.secret_access_key, date, region, service), string_to_sign.encode("utf-8"), hashlib.sha256
    ).hexdigest()
    out["authorization"] = (
        f"{ALGORITHM} Credential={credentials.access_key_id}/{scope}, SignedHeaders={signed_headers}, Signature={signature}"
    )
    return out
