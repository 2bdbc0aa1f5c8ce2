from __future__ import annotations

from pathlib import Path

import pytest

from server.errors import ConfigError
from server.settings import load_settings, parse_duration_ms


def write(tmp_path: Path, text: str) -> Path:
    (tmp_path / "syncline.toml").write_text(text)
    return tmp_path


def test_defaults_without_a_config_file(tmp_path: Path) -> None:
    s = load_settings(tmp_path, env={})
    assert s.server.port == 4000
    assert s.data_dir == tmp_path.resolve() / ".syncline"
    assert s.sync.delta_ttl_ms == 86_400_000


def test_file_then_env_then_flags(tmp_path: Path) -> None:
    write(tmp_path, '[server]\nport = 5000\napi_key = "from-file"\n[sync]\ndelta_ttl = "2h"\n')
    s = load_settings(tmp_path, env={"SYNCLINE_PORT": "6000", "SYNCLINE_API_KEY": "from-env"}, overrides={"port": 7000, "host": None})
    assert s.server.port == 7000
    assert s.server.api_key == "from-env"
    assert s.server.host == "127.0.0.1"
    assert s.sync.delta_ttl_ms == 2 * 3_600_000


def test_unknown_key_suggests_the_right_one(tmp_path: Path) -> None:
    write(tmp_path, "[server]\nprot = 4000\n")
    with pytest.raises(ConfigError, match=r"\[server\]\.'prot'.*did you mean 'port'"):
        load_settings(tmp_path, env={})


def test_unknown_conflict_strategy_names_the_key(tmp_path: Path) -> None:
    write(tmp_path, '[models.Todo]\nconflict = "AUTOMERGED"\n')
    with pytest.raises(ConfigError, match=r"\[models.Todo\]\.conflict.*did you mean 'AUTOMERGE'"):
        load_settings(tmp_path, env={})


def test_custom_strategy_needs_a_handler(tmp_path: Path) -> None:
    write(tmp_path, '[models.Todo]\nconflict = "CUSTOM"\n')
    with pytest.raises(ConfigError, match="handler"):
        load_settings(tmp_path, env={})


@pytest.mark.parametrize(
    "text, match",
    [
        ('[server]\nport = "x"\n', r"\[server\]\.port must be an integer"),
        ("[server]\nport = 70000\n", "out of range"),
        ('[sync]\ndelta_ttl = "soon"\n', r"\[sync\]\.delta_ttl: expected a duration"),
        ("[server\n", "not valid TOML"),
        ("[severs]\n", "did you mean 'server'"),
    ],
)
def test_bad_values_give_one_clear_message(tmp_path: Path, text: str, match: str) -> None:
    write(tmp_path, text)
    with pytest.raises(ConfigError, match=match):
        load_settings(tmp_path, env={})


def test_durations() -> None:
    assert parse_duration_ms("30d", key="k") == 30 * 86_400_000
    assert parse_duration_ms("250ms", key="k") == 250
    assert parse_duration_ms(90, key="k") == 90_000
    with pytest.raises(ConfigError):
        parse_duration_ms(-1, key="k")
