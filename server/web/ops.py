"""Operational endpoints and middleware: /healthz, /readyz, /metrics, request ids.

/healthz answers as long as the event loop does. /readyz runs every named readiness check
(store writable, broker running, workflow engine running) and answers 503 naming the parts
that failed, so a load balancer or systemd watchdog can act on it.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import random
from typing import Awaitable, Callable, Mapping

from aiohttp import web

from server.logs import request_id
from server.metrics import CONTENT_TYPE, Metrics

log = logging.getLogger("syncline.ops")
_random_bits = random.Random().getrandbits

ReadinessCheck = Callable[[], Awaitable[None]]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def request_id_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Give every request an id (the client's `x-request-id` if sane), logged on every line."""
    sent = request.headers.get("x-request-id", "")
    # A correlation id, not a secret (a client may send its own): `random`, not os.urandom,
    # whose syscall releases the GIL and let the store's writer thread cut in on every request.
    rid = sent if 0 < len(sent) <= 64 and sent.replace("-", "").isalnum() else f"{_random_bits(64):016x}"
    token = request_id.set(rid)
    try:
        response = await handler(request)
    finally:
        request_id.reset(token)
    response.headers["x-request-id"] = rid
    return response


class OpsEndpoints:
    def __init__(
        self,
        *,
        metrics: Metrics,
        checks: Mapping[str, ReadinessCheck],
        metrics_token: str | None = None,
        check_timeout: float = 2.0,
    ) -> None:
        self._metrics = metrics
        self._checks = dict(checks)
        self._token = metrics_token
        self._timeout = check_timeout

    def add_check(self, name: str, check: ReadinessCheck) -> None:
        self._checks[name] = check

    async def healthz(self, request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def readyz(self, request: web.Request) -> web.Response:
        failing: dict[str, str] = {}
        for name, check in self._checks.items():
            try:
                async with asyncio.timeout(self._timeout):
                    await check()
            except TimeoutError:
                failing[name] = f"no answer within {self._timeout} s"
            except Exception as exc:  # a failing part is reported, never raised
                failing[name] = f"{type(exc).__name__}: {exc}"
        if failing:
            log.warning("not ready: %s", failing)
            return web.json_response({"status": "unavailable", "failing": failing}, status=503)
        return web.json_response({"status": "ready", "checks": sorted(self._checks)})

    async def metrics(self, request: web.Request) -> web.Response:
        if self._token is not None:
            auth = request.headers.get("Authorization", "")
            if not hmac.compare_digest(auth.encode(), f"Bearer {self._token}".encode()):
                return web.json_response({"error": "metrics need Authorization: Bearer <metrics_token>"}, status=401)
        return web.Response(body=self._metrics.render(), headers={"Content-Type": CONTENT_TYPE})

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get("/healthz", self.healthz)
        app.router.add_get("/readyz", self.readyz)
        app.router.add_get("/metrics", self.metrics)
