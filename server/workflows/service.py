"""Wires workflows into a served project (called from the composition root, server/app.py).

    sdl = with_workflow_sdl(settings, sdl)            # before build_schema
    workflows = await Workflows.open(settings, bundle, store, publish, metrics)   # after it
    workflows.add_to(app)                             # resume on startup, stop on shutdown

A project "has workflows" when it has a `workflows/` folder or a [workflows.NAME] table;
otherwise none of this runs and the schema is unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, AsyncIterator

from aiohttp import web

from server.auth.identity import Identity
from server.errors import ConfigError
from server.realtime.publish import Publish
from server.schema.build import SchemaBundle
from server.settings import Settings
from server.store.base import Store
from server.workflows.api import API_SDL, bind_api, publisher
from server.workflows.engine import WORKFLOWS_DIR, WorkflowEngine, function_lookup
from server.workflows.persistence import WorkflowStore
from server.workflows.resources import GraphQLTarget, Resources
from server.workflows.triggers import Trigger, check_triggers, install_triggers

WORKFLOWS_DB = "workflows.db"


def has_workflows(settings: Settings) -> bool:
    return (settings.project_dir / WORKFLOWS_DIR).is_dir() or bool(settings.workflows.machines)


def with_workflow_sdl(settings: Settings, sdl: str) -> str:
    return sdl + "\n" + API_SDL if has_workflows(settings) else sdl


@dataclass
class Workflows:
    engine: WorkflowEngine
    store: WorkflowStore

    @classmethod
    async def open(
        cls, settings: Settings, bundle: SchemaBundle, store: Store, publish: Publish | None, metrics: Any = None
    ) -> "Workflows | None":
        """Load, validate and version the state machines; bind the API and the triggers.

        Raises:
            ConfigError: a bad definition (InvalidDefinition), a trigger on a missing mutation, ...
        """
        if not has_workflows(settings):
            return None
        wf = settings.workflows
        identity = Identity(auth_mode="SYSTEM") if wf.graphql_identity == "SYSTEM" else Identity(auth_mode="API_KEY")
        resources = Resources(
            functions=function_lookup(wf.functions, settings.project_dir),
            graphql=GraphQLTarget(schema=bundle.schema, store=store, identity=identity),
        )
        wstore = WorkflowStore(settings.data_dir / WORKFLOWS_DB, durability=settings.sync.durability)
        await wstore.open()
        try:
            engine = WorkflowEngine(
                store=wstore,
                resources=resources,
                region=wf.region,
                account=wf.account,
                notify=publisher(publish) if publish is not None else None,
                metrics=metrics,
                # Shutdown lets running tasks finish for as long as it lets HTTP requests finish.
                drain_timeout=settings.server.shutdown_timeout,
            )
            resources.start_nested = engine.start_nested
            await engine.load_project(settings.project_dir, {n: m.type for n, m in wf.machines.items()})
            triggers = [
                Trigger(mutation=t.mutation, state_machine=name, input=t.input)
                for name, m in wf.machines.items()
                for t in m.triggers
            ]
            check_triggers(bundle.schema, triggers)
            bind_api(bundle.schema, engine)
            install_triggers(bundle.schema, triggers, engine)
        except BaseException:
            await wstore.close()
            raise
        return cls(engine=engine, store=wstore)

    async def check(self) -> None:
        """Readiness: the engine drives executions and its store takes writes."""
        if self.engine.closed:
            raise RuntimeError("the workflow engine is stopped")
        await self.store.ping()

    def add_to(self, app: web.Application) -> None:
        """Resume executions at startup; stop them at cleanup. A cleanup context, not an
        on_shutdown hook, so the store is closed even when another part fails to start."""

        async def lifetime(_: web.Application) -> AsyncIterator[None]:
            try:
                await self.engine.resume_all()
                yield
            finally:
                await self.engine.close()
                await self.store.close()

        app.cleanup_ctx.append(lifetime)


__all__ = ["ConfigError", "Workflows", "has_workflows", "with_workflow_sdl"]
