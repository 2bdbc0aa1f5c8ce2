"""Credentials: each auth gives the headers for HTTP requests and the WebSocket connection_init.

The same header names as the server reads on HTTP (docs/auth.md): `x-api-key`, or
`Authorization` for JWT and custom (Lambda) authorizers.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Awaitable, Callable, Mapping, Protocol

__all__ = ["ApiKey", "Auth", "Headers", "Jwt"]


class Auth(Protocol):
    async def headers(self) -> dict[str, str]: ...


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
