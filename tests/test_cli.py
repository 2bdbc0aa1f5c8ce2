"""The `syncline` command: init scaffolds a project that serves; bad config exits 2 with one line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from server.app import Syncline
from server.cli import main
from server.settings import load_settings

ROOT = Path(__file__).resolve().parents[1]


async def test_init_scaffolds_a_project_that_serves(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["init", str(tmp_path / "app")]) == 0
    for name in ("schema.graphql", "syncline.toml", "resolvers.py"):
        assert (tmp_path / "app" / name).exists()
    app = await Syncline.create(load_settings(tmp_path / "app", env={}))
    try:
        assert [m.name for m in app.bundle.models] == ["Todo"]
        assert app.api_key_created and app.api_key and app.api_key.startswith("da2-")
    finally:
        await app.store.close()
    # a second init keeps what is there
    (tmp_path / "app" / "schema.graphql").write_text("type Note @model { text: String }\n")
    assert main(["init", str(tmp_path / "app")]) == 0
    assert "Note" in (tmp_path / "app" / "schema.graphql").read_text()


def test_bad_config_exits_2_with_one_clear_line(tmp_path: Path) -> None:
    (tmp_path / "schema.graphql").write_text("type Todo @model { title: String }\n")
    (tmp_path / "syncline.toml").write_text("[server]\nprot = 1\n")
    r = subprocess.run(
        [sys.executable, "-m", "server.cli", "serve", str(tmp_path), "--port", "0"],
        capture_output=True, text=True, cwd=ROOT, timeout=60,
    )
    assert r.returncode == 2
    assert r.stderr.strip().splitlines()[-1] == "syncline: syncline.toml: unknown key [server].'prot' — did you mean 'port'?"


def test_missing_schema_is_a_clear_error(tmp_path: Path) -> None:
    r = subprocess.run(
        [sys.executable, "-m", "server.cli", "serve", str(tmp_path), "--port", "0"],
        capture_output=True, text=True, cwd=ROOT, timeout=60,
    )
    assert r.returncode == 2 and "schema.graphql not found" in r.stderr
