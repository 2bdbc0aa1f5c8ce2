"""`syncline` — the command line.

    syncline init DIR                      scaffold a project (syncline.toml, schema.graphql, resolvers.py)
    syncline serve [DIR] [--host H] [--port P] [--data DATA_DIR]
    syncline check [DIR]                   validate a project without serving it
    syncline backup DEST | restore SRC | export [-o FILE] | import FILE   data, see docs/operations.md
    syncline asl validate|run|test ...     the Step Functions engine, without a server
    syncline executions list|describe|history   workflow executions of a project (docs/workflows.md)
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from pathlib import Path
from typing import Sequence

from server.errors import ClientError, ConfigError
from server.logs import configure as configure_logging

log = logging.getLogger("syncline")

SCAFFOLD_SCHEMA = """\
# Every @model type gets queries (get, list, sync), mutations (create, update, delete)
# and subscriptions (onCreate, onUpdate, onDelete), AppSync-style.
type Todo @model {
  title: String!
  done: Boolean
}
"""

SCAFFOLD_TOML = """\
[server]
host = "127.0.0.1"
port = 4000

[models.Todo]
# OPTIMISTIC_CONCURRENCY, AUTOMERGE (the default), LAST_WRITER_WINS or CUSTOM
conflict = "AUTOMERGE"
"""

SCAFFOLD_RESOLVERS = '''\
"""Custom resolvers: bind them in syncline.toml, e.g.

[resolvers]
"Query.hello" = "resolvers:hello"
"""
'''


def _init(args: argparse.Namespace) -> int:
    target = Path(args.dir)
    target.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in (
        ("schema.graphql", SCAFFOLD_SCHEMA),
        ("syncline.toml", SCAFFOLD_TOML),
        ("resolvers.py", SCAFFOLD_RESOLVERS),
    ):
        path = target / name
        if path.exists():
            print(f"kept existing {path}")
            continue
        path.write_text(text, encoding="utf-8")
        written.append(name)
    print(f"initialised {target} ({', '.join(written) or 'nothing new'}); run: syncline serve {target}")
    return 0


async def _serve(args: argparse.Namespace) -> int:
    from server.app import running
    from server.heap import freeze_startup_heap
    from server.settings import load_settings

    settings = load_settings(
        args.dir,
        overrides={
            "host": args.host,
            "port": args.port,
            "data_dir": _abs_flag(args.data),
            "tls_cert": _abs_flag(args.tls_cert),
            "tls_key": _abs_flag(args.tls_key),
        },
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    signals = (signal.SIGINT, signal.SIGTERM)

    def on_signal() -> None:
        if stop.is_set():
            # Second signal: leave now. Nothing acknowledged is lost: every acknowledged
            # write is already committed to the store.
            log.warning("second signal: exiting at once")
            os._exit(1)
        log.info("signal received: finishing in-flight requests (up to %s s)", settings.server.shutdown_timeout)
        stop.set()

    for sig in signals:
        loop.add_signal_handler(sig, on_signal)
    try:
        async with running(settings) as server:
            freeze_startup_heap()  # no full collection walks the startup heap again (latency)
            app = server.syncline
            for line in app.migration:
                log.info("schema: %s", line)
            log.info("data: %s", settings.data_dir)
            if app.api_key_created:
                log.info("generated an API key (kept in %s)", settings.data_dir / "api-key")
                if sys.stdout.isatty():  # for the person at the terminal; never into logs
                    print(f"API key (send it as x-api-key): {app.api_key}", flush=True)
            elif app.api_key:
                log.info("API key: %s…", app.api_key[:8])
            models = ", ".join(m.name for m in app.bundle.models) or "none"
            log.info("models: %s", models)
            log.info("GraphQL:  %s  (POST; GET in a browser opens the explorer)", server.url)
            print(f"Syncline serving {settings.project_dir.name} at {server.url}", flush=True)
            await stop.wait()
            log.info("shutting down")
    finally:
        for sig in signals:
            loop.remove_signal_handler(sig)
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="syncline", description="Self-hosted real-time sync backend.")
    parser.add_argument("--log-level", default="INFO", help="DEBUG, INFO, WARNING (default INFO)")
    parser.add_argument("--log-format", default="text", choices=("text", "json"), help="text (default) or JSON lines")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("init", help="scaffold a project folder")
    p.add_argument("dir")
    p.set_defaults(func=_init)

    p = sub.add_parser("serve", help="serve a project")
    p.add_argument("dir", nargs="?", default=".")
    p.add_argument("--host")
    p.add_argument("--port", type=int)
    p.add_argument("--data", help="data folder (default DIR/.syncline)")
    p.add_argument("--tls-cert", help="serve HTTPS/WSS with this PEM certificate")
    p.add_argument("--tls-key", help="... and this PEM private key")
    p.set_defaults(func=lambda a: asyncio.run(_serve(a)))

    p = sub.add_parser("check", help="validate a project (config, schema, state machines, triggers) without serving it")
    p.add_argument("dir", nargs="?", default=".")
    p.add_argument("--data", help="data folder (default DIR/.syncline)")
    p.set_defaults(func=lambda a: asyncio.run(_check(a)))

    p = sub.add_parser("dev-cert", help="write a self-signed certificate for localhost and 127.0.0.1")
    p.add_argument("--cert", default="syncline-dev.crt")
    p.add_argument("--key", default="syncline-dev.key")
    p.set_defaults(func=_dev_cert)

    p = sub.add_parser("keys", help="manage API keys: create, list, revoke, delete", add_help=False)
    p.add_argument("--project", default=".", help="project folder (default .)")
    p.add_argument("--data", help="data folder (default PROJECT/.syncline)")
    p.add_argument("rest", nargs=argparse.REMAINDER)
    p.set_defaults(func=_keys)

    def data_args(p: argparse.ArgumentParser) -> None:
        p.add_argument("--project", default=".", help="project folder (default .)")
        p.add_argument("--data", help="data folder (default PROJECT/.syncline)")

    p = sub.add_parser("backup", help="consistent copy of the store, safe while the server runs")
    p.add_argument("dest", help="backup file to create (or an existing folder)")
    data_args(p)
    p.set_defaults(func=_backup)

    p = sub.add_parser("restore", help="restore a backup into an empty data folder")
    p.add_argument("src", help="backup file")
    data_args(p)
    p.set_defaults(func=_restore)

    p = sub.add_parser("export", help="write model rows as JSON lines")
    p.add_argument("-o", "--output", help="file (default standard output)")
    p.add_argument("--model", help="only this model")
    data_args(p)
    p.set_defaults(func=_export)

    p = sub.add_parser("import", help="create/update model rows from JSON lines (server stopped)")
    p.add_argument("src", help="JSON lines file from `syncline export`")
    data_args(p)
    p.set_defaults(func=lambda a: asyncio.run(_import(a)))

    p = sub.add_parser("conflicts", help="list recorded conflicts, newest first (JSON lines)")
    p.add_argument("--model", help="only this model")
    p.add_argument("--limit", type=int, default=100)
    data_args(p)
    p.set_defaults(func=lambda a: asyncio.run(_conflicts(a)))

    p = sub.add_parser("asl", help="Step Functions (ASL) engine: validate, run, test", add_help=False)
    p.add_argument("rest", nargs=argparse.REMAINDER)
    p.set_defaults(func=_asl)

    p = sub.add_parser("executions", help="workflow executions: list, describe, history", add_help=False)
    p.add_argument("rest", nargs=argparse.REMAINDER)
    p.set_defaults(func=_executions)
    return parser


async def _check(args: argparse.Namespace) -> int:
    from server.check import check_project
    from server.settings import load_settings

    settings = load_settings(args.dir, overrides={"data_dir": _abs_flag(args.data)})
    for line in await check_project(settings):
        print(line)
    print(f"{settings.project_dir.name}: ok")
    return 0


def _abs_flag(path: str | None) -> Path | None:
    """Paths given as flags are relative to the working directory, not the project."""
    return Path(path).resolve() if path else None


def _dev_cert(args: argparse.Namespace) -> int:
    from server.auth.tls import make_dev_cert

    make_dev_cert(Path(args.cert), Path(args.key))
    print(f"wrote {args.cert} and {args.key} (localhost, 127.0.0.1); serve with --tls-cert/--tls-key")
    return 0


def _keys(args: argparse.Namespace) -> int:
    from server.auth.api_keys import keys_main

    return keys_main(list(args.rest), _data_dir(args))


def _data_dir(args: argparse.Namespace) -> Path:
    from server.settings import load_settings

    return load_settings(args.project, overrides={"data_dir": _abs_flag(args.data)}).data_dir


def _backup(args: argparse.Namespace) -> int:
    from server.backup import backup, progress_printer

    target = backup(_data_dir(args), Path(args.dest), progress=progress_printer("backup"))
    print(f"backup written to {target}")
    return 0


def _restore(args: argparse.Namespace) -> int:
    from server.backup import progress_printer, restore

    target = restore(Path(args.src), _data_dir(args), progress=progress_printer("restore"))
    print(f"restored into {target}")
    return 0


def _export(args: argparse.Namespace) -> int:
    from server.backup import export_rows, progress_printer

    data_dir = _data_dir(args)
    if args.output:
        with open(args.output, "w", encoding="utf-8") as out:
            n = export_rows(data_dir, out, model=args.model, progress=progress_printer("export"))
        print(f"exported {n} rows to {args.output}", file=sys.stderr)
    else:
        n = export_rows(data_dir, sys.stdout, model=args.model)
        print(f"exported {n} rows", file=sys.stderr)
    return 0


async def _import(args: argparse.Namespace) -> int:
    from server.app import Syncline
    from server.backup import import_rows
    from server.settings import load_settings

    settings = load_settings(args.project, overrides={"data_dir": _abs_flag(args.data)})
    app = await Syncline.create(settings)
    try:
        with open(args.src, encoding="utf-8") as src:
            counts = await import_rows(app.store, src)
    finally:
        await app.store.close()
    print(f"imported: {counts['created']} created, {counts['updated']} updated")
    return 0


async def _conflicts(args: argparse.Namespace) -> int:
    import dataclasses
    import json

    from server.app import DB_FILE, load_secret
    from server.store.sqlite import SQLiteStore

    data_dir = _data_dir(args)
    if not (data_dir / DB_FILE).exists():
        raise ConfigError(f"no store in {data_dir}")
    store = SQLiteStore(data_dir / DB_FILE, secret=load_secret(data_dir))
    await store.open()
    try:
        records, _ = await store.conflicts(model=args.model, limit=args.limit)
    finally:
        await store.close()
    for record in records:
        print(json.dumps(dataclasses.asdict(record), default=str))
    return 0


def _asl(args: argparse.Namespace) -> int:
    from server.workflows.asl.cli import main as asl_main

    return asl_main(list(args.rest))


def _executions(args: argparse.Namespace) -> int:
    from server.workflows.cli import main as executions_main

    return executions_main(list(args.rest))


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    configure_logging(str(args.log_level), args.log_format)
    try:
        return int(args.func(args))
    except ConfigError as exc:
        print(f"syncline: {exc.message}", file=sys.stderr)
        return 2
    except ClientError as exc:
        print(f"syncline: {exc.message}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
