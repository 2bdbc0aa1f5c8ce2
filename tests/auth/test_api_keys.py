"""API key registry: create/list/revoke/delete/verify, storage format, CLI."""

from __future__ import annotations

import io
import json
import re

import pytest

from server.auth.api_keys import (
    DEFAULT_TTL_S,
    REGISTRY_FILE,
    ApiKeyRegistry,
    generate_key,
    key_id,
    keys_main,
)
from server.errors import BadRequest, NotFound, Unauthorized


def test_generated_keys_look_like_appsync_keys() -> None:
    keys = {generate_key() for _ in range(200)}
    assert len(keys) == 200
    assert all(re.fullmatch(r"da2-[a-z2-7]{26}", k) for k in keys)


def test_create_then_verify_and_only_a_hash_is_stored(tmp_path, clock) -> None:
    reg = ApiKeyRegistry(tmp_path, clock=clock)
    key, rec = reg.create(description="mobile app")
    assert reg.verify(key).id == rec.id == key_id(key)
    assert rec.expires == pytest.approx(clock.now + DEFAULT_TTL_S)
    stored = (tmp_path / REGISTRY_FILE).read_text()
    assert key not in stored  # the secret never hits the disk
    assert json.loads(stored)["keys"][0]["description"] == "mobile app"
    assert (tmp_path / REGISTRY_FILE).stat().st_mode & 0o777 == 0o600


def test_expired_key_is_refused_with_its_id(tmp_path, clock) -> None:
    reg = ApiKeyRegistry(tmp_path, clock=clock)
    key, rec = reg.create(ttl_s=86_400)
    clock.now += 86_401
    with pytest.raises(Unauthorized, match=f"{rec.id} expired"):
        reg.verify(key)


def test_revoked_key_is_refused_even_by_another_registry_instance(tmp_path, clock) -> None:
    server_side = ApiKeyRegistry(tmp_path, clock=clock)
    key, rec = server_side.create()
    assert server_side.verify(key)
    ApiKeyRegistry(tmp_path, clock=clock).revoke(rec.id)  # e.g. `syncline keys revoke` meanwhile
    with pytest.raises(Unauthorized, match="revoked"):
        server_side.verify(key)


def test_deleted_and_unknown_and_tampered_keys_are_refused(tmp_path) -> None:
    reg = ApiKeyRegistry(tmp_path)
    key, rec = reg.create()
    tampered = key[:-1] + ("a" if key[-1] != "a" else "b")
    with pytest.raises(Unauthorized, match="not valid"):
        reg.verify(tampered)  # same id prefix, wrong hash
    reg.delete(rec.id)
    with pytest.raises(Unauthorized):
        reg.verify(key)
    with pytest.raises(NotFound):
        reg.revoke(rec.id)
    for bad in ("", "x" * 1000, "da2-"):
        with pytest.raises(Unauthorized):
            reg.verify(bad)


@pytest.mark.parametrize("days", [0.5, 366])
def test_lifetime_outside_appsync_limits_is_refused(tmp_path, days) -> None:
    with pytest.raises(BadRequest, match="between 1 and 365 days"):
        ApiKeyRegistry(tmp_path).create(ttl_s=days * 86_400)


def test_configured_keys_never_expire_and_cannot_be_revoked_here(tmp_path, clock) -> None:
    reg = ApiKeyRegistry(tmp_path, configured=[("my-static-key", "env", None)], clock=clock)
    clock.now += 10 * 365 * 86_400
    rec = reg.verify("my-static-key")
    assert rec.source == "config" and rec.id.startswith("cfg-") and "my-static" not in rec.id
    with pytest.raises(BadRequest, match="configuration"):
        reg.revoke(rec.id)


def test_configured_key_with_expiry_expires(tmp_path, clock) -> None:
    reg = ApiKeyRegistry(None, configured=[("k1", "", clock.now + 10)], clock=clock)
    assert reg.verify("k1")
    clock.now += 11
    with pytest.raises(Unauthorized, match="expired"):
        reg.verify("k1")


def test_keys_cli_create_list_revoke_delete(tmp_path) -> None:
    out = io.StringIO()
    assert keys_main(["create", "--description", "ci", "--expires", "30d"], tmp_path, out=out) == 0
    key = out.getvalue().splitlines()[0]
    rid = key_id(key)
    out = io.StringIO()
    assert keys_main(["list"], tmp_path, out=out) == 0
    listing = out.getvalue()
    assert rid in listing and "active" in listing and "ci" in listing and key not in listing
    assert keys_main(["revoke", rid], tmp_path, out=io.StringIO()) == 0
    out = io.StringIO()
    keys_main(["list"], tmp_path, out=out)
    assert "revoked" in out.getvalue()
    with pytest.raises(Unauthorized):
        ApiKeyRegistry(tmp_path).verify(key)
    assert keys_main(["delete", rid], tmp_path, out=io.StringIO()) == 0
    assert keys_main(["revoke", rid], tmp_path, out=io.StringIO()) == 1
    assert keys_main(["create", "--expires", "400d"], tmp_path, out=io.StringIO()) == 1
    assert keys_main(["bogus"], tmp_path, out=io.StringIO()) == 2


def test_corrupt_registry_is_a_clear_config_error(tmp_path) -> None:
    from server.errors import ConfigError

    (tmp_path / REGISTRY_FILE).write_text("{not json")
    with pytest.raises(ConfigError, match="corrupt"):
        ApiKeyRegistry(tmp_path).verify("da2-aaaaaaaaaaaaaaaaaaaaaaaaaa")


def test_concurrent_writers_in_separate_processes_lose_no_keys(tmp_path) -> None:
    """`syncline keys create` run in parallel (or beside the server) keeps every key."""
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    code = (
        "import sys; from pathlib import Path; from server.auth.api_keys import ApiKeyRegistry\n"
        "r = ApiKeyRegistry(Path(sys.argv[1]))\n"
        "for _ in range(10): r.create()\n"
    )
    procs = [subprocess.Popen([sys.executable, "-c", code, str(tmp_path)], cwd=root) for _ in range(4)]
    assert all(p.wait(timeout=60) == 0 for p in procs)
    assert len(ApiKeyRegistry(tmp_path).records()) == 40
