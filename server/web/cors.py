"""CORS for browser apps on another origin (Amplify JS in a web page), as AppSync answers it.

AppSync allows any origin and lets the page read its error headers; so do we by default.
`[server] cors_origins` narrows it to a list of origins, or turns it off (`[]`). A preflight
(OPTIONS with Access-Control-Request-Method) is answered here, before auth: browsers never send
credentials on it. WebSocket upgrades are not subject to CORS.
"""

from __future__ import annotations

from typing import Awaitable, Callable, Sequence

from aiohttp import web
from aiohttp.typedefs import Middleware

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

#: what AppSync clients send: Amplify's user agent header, the four auth modes' headers
ALLOW_HEADERS = (
    "content-type, x-api-key, authorization, x-amz-date, x-amz-security-token, x-amz-user-agent, "
    "x-amz-content-sha256, x-request-id"
)
EXPOSE_HEADERS = "x-amzn-ErrorType, x-amzn-RequestId, x-request-id"


def cors_middleware(origins: Sequence[str]) -> Middleware:
    """`origins`: `["*"]` (any), exact origins such as `"https://app.example.com"`, or empty."""
    any_origin = "*" in origins
    allowed = frozenset(origins)

    def allow(origin: str | None) -> str | None:
        if origin is None:
            return None
        if any_origin:
            return "*"
        return origin if origin in allowed else None

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        origin = allow(request.headers.get("Origin"))
        if request.method == "OPTIONS" and "Access-Control-Request-Method" in request.headers:
            if origin is None:
                return web.Response(status=403, text="CORS: this origin is not in [server] cors_origins\n")
            return web.Response(
                status=204,
                headers={
                    "Access-Control-Allow-Origin": origin,
                    "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
                    "Access-Control-Allow-Headers": ALLOW_HEADERS,
                    "Access-Control-Max-Age": "86400",
                    "Vary": "Origin",
                },
            )
        try:
            response = await handler(request)
        except web.HTTPException as exc:  # raised responses need the headers too
            if origin is not None:
                _decorate(exc, origin)
            raise
        if origin is not None and not response.prepared:
            _decorate(response, origin)
        return response

    return middleware


def _decorate(response: web.StreamResponse, origin: str) -> None:
    response.headers["Access-Control-Allow-Origin"] = origin
    response.headers["Access-Control-Expose-Headers"] = EXPOSE_HEADERS
    if origin != "*":
        response.headers["Vary"] = "Origin"
