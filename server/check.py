"""`syncline check`: validate a project without serving it.

It runs the same loaders the server runs at start (config, schema, resolvers, conflict
handlers, auth, state machines, triggers) and, when a store exists, the schema migration as a
dry run, so a change that would be refused at start is refused here first. Nothing is written.
"""

from __future__ import annotations

from server.app import DB_FILE, SECRET_FILE, load_project
from server.auth.authenticate import AuthConfig
from server.settings import Settings
from server.store.sqlite import SQLiteStore
from server.workflows.engine import WorkflowEngine, function_lookup
from server.workflows.resources import Resources
from server.workflows.service import has_workflows
from server.workflows.triggers import Trigger, check_triggers


async def check_project(settings: Settings) -> list[str]:
    """Return report lines; raise ConfigError (or SchemaMigrationError) at the first problem."""
    report = [f"config: {settings.project_dir / 'syncline.toml'} ok"]
    bundle, handlers = load_project(settings)
    report.append(
        f"schema: {len(bundle.models)} model(s) ({', '.join(m.name for m in bundle.models) or 'none'}), "
        f"{len(settings.resolvers)} resolver binding(s), {len(handlers)} conflict handler(s)"
    )
    auth = AuthConfig.from_mapping(settings.auth, base_dir=settings.project_dir)
    report.append(f"auth: default {auth.default_mode}, additional {', '.join(auth.additional_modes) or 'none'}")
    if has_workflows(settings):
        wf = settings.workflows
        engine = WorkflowEngine(store=None, resources=Resources(functions=function_lookup(wf.functions, settings.project_dir)))
        machines = await engine.load_project(settings.project_dir, {n: m.type for n, m in wf.machines.items()})
        triggers = [
            Trigger(mutation=t.mutation, state_machine=name, input=t.input)
            for name, m in wf.machines.items()
            for t in m.triggers
        ]
        check_triggers(bundle.schema, triggers)
        await engine.close()
        report.append(f"workflows: {len(machines)} state machine(s), {len(triggers)} trigger(s)")
    db = settings.data_dir / DB_FILE
    secret = settings.data_dir / SECRET_FILE
    if db.exists() and secret.exists():
        store = SQLiteStore(db, secret=bytes.fromhex(secret.read_text().strip()), conflict_handlers=handlers)
        await store.open()
        try:
            changes = await store.migrate(bundle.models, dry_run=True)
        finally:
            await store.close()
        report.append("store: " + ("; ".join(changes) if changes else "schema unchanged"))
    else:
        report.append("store: none yet (created at first start)")
    return report
