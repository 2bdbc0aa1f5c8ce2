"""Backup, restore, export and import of a project's data.

`backup` uses SQLite's online backup API, so it takes a consistent snapshot while the server
keeps writing (WAL readers see one committed state). `restore` copies a backup into an empty
data dir (never over live data). `export` writes model rows as JSON lines (metadata included);
`import` applies such lines through the store, so every rule (validation, versions, change log)
holds — run it with the server stopped, since one process writes a store at a time.
"""

from __future__ import annotations

import json
import sqlite3
import sys
from pathlib import Path
from typing import Callable, Iterator, TextIO

from server.auth.identity import SYSTEM
from server.errors import BadRequest, ClientError, ConfigError, SynclineError
from server.models import METADATA_FIELDS
from server.store.sqlite import SQLiteStore

DB_FILE = "syncline.db"

Progress = Callable[[int, int], None]


def progress_printer(label: str, stream: TextIO | None = None) -> Progress:
    """A progress bar on a terminal, plain lines (at most one per 10%) otherwise."""
    out = stream or sys.stderr
    tty = out.isatty()
    last = [-1]

    def report(done: int, total: int) -> None:
        pct = 100 if total <= 0 else min(100, done * 100 // total)
        if tty:
            bar = "#" * (pct // 4)
            out.write(f"\r{label} [{bar:<25}] {pct:3d}% ({done}/{total})")
            if pct == 100:
                out.write("\n")
            out.flush()
        elif pct // 10 != last[0] // 10 or pct == 100 and last[0] != 100:
            out.write(f"{label}: {pct}% ({done}/{total})\n")
            out.flush()
        last[0] = pct

    return report


def _db(data_dir: Path) -> Path:
    path = data_dir / DB_FILE
    if not path.exists():
        raise ConfigError(f"no store at {path}: is {data_dir} a Syncline data dir?")
    return path


def backup(data_dir: Path, dest: Path, *, progress: Progress | None = None, pages_per_step: int = 256) -> Path:
    """Copy the live store to `dest` (a file, or a folder that gets syncline.db)."""
    src_path = _db(data_dir)
    target = dest / DB_FILE if dest.is_dir() else dest
    if target.exists():
        raise ConfigError(f"{target} exists; back up to a new file")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".partial")
    src = sqlite3.connect(f"file:{src_path}?mode=ro", uri=True)
    try:
        dst = sqlite3.connect(tmp)
        try:

            def step(status: int, remaining: int, total: int) -> None:
                if progress is not None:
                    progress(total - remaining, total)

            src.backup(dst, pages=pages_per_step, progress=step)
            dst.execute("PRAGMA journal_mode=DELETE")  # a self-contained single file
            check = dst.execute("PRAGMA integrity_check").fetchone()
            if check is None or check[0] != "ok":
                raise SynclineError(f"backup failed its integrity check: {check}")
        finally:
            dst.close()
    finally:
        src.close()
    tmp.replace(target)
    return target


def restore(backup_file: Path, data_dir: Path, *, progress: Progress | None = None) -> Path:
    """Restore a backup into `data_dir`, which must not hold a store already."""
    if not backup_file.is_file():
        raise ConfigError(f"{backup_file} is not a file")
    target = data_dir / DB_FILE
    if target.exists() or Path(str(target) + "-wal").exists():
        raise ConfigError(f"{data_dir} already holds a store; restore into an empty data dir")
    data_dir.mkdir(parents=True, exist_ok=True)
    tmp = data_dir / (DB_FILE + ".partial")
    src = sqlite3.connect(f"file:{backup_file}?mode=ro", uri=True)
    try:
        check = src.execute("PRAGMA integrity_check").fetchone()
        if check is None or check[0] != "ok":
            raise ConfigError(f"{backup_file} is damaged: {check}")
        if src.execute("SELECT 1 FROM sqlite_master WHERE name = 'items'").fetchone() is None:
            raise ConfigError(f"{backup_file} is not a Syncline store")
        dst = sqlite3.connect(tmp)
        try:

            def step(status: int, remaining: int, total: int) -> None:
                if progress is not None:
                    progress(total - remaining, total)

            src.backup(dst, pages=256, progress=step)
        finally:
            dst.close()
    finally:
        src.close()
    tmp.replace(target)
    return target


def export_rows(data_dir: Path, out: TextIO, *, model: str | None = None, progress: Progress | None = None) -> int:
    """Write live rows as JSON lines `{"model": ..., "item": {...}}`; returns the count."""
    conn = sqlite3.connect(f"file:{_db(data_dir)}?mode=ro", uri=True)
    try:
        where, params = ("WHERE deleted = 0 AND model = ?", (model,)) if model else ("WHERE deleted = 0", ())
        total = conn.execute(f"SELECT count(*) FROM items {where}", params).fetchone()[0]
        n = 0
        for name, data in conn.execute(f"SELECT model, data FROM items {where} ORDER BY model, id", params):
            out.write(json.dumps({"model": name, "item": json.loads(data)}, ensure_ascii=False) + "\n")
            n += 1
            if progress is not None and (n % 1000 == 0 or n == total):
                progress(n, total)
        if progress is not None and total == 0:
            progress(0, 0)
        return n
    finally:
        conn.close()


def _lines(source: TextIO) -> Iterator[tuple[int, str, dict[str, object]]]:
    for lineno, line in enumerate(source, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise BadRequest(f"line {lineno}: not JSON: {exc}") from exc
        if not isinstance(row, dict) or not isinstance(row.get("model"), str) or not isinstance(row.get("item"), dict):
            raise BadRequest(f'line {lineno}: expected {{"model": "Name", "item": {{...}}}}')
        yield lineno, row["model"], row["item"]


async def import_rows(store: SQLiteStore, source: TextIO) -> dict[str, int]:
    """Create (or update, when the id exists) each row through the store; returns counts.

    Server-managed metadata in the file is not copied: the imported rows get fresh versions
    and stamps here, so clients of this server sync them like any other write.
    """
    counts = {"created": 0, "updated": 0}
    for lineno, model, item in _lines(source):
        fields = {k: v for k, v in item.items() if k not in METADATA_FIELDS or k == "id"}
        try:
            existing = await store.get(model, str(fields["id"]), identity=SYSTEM) if "id" in fields else None
            if existing is None:
                await store.create(model, fields, identity=SYSTEM)
                counts["created"] += 1
            else:
                await store.update(model, {**fields, "_version": existing["_version"]}, identity=SYSTEM)
                counts["updated"] += 1
        except ClientError as exc:
            raise BadRequest(f"line {lineno} ({model} {fields.get('id')}): {exc.message}") from exc
    return counts
