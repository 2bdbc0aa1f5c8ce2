"""Credentials: each auth gives the headers for HTTP requests and the WebSocket connection_init.

The same header names as the server reads on HTTP (docs/auth.md): `x-api-key`, or
`Authorization` for JWT and custom (Lambda) authorizers. SigV4 (AWS_IAM) signs each request
instead (`SigningAuth`): its headers depend on the method, URL and body, so the adapters call
`request_headers`, which serves both kinds.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Awaitable, Callable, Mapping, Protocol, runtime_checkable

from ._sigv4 import Credentials, sign

__all__ = ["ApiKey", "Auth", "HeaderAuth", "Headers", "Jwt", "SigV4", "SigningAuth", "request_headers"]


@runtime_checkable
class HeaderAuth(Protocol):
    """Credentials sent as the same headers on every request."""

    async def headers(self) -> dict[str, str]: ...


@runtime_checkable
class SigningAuth(Protocol):
    """Credentials that sign each request: the headers to add for this method, URL, headers and body."""

    async def sign(self, method: str, url: str, headers: Mapping[str, str], body: bytes) -> dict[str, str]: ...


Auth = HeaderAuth | SigningAuth


async def request_headers(auth: Auth | None, method: str, url: str, headers: Mapping[str, str], body: bytes) -> dict[str, str]:
    """The headers a request carries: `headers` plus the credentials' (signed over all of it for SigV4)."""
    out = dict(headers)
    if auth is None:
        return out
    if isinstance(auth, SigningAuth):
        return await auth.sign(method, url, out, body)
    out.update(await auth.headers())
    return out


@dataclass(frozen=True)
class ApiKey:
    key: str

    async def headers(self) -> dict[str, str]:
        return {"x-api-key": self.key}


@dataclass(frozen=True)
class Jwt:
    """`token_provider` returns (or awaits to) a current token; called per request, so it may refresh."""

    token_provider: Callable[[], str | Awaitable[str]]
    bearer: bool = False

    async def headers(self) -> dict[str, str]:
        tok = self.token_provider()
        if inspect.isawaitable(tok):
            tok = await tok
        assert isinstance(tok, str)
        return {"Authorization": f"Bearer {tok}" if self.bearer else tok}


@dataclass(frozen=True)
class Headers:
    """Fixed headers, e.g. a custom (Lambda) authorizer token: Headers({"Authorization": "..."})."""

    values: Mapping[str, str]

    async def headers(self) -> dict[str, str]:
        return dict(self.values)


@dataclass(frozen=True)
class SigV4:
    """AWS_IAM: every request signed with AWS Signature Version 4 for `service` in `region`.

    HTTP requests are signed as sent (POST, path, body). The WebSocket is authorised by its
    connection_init payload, which carries the headers of a signed GET of the WebSocket URL
    with an empty body: what the server checks for graphql-transport-ws (docs/auth.md).
    """

    access_key_id: str
    secret_access_key: str = field(repr=False)
    region: str = "us-east-1"
    session_token: str | None = field(default=None, repr=False)
    service: str = "appsync"

    async def sign(self, method: str, url: str, headers: Mapping[str, str], body: bytes) -> dict[str, str]:
        creds = Credentials(
            access_key_id=self.access_key_id, secret_access_key=self.secret_access_key, session_token=self.session_token
        )
        return sign(
            method=method,
            url=url,
            headers=headers,
            body=body,
            credentials=creds,
            region=self.region,
            service=self.service,
            now=datetime.now(timezone.utc),
        )
