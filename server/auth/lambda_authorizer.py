"""AWS_LAMBDA: a Python function decides, with AppSync's event and response shapes.

The function gets AppSync's authorizer event::

    {"authorizationToken": "...",
     "requestContext": {"apiId", "accountId", "requestId", "queryString", "operationName", "variables"},
     "requestHeaders": {...}}

and returns ``{"isAuthorized": bool, "resolverContext": {...}, "deniedFields": [...],
"ttlOverride": int}``. It may be sync (run in a worker thread so it cannot stall the event
loop) or async. Answers are cached per token for `ttl_s` (`ttlOverride` wins; 0 = no cache),
as AppSync does. An authorizer that raises, times out or answers nonsense denies the request:
the caller gets Unauthorized, never a 500.

A sync authorizer that times out keeps running in its thread until it returns (Python cannot
kill a thread); its answer is then discarded.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import importlib
import inspect
import logging
import re
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any, Awaitable, Callable, Mapping, Union

from server.auth.identity import Identity
from server.errors import ConfigError, Unauthorized
from server.loader import load_callable

__all__ = [
    "AuthorizerFn",
    "LambdaAuthorizer",
    "LambdaConfig",
    "load_function",
]

log = logging.getLogger("syncline.auth")

AuthorizerFn = Callable[[dict[str, Any]], Union[Mapping[str, Any], Awaitable[Mapping[str, Any]]]]


@dataclass(frozen=True, kw_only=True)
class LambdaConfig:
    """`[auth.lambda]`."""

    #: "module:function", imported at start.
    function: str = ""
    #: AppSync's authorizerResultTtlInSeconds: default 300, 0 disables the cache.
    ttl_s: float = 300.0
    #: How long the function may take; None = no limit.
    timeout_s: float | None = 10.0
    #: AppSync's identityValidationExpression: tokens not matching are refused unseen.
    identity_validation_expression: str | None = None
    api_id: str = "syncline"
    account_id: str = "000000000000"
    cache_size: int = 10_000

    def __post_init__(self) -> None:
        if self.ttl_s < 0 or self.ttl_s > 3600:
            raise ConfigError("[auth.lambda] ttl: must be between 0 and 3600 seconds (AppSync's range)")
        if self.identity_validation_expression is not None:
            try:
                re.compile(self.identity_validation_expression)
            except re.error as exc:
                raise ConfigError(f"[auth.lambda] identity_validation_expression: {exc}") from exc


def load_function(spec: str, project_dir: Path | None = None) -> AuthorizerFn:
    """Import `module:function` (from the project folder when `project_dir` is given).

    Raises:
        ConfigError: naming what could not be found.
    """
    if project_dir is not None:
        return load_callable(spec, project_dir, what="[auth.lambda] function")
    module_name, _, attr = spec.partition(":")
    if not module_name or not attr:
        raise ConfigError(f"[auth.lambda] function: expected 'module:function', got {spec!r}")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(f"[auth.lambda] function: cannot import {module_name!r}: {exc}") from exc
    fn = getattr(module, attr, None)
    if not callable(fn):
        raise ConfigError(f"[auth.lambda] function: {module_name!r} has no callable {attr!r}")
    return fn  # type: ignore[no-any-return]


class LambdaAuthorizer:
    """Calls the authorizer function and caches its answers per token.

    Args:
        config: the settings; `config.function` is imported unless `function` is given.
        function: the authorizer itself (tests and embedders pass it directly).
        project_dir: resolve `config.function` in the project folder (server.loader).
        clock: monotonic seconds, for the cache.
    """

    def __init__(
        self,
        config: LambdaConfig,
        *,
        function: AuthorizerFn | None = None,
        project_dir: Path | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config
        self._fn = function if function is not None else load_function(config.function, project_dir)
        self._clock = clock
        self._cache: OrderedDict[bytes, tuple[Identity | str, float]] = OrderedDict()
        self._validate = (
            re.compile(config.identity_validation_expression) if config.identity_validation_expression else None
        )
        self._inflight: dict[bytes, asyncio.Future[Identity | str]] = {}
        self.calls = 0

    async def authorize(
        self,
        token: str,
        *,
        headers: Mapping[str, str],
        query_string: str = "",
        operation_name: str | None = None,
        variables: Mapping[str, Any] | None = None,
        source_ip: str | None = None,
    ) -> Identity:
        """The identity the authorizer grants.

        Raises:
            Unauthorized: denied, failed, timed out, or answered an invalid shape.
        """
        if self._validate is not None and not self._validate.fullmatch(token):
            raise Unauthorized("authorization token does not match identity_validation_expression")
        key = hashlib.sha256(token.encode("utf-8", "surrogateescape")).digest()
        hit = self._cache.get(key)
        if hit is not None and self._clock() < hit[1]:
            self._cache.move_to_end(key)
            result = hit[0]
        else:
            if hit is not None:
                del self._cache[key]
            # Single flight: concurrent requests with the same uncached token (a reconnect
            # storm) share one authorizer call, as they would share its cached answer.
            task = self._inflight.get(key)
            if task is None:
                event = {
                    "authorizationToken": token,
                    "requestContext": {
                        "apiId": self.config.api_id,
                        "accountId": self.config.account_id,
                        "requestId": str(uuid.uuid4()),
                        "queryString": query_string,
                        "operationName": operation_name,
                        "variables": dict(variables or {}),
                    },
                    "requestHeaders": {k.lower(): v for k, v in headers.items()},
                }
                task = asyncio.ensure_future(self._call(event, key))
                self._inflight[key] = task
                task.add_done_callback(functools.partial(self._forget, key))
            result = await asyncio.shield(task)
        if isinstance(result, str):
            raise Unauthorized(result)
        return result if result.source_ip == source_ip else replace(result, source_ip=source_ip)

    def _forget(self, key: bytes, _task: object) -> None:
        self._inflight.pop(key, None)

    async def _call(self, event: dict[str, Any], key: bytes) -> Identity | str:
        """Run the authorizer once; cache and return its identity or denial reason (never raises)."""
        self.calls += 1
        name = getattr(self._fn, "__name__", "authorizer")
        try:
            async with asyncio.timeout(self.config.timeout_s):
                if inspect.iscoroutinefunction(self._fn):
                    answer = await self._fn(event)  # type: ignore[misc]
                else:
                    answer = await asyncio.to_thread(self._fn, event)
                    if inspect.isawaitable(answer):
                        answer = await answer
        except TimeoutError:
            return f"Lambda authorizer {name} timed out after {self.config.timeout_s:g}s"
        except Exception as exc:
            # The message is the user's code and may quote the token: only the type is logged
            # at WARNING (with the reason, by the Authenticator); the traceback goes to DEBUG.
            log.debug("Lambda authorizer %s raised", name, exc_info=True)
            return f"Lambda authorizer {name} failed: {exc.__class__.__name__}"
        result, ttl = self._interpret(answer, name)
        if ttl > 0:
            self._cache[key] = (result, self._clock() + ttl)
            if len(self._cache) > self.config.cache_size:
                self._cache.popitem(last=False)
        return result

    def _interpret(self, answer: Any, name: str) -> tuple[Identity | str, float]:
        """The identity or a denial reason, and how long to cache it."""
        if not isinstance(answer, Mapping) or not isinstance(answer.get("isAuthorized"), bool):
            return f"Lambda authorizer {name} returned no boolean isAuthorized", 0.0
        ttl = self.config.ttl_s
        override = answer.get("ttlOverride")
        if override is not None:
            if isinstance(override, bool) or not isinstance(override, (int, float)) or override < 0:
                return f"Lambda authorizer {name} returned an invalid ttlOverride", 0.0
            ttl = float(override)
        if not answer["isAuthorized"]:
            return f"Lambda authorizer {name} denied the request", ttl
        ctx = answer.get("resolverContext") or {}
        denied = answer.get("deniedFields") or []
        if not isinstance(ctx, Mapping) or not isinstance(denied, list) or not all(isinstance(d, str) for d in denied):
            return f"Lambda authorizer {name} returned an invalid resolverContext or deniedFields", 0.0
        return (
            Identity(
                auth_mode="AWS_LAMBDA",
                resolver_context=MappingProxyType(dict(ctx)),  # shared via the cache: read-only
                denied_fields=tuple(denied),
            ),
            ttl,
        )
