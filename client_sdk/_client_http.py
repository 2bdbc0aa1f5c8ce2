"""GraphQL over HTTP (aiohttp): the only place the SDK makes HTTP requests."""

from __future__ import annotations

import asyncio
import json
import os
from typing import Any, Mapping

import aiohttp

from ._auth import Auth, request_headers
from ._errors import AuthRejected, NetworkError, SyncTimeout

__all__ = ["HttpTransport"]


class HttpTransport:
    def __init__(self, session: aiohttp.ClientSession, url: str, auth: Auth | None, *, timeout: float | None) -> None:
        self._session = session
        self.url = url
        self._auth = auth
        self._timeout = timeout

    async def execute(
        self, query: str, variables: Mapping[str, Any] | None = None, *, extensions: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        """The response body ({data, errors}); NetworkError when it may not have arrived.

        Raises:
            NetworkError: connection failure, timeout, 5xx, a body that is not JSON.
            AuthRejected: 401/403 for the whole request.
        """
        body: dict[str, Any] = {"query": query, "variables": dict(variables or {})}
        if extensions:
            body["extensions"] = dict(extensions)
        data = json.dumps(body, separators=(",", ":")).encode()
        headers = await request_headers(
            self._auth, "POST", self.url, {"Content-Type": "application/json", "Accept": "application/json"}, data
        )
        try:
            async with asyncio.timeout(self._timeout):
                async with self._session.post(self.url, data=data, headers=headers) as resp:
                    text = await resp.text()
                    status = resp.status
        except TimeoutError as exc:
            raise SyncTimeout(f"no answer from {self.url} within {self._timeout} s") from exc
        except (aiohttp.ClientError, OSError) as exc:
            raise NetworkError(f"{self.url}: {_reason(exc)}") from exc
        if status in (401, 403):
            raise AuthRejected(status, text[:200])
        if status >= 500 or status == 429:
            raise NetworkError(f"{self.url}: HTTP {status}: {text[:200]}")
        try:
            out = json.loads(text)
        except ValueError as exc:
            raise NetworkError(f"{self.url}: HTTP {status}, body is not JSON: {text[:200]!r}") from exc
        if not isinstance(out, dict):
            raise NetworkError(f"{self.url}: HTTP {status}, body is not a JSON object")
        if status >= 400 and "errors" not in out:
            out["errors"] = [{"message": f"HTTP {status}", "errorType": "BadRequest"}]
        return out


def _reason(exc: BaseException) -> str:
    """A one-line reason a person can act on ("cannot connect: Connection refused"), not the
    nested repr of aiohttp's connection key."""
    if isinstance(exc, aiohttp.ClientConnectorError):
        err = exc.os_error
        why = err.strerror or (os.strerror(err.errno) if err.errno else str(err))
        return f"cannot connect to {exc.host}:{exc.port} ({why})"
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
