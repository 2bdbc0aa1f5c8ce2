"""API keys (AppSync's API_KEY mode): a registry kept in `<data_dir>/api_keys.json`.

Why JSON with atomic replace rather than SQLite: the registry is a few dozen rows, written
only by `syncline keys ...` (rarely), and read by the server into memory; a JSON file is
readable by operators, needs no schema, and `os.replace` makes every write atomic (an
`fcntl` lock around read-modify-write keeps parallel writers from losing keys; POSIX only).
The server re-reads the file when its mtime changes, so `syncline keys revoke` takes effect
in a running server without a restart.

Only a SHA-256 of each key is stored, plus a short public id (the key's first 8 random
characters) for listing and logs. A fast hash is enough here because keys are 130-bit random
strings, not passwords: there is nothing to brute-force.

Keys from configuration (`[auth.api_key] keys`, `SYNCLINE_API_KEY`) live only in memory and
never expire unless an expiry is configured.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import fcntl
import hashlib
import hmac
import json
import os
import secrets
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence, TextIO

from server.errors import BadRequest, ConfigError, NotFound, Unauthorized

__all__ = [
    "ApiKeyRecord",
    "ApiKeyRegistry",
    "DEFAULT_TTL_S",
    "KEY_PREFIX",
    "MAX_TTL_S",
    "MIN_TTL_S",
    "REGISTRY_FILE",
    "generate_key",
    "key_id",
    "keys_main",
    "parse_expiry",
]

KEY_PREFIX = "da2-"
REGISTRY_FILE = "api_keys.json"
DEFAULT_TTL_S = 7 * 86_400
"""AppSync's default API key lifetime (7 days)."""
MIN_TTL_S = 86_400
MAX_TTL_S = 365 * 86_400
"""AppSync refuses keys that live longer than 365 days; so do we."""
_ID_LEN = 8


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def key_id(key: str) -> str:
    """The public id of a key: its prefix and first 8 random characters (`da2-abcd1234`)."""
    if key.startswith(KEY_PREFIX):
        return key[: len(KEY_PREFIX) + _ID_LEN]
    # A configured key need not look like ours; its id is a hash prefix, never the key itself.
    return "cfg-" + _hash(key)[:_ID_LEN]


def generate_key() -> str:
    """A fresh key shaped like AppSync's: `da2-` + 26 lowercase base32 characters (130 bits)."""
    raw = base64.b32encode(secrets.token_bytes(20)).decode("ascii").lower().rstrip("=")
    return KEY_PREFIX + raw[:26]


@dataclass(frozen=True, kw_only=True)
class ApiKeyRecord:
    """One key as stored: never the key itself."""

    id: str
    key_hash: str
    description: str = ""
    created: float = 0.0
    #: Unix seconds; None = never expires (configured keys only).
    expires: float | None = None
    revoked: float | None = None
    #: "store" (data dir) or "config" (syncline.toml / SYNCLINE_API_KEY).
    source: str = "store"

    def status(self, now: float) -> str:
        if self.revoked is not None:
            return "revoked"
        if self.expires is not None and now >= self.expires:
            return "expired"
        return "active"


def _iso(ts: float | None) -> str:
    if ts is None:
        return "never"
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_expiry(value: Any, *, now: float, key: str) -> float | None:
    """An expiry from config: an ISO-8601 date/time, a TOML datetime, or None (never)."""
    if value is None:
        return None
    if isinstance(value, datetime):
        dt = value
    elif isinstance(value, str):
        try:
            dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError as exc:
            raise ConfigError(f"{key}: expected an ISO date such as 2027-01-31T00:00:00Z, got {value!r}") from exc
    else:
        raise ConfigError(f"{key}: expected an ISO date such as 2027-01-31T00:00:00Z, got {value!r}")
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.timestamp()


class ApiKeyRegistry:
    """Stored keys (data dir) plus configured keys; `verify` is what the Authenticator calls.

    Args:
        data_dir: where `api_keys.json` lives; None keeps only configured keys.
        configured: plain keys from config, each `(key, description, expires_unix_or_None)`.
        clock: Unix-seconds clock (injected by tests).
    """

    def __init__(
        self,
        data_dir: Path | None,
        *,
        configured: Iterable[tuple[str, str, float | None]] = (),
        clock: Any = time.time,
    ) -> None:
        self._path = None if data_dir is None else Path(data_dir) / REGISTRY_FILE
        self._clock = clock
        self._configured: dict[str, ApiKeyRecord] = {}
        for key, description, expires in configured:
            if not key:
                raise ConfigError("[auth.api_key] keys: an API key cannot be empty")
            rec = ApiKeyRecord(
                id=key_id(key), key_hash=_hash(key), description=description,
                expires=expires, source="config",
            )
            self._configured[rec.id] = rec
        self._stored: dict[str, ApiKeyRecord] = {}
        self._mtime: int | None = None

    # -- reading ------------------------------------------------------------------------

    def _refresh(self) -> None:
        """Reload the file if it changed on disk (cheap stat on every verify)."""
        if self._path is None:
            return
        try:
            mtime = self._path.stat().st_mtime_ns
        except FileNotFoundError:
            self._stored, self._mtime = {}, None
            return
        if mtime == self._mtime:
            return
        try:
            data = json.loads(self._path.read_text("utf-8"))
            records = {r["id"]: ApiKeyRecord(**r) for r in data.get("keys", [])}
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise ConfigError(f"{self._path}: the API key registry is corrupt ({exc}); fix or delete it") from exc
        self._stored, self._mtime = records, mtime

    def _save(self) -> None:
        if self._path is None:
            raise ConfigError("API keys can only be created in a project with a data directory")
        self._path.parent.mkdir(parents=True, exist_ok=True)
        payload = {"version": 1, "keys": [asdict(r) for r in self._stored.values()]}
        fd, tmp = tempfile.mkstemp(prefix=".api_keys.", dir=self._path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(payload, fh, indent=2, sort_keys=True)
                fh.flush()
                os.fsync(fh.fileno())
            os.chmod(tmp, 0o600)
            os.replace(tmp, self._path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        self._mtime = None

    @contextlib.contextmanager
    def _write_lock(self) -> Iterator[None]:
        """Serialise read-modify-write between processes (the server and `syncline keys`)."""
        if self._path is None:
            raise ConfigError("API keys can only be created in a project with a data directory")
        self._path.parent.mkdir(parents=True, exist_ok=True)
        with open(self._path.parent / ".api_keys.lock", "a+") as fh:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
            try:
                self._mtime = None  # re-read under the lock: another process may have written
                self._refresh()
                yield
            finally:
                fcntl.flock(fh.fileno(), fcntl.LOCK_UN)

    def records(self) -> list[ApiKeyRecord]:
        """Every key, configured first, then stored ones by creation time."""
        self._refresh()
        return list(self._configured.values()) + sorted(self._stored.values(), key=lambda r: r.created)

    # -- writing ------------------------------------------------------------------------

    def create(self, *, description: str = "", ttl_s: float = DEFAULT_TTL_S) -> tuple[str, ApiKeyRecord]:
        """Make a key; returns the plain key (shown once, never stored) and its record.

        Raises:
            BadRequest: the lifetime is outside AppSync's 1..365 days.
        """
        if not MIN_TTL_S <= ttl_s <= MAX_TTL_S:
            raise BadRequest(f"API key lifetime must be between 1 and 365 days, got {ttl_s / 86_400:g} days")
        with self._write_lock():
            now = float(self._clock())
            while True:
                key = generate_key()
                rid = key_id(key)
                if rid not in self._stored and rid not in self._configured:
                    break
            rec = ApiKeyRecord(id=rid, key_hash=_hash(key), description=description, created=now, expires=now + ttl_s)
            self._stored[rid] = rec
            self._save()
        return key, rec

    def _find_stored(self, rid: str) -> ApiKeyRecord:
        self._refresh()
        if rid in self._configured:
            raise BadRequest(f"API key {rid} comes from configuration; remove it from syncline.toml instead")
        rec = self._stored.get(rid)
        if rec is None:
            raise NotFound(f"no API key with id {rid!r} (see `syncline keys list`)")
        return rec

    def revoke(self, rid: str) -> ApiKeyRecord:
        """Mark a key revoked (kept for the audit trail; `delete` removes it)."""
        with self._write_lock():
            rec = self._find_stored(rid)
            if rec.revoked is None:
                rec = replace(rec, revoked=float(self._clock()))
                self._stored[rid] = rec
                self._save()
        return rec

    def delete(self, rid: str) -> None:
        with self._write_lock():
            self._find_stored(rid)
            del self._stored[rid]
            self._save()

    # -- verifying ----------------------------------------------------------------------

    def verify(self, key: str) -> ApiKeyRecord:
        """The record of a valid key.

        Raises:
            Unauthorized: unknown, revoked or expired; the message names the key id, never the key.
        """
        if not key or len(key) > 256:
            raise Unauthorized("API key is empty or malformed")
        self._refresh()
        rid = key_id(key)
        rec = self._configured.get(rid) or self._stored.get(rid)
        digest = _hash(key)
        # Compare even when there is no record, so timing does not tell which ids exist.
        expected = rec.key_hash if rec is not None else "0" * 64
        if not hmac.compare_digest(digest, expected) or rec is None:
            raise Unauthorized(f"API key {rid} is not valid")
        now = float(self._clock())
        status = rec.status(now)
        if status == "revoked":
            raise Unauthorized(f"API key {rid} was revoked at {_iso(rec.revoked)}")
        if status == "expired":
            raise Unauthorized(f"API key {rid} expired at {_iso(rec.expires)}")
        return rec


# -- `syncline keys ...` ------------------------------------------------------------------


def _parse_ttl(text: str) -> float:
    units = {"s": 1, "m": 60, "h": 3600, "d": 86_400}
    text = text.strip().lower()
    try:
        if text and text[-1] in units:
            return float(text[:-1]) * units[text[-1]]
        return float(text) * 86_400
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a lifetime such as 7d, 90d or 365d, got {text!r}") from None


def keys_main(argv: Sequence[str], data_dir: Path, *, out: TextIO | None = None) -> int:
    """`syncline keys create|list|revoke|delete`; returns the process exit code."""
    out = out or sys.stdout
    parser = argparse.ArgumentParser(prog="syncline keys", description="Manage API keys (API_KEY mode).")
    sub = parser.add_subparsers(dest="command", required=True)
    p_create = sub.add_parser("create", help="create a key (printed once)")
    p_create.add_argument("--description", "-d", default="")
    p_create.add_argument(
        "--expires", "-e", type=_parse_ttl, default=DEFAULT_TTL_S,
        help="lifetime: 7d (default), up to 365d",
    )
    sub.add_parser("list", help="list keys (ids only, never the keys)")
    p_revoke = sub.add_parser("revoke", help="refuse a key from now on")
    p_revoke.add_argument("id")
    p_delete = sub.add_parser("delete", help="remove a key from the registry")
    p_delete.add_argument("id")
    try:
        args = parser.parse_args(list(argv))
    except SystemExit as exc:
        return int(exc.code or 0)
    registry = ApiKeyRegistry(data_dir)
    try:
        if args.command == "create":
            key, rec = registry.create(description=args.description, ttl_s=args.expires)
            print(key, file=out)
            print(f"id {rec.id}, expires {_iso(rec.expires)} (store the key now: it is not kept)", file=out)
        elif args.command == "list":
            now = time.time()
            print(f"{'ID':<16} {'STATUS':<8} {'EXPIRES':<21} DESCRIPTION", file=out)
            for rec in registry.records():
                print(f"{rec.id:<16} {rec.status(now):<8} {_iso(rec.expires):<21} {rec.description}", file=out)
        elif args.command == "revoke":
            rec = registry.revoke(args.id)
            print(f"revoked {rec.id}", file=out)
        else:
            registry.delete(args.id)
            print(f"deleted {args.id}", file=out)
    except (BadRequest, NotFound, ConfigError) as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 1
    return 0
