"""The composition root: the one place that knows every component and wires them together.

`Syncline.create(settings)` loads the project (schema, resolvers, conflict handlers), opens
the store and migrates it, and builds the aiohttp application. `running(...)` serves it on a
host and port (port 0 picks a free one, which is what tests use).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, AsyncIterator, Callable

from aiohttp import web

from server.auth.authenticate import AuthConfig, Authenticator as IdentityAuthenticator
from server.auth.static import ensure_api_key
from server.auth.tls import ssl_context
from server.errors import ConfigError, Unauthorized
from server.loader import load_callable
from server.metrics import MeteredStore, Metrics
from server.mqtt import MqttService
from server.ratelimit import Rate, RateLimiter
from server.realtime import LocalBus, SubscriptionRegistry, install_publisher
from server.realtime.registry import AuthView, SubscriptionError, Subscriber, model_view
from server.schema.authz import DirectiveAuth, install_directive_auth
from server.schema.build import SchemaBundle, build_schema, format_error, load_resolvers
from server.auth.identity import Identity
from server.settings import Settings
from server.store.sqlite import SQLiteStore
from server.web.console import ConsoleEndpoints
from server.web.cors import cors_middleware
from server.web.http import Authenticator, GraphQLHttpHandler, HttpLimits
from server.web.ops import OpsEndpoints, request_id_middleware
from server.web.realtime import RealtimeEndpoint
from server.workflows.service import Workflows, with_workflow_sdl

log = logging.getLogger("syncline")

DB_FILE = "syncline.db"
SECRET_FILE = "secret"


def load_secret(data_dir: Path) -> bytes:
    """The key that signs nextTokens; made once per data dir and kept with the data."""
    path = data_dir / SECRET_FILE
    if path.exists():
        return bytes.fromhex(path.read_text(encoding="utf-8").strip())
    secret = secrets.token_bytes(32)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(secret.hex(), encoding="utf-8")
    tmp.chmod(0o600)
    tmp.replace(path)
    return secret


def load_project(settings: Settings) -> tuple[SchemaBundle, dict[str, Callable[..., Any]]]:
    """The schema (with generated and workflow fields) and the CUSTOM conflict handlers.

    Raises:
        ConfigError: a missing or invalid schema, a binding or handler that does not load,
            a [models.X] table that names no @model type.
    """
    schema_path = settings.schema_path
    if not schema_path.exists():
        raise ConfigError(f"{schema_path} not found: a project needs a schema.graphql (try `syncline init DIR`)")
    sdl = schema_path.read_text(encoding="utf-8")
    model_settings = {name: {"conflict": ms.conflict, "handler": ms.handler} for name, ms in settings.models.items()}
    bundle = build_schema(
        with_workflow_sdl(settings, sdl),
        model_settings=model_settings,
        resolvers=load_resolvers(settings.resolvers, settings.project_dir),
    )
    known = {m.name for m in bundle.models}
    for name in settings.models:
        if name not in known:
            raise ConfigError(
                f"syncline.toml: [models.{name}] names no @model type in schema.graphql "
                f"(models: {', '.join(sorted(known)) or 'none'})"
            )
    handlers: dict[str, Callable[..., Any]] = {}
    for name, ms in settings.models.items():
        if ms.conflict == "CUSTOM" and ms.handler:
            handlers[name] = load_callable(ms.handler, settings.project_dir, what=f"[models.{name}].handler")
    return bundle, handlers


@dataclass
class Syncline:
    settings: Settings
    bundle: SchemaBundle
    store: SQLiteStore
    metrics: Metrics
    ops: OpsEndpoints
    app: web.Application
    api_key: str | None
    api_key_created: bool
    migration: list[str]
    #: Real time: the event bus every committed mutation is published on, and the WebSocket
    #: endpoint (its `registry` holds the subscription groups).
    bus: LocalBus | None = None
    realtime: RealtimeEndpoint | None = None
    #: Workflows (server/workflows/service.py); None when the project has none.
    workflows: Workflows | None = None
    #: The embedded MQTT broker (server/mqtt/); None when [mqtt] enabled = false.
    mqtt: MqttService | None = None

    @classmethod
    async def create(cls, settings: Settings, *, authenticator: Authenticator | None = None) -> "Syncline":
        """Load and check the whole project, open the store, migrate; raise ConfigError early."""
        bundle, handlers = load_project(settings)

        data_dir = settings.data_dir
        data_dir.mkdir(parents=True, exist_ok=True)
        store = SQLiteStore(
            data_dir / DB_FILE,
            secret=load_secret(data_dir),
            tombstone_ttl_ms=settings.sync.tombstone_ttl_ms,
            delta_ttl_ms=settings.sync.delta_ttl_ms,
            conflict_handlers=handlers,
            durability=settings.sync.durability,
        )
        await store.open()
        try:
            migration = await store.migrate(bundle.models)
        except BaseException:
            await store.close()
            raise

        api_key, created = settings.server.api_key, False
        owned_auth: IdentityAuthenticator | None = None
        if authenticator is None:
            try:
                auth_config = AuthConfig.from_mapping(settings.auth, base_dir=settings.project_dir)
                if "API_KEY" in auth_config.modes and api_key is None and not auth_config.api_keys:
                    api_key, created = ensure_api_key(data_dir)
                auth_config = AuthConfig.from_mapping(settings.auth, api_key=api_key, base_dir=settings.project_dir)
                owned_auth = IdentityAuthenticator(auth_config, data_dir=data_dir, project_dir=settings.project_dir)
            except BaseException:
                await store.close()
                raise
            authenticator = owned_auth

        limits = HttpLimits(
            max_body_bytes=settings.server.max_body_bytes,
            max_query_depth=settings.server.max_query_depth,
            max_query_cost=settings.server.max_query_cost,
            introspection=settings.server.introspection,
        )
        metrics = Metrics(db_path=data_dir / DB_FILE)
        metered = MeteredStore(store, metrics, bundle.models)
        # Real time: every root Mutation field publishes its committed result on the bus.
        bus = LocalBus()
        try:
            workflows = await Workflows.open(settings, bundle, metered, bus.publish, metrics)
        except BaseException:
            if owned_auth is not None:
                await owned_auth.close()
            await store.close()
            raise
        install_publisher(bundle.schema, bus.publish)
        # Last, so it is the outermost wrapper: a refused field never runs.
        auth_config = (
            owned_auth.config
            if owned_auth is not None
            else getattr(authenticator, "config", None)
            or AuthConfig.from_mapping(settings.auth, api_key=api_key, base_dir=settings.project_dir)
        )
        directive_auth = install_directive_auth(
            bundle.schema,
            default_mode=auth_config.default_mode,
            modes=auth_config.modes,
            models=bundle.models,
            operations=bundle.operations,
        )
        throttle = _throttle(settings, metrics)
        handler = GraphQLHttpHandler(
            schema=bundle.schema,
            store=metered,
            authenticator=authenticator,
            format_error=format_error,
            limits=limits,
            on_result=metrics.observe_request,
            throttle=throttle,
        )
        registry = _AuthorizedRegistry(
            directive_auth,
            schema=bundle.schema,
            subscribe_to=bundle.subscribe_to,
            models=bundle.models,
            store=metered,
            format_error=format_error,
            on_groups=_gauges(metrics),
        )
        realtime = RealtimeEndpoint(
            registry=registry,
            schema=bundle.schema,
            http=handler,
            authenticator=authenticator,
            store=metered,
            format_error=format_error,
            settings=settings.realtime,
            max_query_cost=settings.server.max_query_cost,
            metrics=metrics,
            throttle=throttle,
            admit_connection=_admit_connection(settings, metrics),
        )
        ops = OpsEndpoints(
            metrics=metrics,
            checks={"store": store.ping},
            metrics_token=settings.server.metrics_token,
        )
        # aiohttp's own body limit sits above ours so that ours answers with a GraphQL error.
        app = web.Application(
            client_max_size=settings.server.max_body_bytes + 1024,
            middlewares=[request_id_middleware, cors_middleware(settings.server.cors_origins)],
        )

        async def _store_lifetime(_: web.Application) -> AsyncIterator[None]:
            """First in cleanup_ctx, so it closes last; a cleanup context (unlike on_cleanup)
            also runs when another part fails to start, so a failed start leaks no threads."""
            try:
                yield
            finally:
                if owned_auth is not None:
                    await owned_auth.close()
                await store.close()

        app.cleanup_ctx.append(_store_lifetime)
        ops.add_routes(app)
        for path in ("/graphql",):
            app.router.add_post(path, handler.post)
        # GET /graphql: WebSocket upgrades go to the real-time endpoint, other GETs to `handler.get`.
        realtime.add_routes(app)
        ConsoleEndpoints(
            authenticator=authenticator,
            store=metered,
            db_path=data_dir / DB_FILE,
            models=bundle.models,
            definitions=workflows.store.definition if workflows is not None else None,
        ).add_routes(app)
        fanout: list[asyncio.Task[None]] = []

        async def _start_fanout(_: web.Application) -> None:
            fanout.append(asyncio.create_task(registry.run(bus.subscribe())))

        async def _stop_fanout(_: web.Application) -> None:
            for task in fanout:
                task.cancel()
            await asyncio.gather(*fanout, return_exceptions=True)

        app.on_startup.append(_start_fanout)
        app.on_shutdown.append(_stop_fanout)
        app.cleanup_ctx.append(_garbage_collector(store, settings.sync.gc_interval_ms / 1000))
        if workflows is not None:
            workflows.add_to(app)
            ops.add_check("workflows", workflows.check)
        mqtt: MqttService | None = None
        if settings.mqtt.enabled:
            cert, key = settings.server.tls_cert, settings.server.tls_key
            mqtt = MqttService(
                settings=settings.mqtt,
                authenticator=authenticator,
                registry=registry,
                models=bundle.models,
                tls=(_abs(settings, cert), _abs(settings, key)) if cert is not None and key is not None else None,
                metrics=metrics,
            )
            mqtt.add_to(app)
            store.add_listener(mqtt.on_change)
            handler.subscription_handshake = mqtt.handshake
            ops.add_check("broker", mqtt.ready)

        return cls(
            settings=settings,
            bundle=bundle,
            store=store,
            metrics=metrics,
            ops=ops,
            app=app,
            api_key=api_key,
            api_key_created=created,
            migration=migration,
            bus=bus,
            realtime=realtime,
            workflows=workflows,
            mqtt=mqtt,
        )


class _AuthorizedRegistry(SubscriptionRegistry):
    """The registry with AppSync's directive checks: a subscription to a field the caller may
    not access is refused when it is made, and groups never mix callers whose directive
    decisions differ (a group's selection is executed once, as its first member)."""

    def __init__(self, directive_auth: DirectiveAuth, **kwargs: Any) -> None:
        self._directive_auth = directive_auth
        base = kwargs.pop("view", model_view)

        def view(identity: Identity, spec: Any) -> AuthView:
            v = base(identity, spec)
            extra = directive_auth.class_key(identity)
            return AuthView(key=f"{v.key}#{extra}", rows=v.rows, redact=v.redact) if extra else v

        super().__init__(view=view, **kwargs)

    def subscribe(self, *, identity: Identity, document: Any, operation_name: str | None = None, **kwargs: Any) -> Subscriber:
        try:
            self._directive_auth.check_subscription(identity, self._schema, document, operation_name)
        except Unauthorized as exc:
            raise SubscriptionError(exc.message, error_type="Unauthorized") from exc
        return super().subscribe(identity=identity, document=document, operation_name=operation_name, **kwargs)


def _gauges(metrics: Metrics) -> Callable[[int, int], None]:
    """Keep the subscription and group gauges current (the registry calls this on every change)."""

    def update(subscriptions: int, groups: int) -> None:
        metrics.subscriptions.set(subscriptions)
        metrics.subscription_groups.set(groups)

    return update


def _throttle(settings: Settings, metrics: Metrics) -> Callable[[Identity, str], float | None] | None:
    """Per-identity token buckets for queries and mutations ([limits]); None when unlimited."""
    lim = settings.limits
    limiters = {
        "query": RateLimiter(Rate(rate=lim.query_rate, burst=lim.query_burst)),
        "mutation": RateLimiter(Rate(rate=lim.mutation_rate, burst=lim.mutation_burst)),
        "subscription": RateLimiter(Rate(rate=lim.subscription_rate, burst=lim.subscription_burst)),
    }
    if all(rl.rate.unlimited for rl in limiters.values()):
        return None

    def throttle(identity: Identity, kind: str) -> float | None:
        limiter = limiters.get(kind)
        if limiter is None:
            return None
        key = identity.api_key_id or identity.sub or identity.username or identity.source_ip or "anonymous"
        decision = limiter.take(f"{identity.auth_mode}:{key}", time.monotonic())
        if decision.allowed:
            return None
        metrics.throttled.labels(kind).inc()
        return decision.retry_after

    return throttle


def _admit_connection(settings: Settings, metrics: Metrics) -> Callable[[str | None], float | None] | None:
    """Per-IP token bucket for new WebSocket connections ([limits].connection_rate)."""
    limiter = RateLimiter(Rate(rate=settings.limits.connection_rate, burst=settings.limits.connection_burst))
    if limiter.rate.unlimited:
        return None

    def admit(ip: str | None) -> float | None:
        decision = limiter.take(ip or "unknown", time.monotonic())
        if decision.allowed:
            return None
        metrics.throttled.labels("connection").inc()
        return decision.retry_after

    return admit


def _garbage_collector(
    store: SQLiteStore, interval_s: float
) -> Callable[[web.Application], AsyncIterator[None]]:
    """Collect expired tombstones and log rows every `interval_s` while the app runs."""

    async def collect_forever() -> None:
        while True:
            await asyncio.sleep(interval_s)
            try:
                dropped = await store.collect_garbage()
            except Exception:  # a failed pass is logged and retried next interval
                log.exception("garbage collection failed")
            else:
                if any(dropped.values()):
                    log.info("garbage collection dropped %s", dropped)

    async def ctx(_: web.Application) -> AsyncIterator[None]:
        task = asyncio.create_task(collect_forever(), name="syncline-gc")
        yield
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    return ctx


def _abs(settings: Settings, path: Path) -> Path:
    return path if path.is_absolute() else settings.project_dir / path


@dataclass(frozen=True)
class Running:
    syncline: Syncline
    url: str
    port: int


@contextlib.asynccontextmanager
async def running(
    settings: Settings,
    *,
    host: str | None = None,
    port: int | None = None,
    authenticator: Authenticator | None = None,
) -> AsyncIterator[Running]:
    """Serve the project until the context exits (port 0 → a free port)."""
    syncline = await Syncline.create(settings, authenticator=authenticator)
    runner = web.AppRunner(
        syncline.app, access_log=None, handle_signals=False, shutdown_timeout=settings.server.shutdown_timeout
    )
    try:
        await runner.setup()
    except BaseException:
        # A part failed to start (e.g. the MQTT port is taken): close what did start.
        with contextlib.suppress(Exception):
            await syncline.app.cleanup()
        raise
    try:
        bind_host = host if host is not None else settings.server.host
        tls = None
        cert, key = settings.server.tls_cert, settings.server.tls_key
        if (cert is None) != (key is None):
            raise ConfigError("TLS needs both --tls-cert and --tls-key ([server].tls_cert and tls_key)")
        if cert is not None and key is not None:
            tls = ssl_context(_abs(settings, cert), _abs(settings, key))
        site = web.TCPSite(runner, bind_host, settings.server.port if port is None else port, ssl_context=tls)
        await site.start()
        actual = site.port
        scheme = "https" if tls else "http"
        yield Running(syncline=syncline, url=f"{scheme}://{bind_host}:{actual}/graphql", port=actual)
    finally:
        await runner.cleanup()
