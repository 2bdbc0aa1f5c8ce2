"""The [mqtt] section of syncline.toml: defaults (TCP off, never 1883), values, refusals that say what to fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from server.errors import ConfigError
from server.settings import MqttSettings, load_settings


def mqtt_with(tmp_path: Path, body: str) -> MqttSettings:
    (tmp_path / "syncline.toml").write_text("[mqtt]\n" + body, encoding="utf-8")
    return load_settings(tmp_path, env={}).mqtt


def test_defaults(tmp_path: Path) -> None:
    mq = mqtt_with(tmp_path, "")
    assert mq == MqttSettings()
    assert mq.enabled and mq.tcp_port is None  # TCP is off unless asked for
    assert (mq.topic_prefix, mq.graphql_prefix, mq.grant_ttl_ms) == ("models", "graphql", 3_600_000)


def test_values(tmp_path: Path) -> None:
    mq = mqtt_with(
        tmp_path,
        'enabled = false\ntcp_port = 8883\ntcp_host = "0.0.0.0"\ntopic_prefix = "app/models"\n'
        'graphql_prefix = "gql"\ngrant_ttl = "90s"\nsend_queue = 10\nsend_queue_bytes = 4096\nmax_offline_messages = 5\n',
    )
    assert mq == MqttSettings(
        enabled=False, tcp_port=8883, tcp_host="0.0.0.0", topic_prefix="app/models", graphql_prefix="gql",
        grant_ttl_ms=90_000, send_queue=10, send_queue_bytes=4096, max_offline_messages=5,
    )


@pytest.mark.parametrize(
    "body,words",
    [
        ("tcp_prot = 8883", "tcp_port"),
        ("tcp_port = 70000", "0-65535"),
        ('tcp_port = "8883"', "port number"),
        ('topic_prefix = "models/#"', "without wildcards"),
        ('topic_prefix = "$SYS"', "leading '\\$'"),
        ('graphql_prefix = "models/x"', "different levels"),
        ("grant_ttl = 0", "positive"),
        ("send_queue = 0", "at least 1"),
        ('enabled = "yes"', "true or false"),
    ],
)
def test_refusals_name_the_key(tmp_path: Path, body: str, words: str) -> None:
    with pytest.raises(ConfigError, match=words):
        mqtt_with(tmp_path, body + "\n")
