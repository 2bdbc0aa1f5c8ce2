"""The console at /console: static pages shipped in the package, and a small JSON API beside them.

The pages (this package's *.html|css|js, plain ES modules, no build step) hold no data;
everything they show comes from GraphQL (POST /graphql, WebSocket /graphql) or from the four
endpoints here, all behind the same authenticator as the API:

    POST /console/api/layout     {"definition": "<ASL JSON>"} → the graph layout (graph.py); any caller
    GET  /console/api/models     models with live row counts; API-key / SYSTEM / `admin` group only
    GET  /console/api/conflicts  the conflict log (?model=&limit=&nextToken=), same restriction
    GET  /console/api/definition ?stateMachine=&version= → one stored version's definition, same
                                 restriction (executions draw on the version they ran)

Counts and the conflict log ignore row-level rules, so only callers that already see every row
(an API key, which AppSync treats as the app itself, or a member of the `admin` group) get them.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import sqlite3
from pathlib import Path
from typing import Awaitable, Callable, Sequence

from aiohttp import web

from server.auth.identity import Identity
from server.errors import Unauthorized
from server.models import ModelSpec
from server.store.base import Store
from server.web.http import Authenticator
from server.workflows.asl.errors import AslSyntaxError
from server.workflows.graph import layout

STATIC_DIR = Path(__file__).parent
_TYPES = {".html": "text/html", ".css": "text/css", ".js": "text/javascript", ".json": "application/json"}
ADMIN_GROUP = "admin"
MAX_DEFINITION_BYTES = 1_048_576


def is_admin(identity: Identity) -> bool:
    """May this caller see data that bypasses row rules (counts, the conflict log)?"""
    return identity.auth_mode in ("API_KEY", "SYSTEM") or ADMIN_GROUP in identity.groups


class ConsoleEndpoints:
    """Routes of the console; `add_routes(app)` mounts them."""

    def __init__(
        self,
        *,
        authenticator: Authenticator,
        store: Store,
        db_path: Path,
        models: Sequence[ModelSpec],
        definitions: Callable[[str, int], Awaitable[tuple[str, str] | None]] | None = None,
    ) -> None:
        """`definitions(name, version)` → (definition, type) of a stored state machine version."""
        self._definitions = definitions
        self._auth = authenticator
        self._store = store
        self._db_path = db_path
        self._models = [m.name for m in models]

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get("/console", self.index)
        app.router.add_get("/console/", self.index)
        app.router.add_get("/console/static/{name}", self.static)
        app.router.add_post("/console/api/layout", self.layout)
        app.router.add_get("/console/api/models", self.models)
        app.router.add_get("/console/api/conflicts", self.conflicts)
        app.router.add_get("/console/api/definition", self.definition)

    async def index(self, request: web.Request) -> web.StreamResponse:
        return web.FileResponse(STATIC_DIR / "index.html", headers={"Cache-Control": "no-cache"})

    async def static(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        path = STATIC_DIR / name
        # Only plain file names of the console folder: no traversal, no dot files.
        if "/" in name or name.startswith(".") or path.suffix not in _TYPES or not path.is_file():
            raise web.HTTPNotFound(text=f"no console file {name!r}")
        return web.FileResponse(path, headers={"Content-Type": _TYPES[path.suffix], "Cache-Control": "no-cache"})

    async def layout(self, request: web.Request) -> web.StreamResponse:
        body = await request.content.read(MAX_DEFINITION_BYTES + 1)
        identity = await self._identity(request, body)
        if identity is None:
            return _unauthorized()
        if len(body) > MAX_DEFINITION_BYTES:
            return _error(413, f"the definition exceeds {MAX_DEFINITION_BYTES} bytes", "LimitExceeded")
        try:
            params = json.loads(body)
        except ValueError as exc:
            return _error(400, f"request body is not valid JSON: {exc}", "BadRequest")
        definition = params.get("definition") if isinstance(params, dict) else None
        if not isinstance(definition, str):
            return _error(400, 'send {"definition": "<the ASL document as JSON text>"}', "BadRequest")
        try:
            return web.json_response(layout(definition))
        except AslSyntaxError as exc:
            return _error(400, exc.message, "InvalidDefinition")

    async def models(self, request: web.Request) -> web.StreamResponse:
        identity = await self._identity(request, b"")
        if identity is None:
            return _unauthorized()
        if not is_admin(identity):
            return _forbidden()
        counts = await asyncio.to_thread(_row_counts, self._db_path)
        return web.json_response({"models": [{"name": m, "rows": counts.get(m, 0)} for m in self._models]})

    async def conflicts(self, request: web.Request) -> web.StreamResponse:
        identity = await self._identity(request, b"")
        if identity is None:
            return _unauthorized()
        if not is_admin(identity):
            return _forbidden()
        model = request.query.get("model") or None
        try:
            limit = int(request.query.get("limit", "50"))
        except ValueError:
            return _error(400, "limit must be an integer", "BadRequest")
        records, token = await self._store.conflicts(
            model=model, limit=max(1, min(limit, 1000)), next_token=request.query.get("nextToken") or None
        )
        return web.json_response(
            {"conflicts": [dataclasses.asdict(r) for r in records], "nextToken": token},
            dumps=lambda v: json.dumps(v, default=str),
        )

    async def definition(self, request: web.Request) -> web.StreamResponse:
        identity = await self._identity(request, b"")
        if identity is None:
            return _unauthorized()
        if not is_admin(identity):
            return _forbidden()
        name = request.query.get("stateMachine", "")
        try:
            version = int(request.query.get("version", ""))
        except ValueError:
            return _error(400, "send ?stateMachine=NAME&version=N (N an integer)", "BadRequest")
        found = await self._definitions(name, version) if self._definitions is not None else None
        if found is None:
            return _error(404, f"no stored version {version} of state machine {name!r}", "StateMachineDoesNotExist")
        definition, kind = found
        return web.json_response({"stateMachine": name, "version": version, "type": kind, "definition": definition})

    async def _identity(self, request: web.Request, body: bytes) -> Identity | None:
        try:
            return await self._auth.authenticate(
                {k.lower(): v for k, v in request.headers.items()},
                method=request.method,
                path=request.rel_url.raw_path,
                query=request.query_string,
                body=body,
                source_ip=request.remote,
            )
        except Unauthorized:
            return None


def _row_counts(db_path: Path) -> dict[str, int]:
    """Live rows per model, read on a read-only connection of its own (never the writer's)."""
    if not db_path.exists():
        return {}
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=5)
    try:
        rows = conn.execute("SELECT model, count(*) FROM items WHERE deleted=0 GROUP BY model").fetchall()
    finally:
        conn.close()
    return {str(m): int(n) for m, n in rows}


def _error(status: int, message: str, error_type: str) -> web.Response:
    return web.json_response({"errors": [{"message": message, "errorType": error_type}]}, status=status)


def _unauthorized() -> web.Response:
    return _error(401, "You are not authorized to make this call.", "UnauthorizedException")


def _forbidden() -> web.Response:
    return _error(403, "the console's data endpoints need an API key or the admin group", "Unauthorized")
