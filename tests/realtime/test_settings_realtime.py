"""The [realtime] section of syncline.toml: defaults, durations, refusals that say what to fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from server.errors import ConfigError
from server.settings import RealtimeSettings, load_settings


def settings_with(tmp_path: Path, body: str) -> RealtimeSettings:
    (tmp_path / "syncline.toml").write_text("[realtime]\n" + body, encoding="utf-8")
    return load_settings(tmp_path, env={}).realtime


def test_defaults(tmp_path: Path) -> None:
    rt = settings_with(tmp_path, "")
    assert rt == RealtimeSettings()
    assert (rt.max_subscriptions, rt.max_message_bytes, rt.send_queue) == (100, 131072, 1000)
    assert rt.keep_alive_ms < rt.connection_timeout_ms


def test_durations_and_counts(tmp_path: Path) -> None:
    rt = settings_with(
        tmp_path, 'init_timeout = "250ms"\nkeep_alive = 30\nidle_timeout = 0\nmax_subscriptions = 7\nsend_queue = 50\n'
    )
    assert (rt.init_timeout_ms, rt.keep_alive_ms, rt.idle_timeout_ms) == (250, 30_000, 0)
    assert (rt.max_subscriptions, rt.send_queue) == (7, 50)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("send_queu = 5\n", "did you mean 'send_queue'"),
        ("max_subscriptions = 0\n", "at least 1"),
        ("max_subscriptions = \"many\"\n", "whole number"),
        ("init_timeout = \"soon\"\n", "expected a duration"),
        ("max_message_bytes = 10\n", "at least 64"),
        ('keep_alive = "10m"\nconnection_timeout = "5m"\n', "shorter than"),
    ],
)
def test_bad_values_are_refused_naming_the_key(tmp_path: Path, body: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        settings_with(tmp_path, body)
