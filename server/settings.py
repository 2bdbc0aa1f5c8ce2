"""Settings: frozen dataclasses loaded from syncline.toml, then SYNCLINE_* variables, then flags.

Later sources win. Unknown keys, wrong types and impossible values are refused at start with
one message naming the key (and a "did you mean" when a known key is close), because a typo
that silently falls back to a default is the worst kind of misconfiguration.

    [server]  host, port, data_dir, api_key, max_body_bytes, max_query_depth,
              max_query_cost, introspection, tls_cert, tls_key, metrics_token, shutdown_timeout,
              cors_origins
    [sync]    tombstone_ttl, delta_ttl, durability, gc_interval
    [models.<Name>]  conflict, handler
    [limits]  query_rate, query_burst, mutation_rate, mutation_burst,
              subscription_rate, subscription_burst (per identity), connection_rate, connection_burst (per IP)
    [realtime] init_timeout, keep_alive, connection_timeout, max_lifetime, idle_timeout,
              close_timeout, max_subscriptions, max_message_bytes, send_queue, send_queue_bytes
    [mqtt]    enabled, tcp_port, tcp_host, topic_prefix, graphql_prefix, grant_ttl,
              send_queue, send_queue_bytes, max_offline_messages   (docs/protocol.md "MQTT")
    [resolvers]      "Type.field" = "module:function" | { http = URL, method, headers, timeout }
    [workflows]      functions, region, account, graphql_identity
    [workflows.<name>]  type, triggers = [{ mutation, input }]   (docs/workflows.md)
    [auth]           handed to server.auth as a mapping
"""

from __future__ import annotations

import difflib
import os
import re
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Mapping

from server.errors import ConfigError
from server.models import CONFLICT_STRATEGIES

CONFIG_FILE = "syncline.toml"
SCHEMA_FILE = "schema.graphql"
DEFAULT_PORT = 4000

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_UNIT_MS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}


def parse_duration_ms(value: Any, *, key: str) -> int:
    """`"30d"`, `"24h"`, `"90s"`, `"250ms"` or a number of seconds → milliseconds."""
    if isinstance(value, bool):
        raise ConfigError(f"{key}: expected a duration such as \"24h\", got {value!r}")
    if isinstance(value, (int, float)):
        if value < 0:
            raise ConfigError(f"{key}: a duration cannot be negative ({value})")
        return int(value * 1000)
    if isinstance(value, str):
        m = _DURATION.match(value)
        if m:
            return int(float(m.group(1)) * _UNIT_MS[m.group(2) or "s"])
    raise ConfigError(f"{key}: expected a duration such as \"30d\", \"24h\" or \"90s\", got {value!r}")


@dataclass(frozen=True, kw_only=True)
class ServerSettings:
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    data_dir: Path | None = None
    api_key: str | None = None
    max_body_bytes: int = 1_048_576
    max_query_depth: int = 15
    max_query_cost: int = 100_000
    introspection: bool = True
    tls_cert: Path | None = None
    tls_key: Path | None = None
    #: When set, GET /metrics needs `Authorization: Bearer <metrics_token>`.
    metrics_token: str | None = None
    #: Seconds a SIGTERM waits for in-flight requests before closing them, then again for running
    #: workflow tasks (docs/workflows.md "Shutdown drains").
    shutdown_timeout: float = 10.0
    #: Origins a browser page may call the API from: ["*"] (any, as AppSync), a list, or [].
    cors_origins: tuple[str, ...] = ("*",)


@dataclass(frozen=True, kw_only=True)
class LimitSettings:
    """Rate limits (token buckets); a rate of 0 means unlimited (the default)."""

    query_rate: float = 0.0
    query_burst: int = 0
    mutation_rate: float = 0.0
    mutation_burst: int = 0
    #: Subscriptions started per identity (WebSocket subscribe/start, MQTT handshakes).
    subscription_rate: float = 0.0
    subscription_burst: int = 0
    #: New WebSocket connections per client IP.
    connection_rate: float = 0.0
    connection_burst: int = 0


@dataclass(frozen=True, kw_only=True)
class RealtimeSettings:
    """WebSocket limits and timers (docs/protocol.md); durations in ms, 0 means none."""

    #: Wait for an acknowledged connection_init (graphql-transport-ws, legacy) → close 4408.
    init_timeout_ms: int = 10_000
    #: Period of `ka` (legacy graphql-ws, AppSync); must be below connection_timeout.
    keep_alive_ms: int = 60_000
    #: AppSync's `connectionTimeoutMs`, announced in connection_ack.
    connection_timeout_ms: int = 300_000
    #: A connection older than this is closed with 1001 (AppSync closes after 24 h).
    max_lifetime_ms: int = 86_400_000
    #: A connection with no subscription and no inbound message for this long → 1001.
    idle_timeout_ms: int = 600_000
    #: How long a close (or a blocked write) may take before the socket is dropped.
    close_timeout_ms: int = 5_000
    max_subscriptions: int = 100
    max_message_bytes: int = 131_072
    #: Bounded send queue per connection (messages and bytes); overflow closes with 4503.
    send_queue: int = 1000
    send_queue_bytes: int = 8_388_608


@dataclass(frozen=True, kw_only=True)
class MqttSettings:
    """The embedded MQTT broker (server/mqtt/, docs/protocol.md "MQTT"); durations in ms."""

    #: Serve MQTT over WebSocket at /mqtt and GraphQL subscriptions over MQTT.
    enabled: bool = True
    #: A plain TCP listener (None: off). Never 1883 by default: a system broker may own it.
    tcp_port: int | None = None
    tcp_host: str = "127.0.0.1"
    #: Model topics are `<topic_prefix>/<Model>/<op>[/<owner>]`.
    topic_prefix: str = "models"
    #: Subscription-group topics handed out by the POST handshake: `<graphql_prefix>/<group>`.
    graphql_prefix: str = "graphql"
    #: How long a handshake grant lasts; posting the subscription again renews it.
    grant_ttl_ms: int = 3_600_000
    #: Bounded send queue per connection (packets in flight, bytes buffered); overflow disconnects.
    send_queue: int = 1000
    send_queue_bytes: int = 8_388_608
    #: QoS 1 messages kept for a disconnected persistent session (clean_session=False); more are dropped.
    max_offline_messages: int = 1000


@dataclass(frozen=True, kw_only=True)
class SyncSettings:
    tombstone_ttl_ms: int = 30 * 86_400_000
    delta_ttl_ms: int = 86_400_000
    durability: str = "normal"
    #: How often expired tombstones, change-log, ledger and conflict rows are collected.
    gc_interval_ms: int = 3_600_000


@dataclass(frozen=True, kw_only=True)
class ModelSettings:
    conflict: str = "AUTOMERGE"
    handler: str | None = None


@dataclass(frozen=True, kw_only=True)
class WorkflowTrigger:
    """Start the state machine after `mutation` (a root Mutation field) commits.

    `input` is a Parameters-style template over `{"arguments", "result", "identity"}`
    (keys ending in `.$` are JSONPaths); None passes that whole object.
    """

    mutation: str
    input: Mapping[str, Any] | None = None


@dataclass(frozen=True, kw_only=True)
class StateMachineSettings:
    type: str = "STANDARD"
    triggers: tuple[WorkflowTrigger, ...] = ()


@dataclass(frozen=True, kw_only=True)
class WorkflowSettings:
    #: The module whose functions Lambda ARNs name (`arn:aws:lambda:R:A:function:NAME` → NAME).
    functions: str = "resolvers"
    region: str = "us-east-1"
    account: str = "123456789012"
    #: Who the GraphQL resource acts as: "SYSTEM" (bypasses row rules) or "API_KEY".
    graphql_identity: str = "SYSTEM"
    machines: Mapping[str, StateMachineSettings] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class Settings:
    project_dir: Path
    server: ServerSettings = field(default_factory=ServerSettings)
    sync: SyncSettings = field(default_factory=SyncSettings)
    models: Mapping[str, ModelSettings] = field(default_factory=dict)
    limits: LimitSettings = field(default_factory=LimitSettings)
    realtime: RealtimeSettings = field(default_factory=RealtimeSettings)
    mqtt: MqttSettings = field(default_factory=MqttSettings)
    resolvers: Mapping[str, Any] = field(default_factory=dict)
    auth: Mapping[str, Any] = field(default_factory=dict)
    workflows: WorkflowSettings = field(default_factory=WorkflowSettings)

    @property
    def data_dir(self) -> Path:
        """Where the SQLite file and generated secrets live (default PROJECT/.syncline)."""
        d = self.server.data_dir
        if d is None:
            return self.project_dir / ".syncline"
        return d if d.is_absolute() else self.project_dir / d

    @property
    def schema_path(self) -> Path:
        return self.project_dir / SCHEMA_FILE


def _unknown(key: str, known: Any, where: str) -> ConfigError:
    close = difflib.get_close_matches(key, list(known), n=1)
    hint = f" — did you mean {close[0]!r}?" if close else f" (known keys: {', '.join(sorted(known))})"
    return ConfigError(f"{CONFIG_FILE}: unknown key {where}{key!r}{hint}")


def _expect(value: Any, typ: type | tuple[type, ...], key: str, what: str) -> Any:
    if isinstance(value, bool) and typ is not bool and bool not in (typ if isinstance(typ, tuple) else (typ,)):
        raise ConfigError(f"{CONFIG_FILE}: {key} must be {what}, got {value!r}")
    if not isinstance(value, typ):
        raise ConfigError(f"{CONFIG_FILE}: {key} must be {what}, got {value!r}")
    return value


def _server(table: Mapping[str, Any]) -> ServerSettings:
    s = ServerSettings()
    known = {f for f in ServerSettings.__dataclass_fields__}
    out: dict[str, Any] = {}
    for key, value in table.items():
        if key not in known:
            raise _unknown(key, known, "[server].")
        k = f"[server].{key}"
        if key == "shutdown_timeout":
            _expect(value, (int, float), k, "a number of seconds")
            if value < 0:
                raise ConfigError(f"{CONFIG_FILE}: {k} cannot be negative ({value})")
            value = float(value)
        elif key in {"port", "max_body_bytes", "max_query_depth", "max_query_cost"}:
            _expect(value, int, k, "an integer")
            if value < 0 or (key == "port" and value > 65535):
                raise ConfigError(f"{CONFIG_FILE}: {k} is out of range: {value}")
        elif key == "introspection":
            _expect(value, bool, k, "true or false")
        elif key == "cors_origins":
            if not isinstance(value, list) or not all(isinstance(o, str) and o for o in value):
                raise ConfigError(
                    f"{CONFIG_FILE}: {k} must be a list of origins such as [\"https://app.example.com\"], "
                    f"[\"*\"] for any, or [] for none; got {value!r}"
                )
            bad = [o for o in value if o != "*" and ("://" not in o or o.endswith("/"))]
            if bad:
                raise ConfigError(f"{CONFIG_FILE}: {k}: {bad[0]!r} is not an origin (scheme://host[:port], no path)")
            value = tuple(value)
        elif key in {"data_dir", "tls_cert", "tls_key"}:
            value = Path(_expect(value, str, k, "a path"))
        else:
            _expect(value, str, k, "a string")
        out[key] = value
    return replace(s, **out)


def _sync(table: Mapping[str, Any]) -> SyncSettings:
    out: dict[str, Any] = {}
    for key, value in table.items():
        if key in {"tombstone_ttl", "delta_ttl", "gc_interval"}:
            out[f"{key}_ms"] = parse_duration_ms(value, key=f"[sync].{key}")
        elif key == "durability":
            if value not in ("normal", "full"):
                raise ConfigError(f"{CONFIG_FILE}: [sync].durability must be \"normal\" or \"full\", got {value!r}")
            out[key] = value
        else:
            raise _unknown(key, ("tombstone_ttl", "delta_ttl", "durability", "gc_interval"), "[sync].")
    return SyncSettings(**out)


def _models(table: Mapping[str, Any]) -> dict[str, ModelSettings]:
    models: dict[str, ModelSettings] = {}
    for name, cfg in table.items():
        _expect(cfg, dict, f"[models.{name}]", "a table")
        out: dict[str, Any] = {}
        for key, value in cfg.items():
            k = f"[models.{name}].{key}"
            if key == "conflict":
                if value not in CONFLICT_STRATEGIES:
                    close = difflib.get_close_matches(str(value), CONFLICT_STRATEGIES, n=1)
                    hint = f" — did you mean {close[0]!r}?" if close else ""
                    raise ConfigError(
                        f"{CONFIG_FILE}: {k} must be one of {', '.join(CONFLICT_STRATEGIES)}, got {value!r}{hint}"
                    )
            elif key == "handler":
                _expect(value, str, k, "\"module:function\"")
            else:
                raise _unknown(key, ("conflict", "handler"), f"[models.{name}].")
            out[key] = value
        ms = ModelSettings(**out)
        if ms.conflict == "CUSTOM" and not ms.handler:
            raise ConfigError(
                f"{CONFIG_FILE}: [models.{name}] uses conflict = \"CUSTOM\" but has no handler; "
                "add handler = \"resolvers:my_conflict_handler\""
            )
        models[name] = ms
    return models


def _limits(table: Mapping[str, Any]) -> LimitSettings:
    known = set(LimitSettings.__dataclass_fields__)
    out: dict[str, Any] = {}
    for key, value in table.items():
        if key not in known:
            raise _unknown(key, known, "[limits].")
        k = f"[limits].{key}"
        if key.endswith("_burst"):
            _expect(value, int, k, "a whole number")
        else:
            _expect(value, (int, float), k, "a number (per second)")
        if value < 0:
            raise ConfigError(f"{CONFIG_FILE}: {k} cannot be negative ({value})")
        out[key] = value
    limits = LimitSettings(**out)
    for kind in ("query", "mutation", "subscription", "connection"):
        rate, burst = getattr(limits, f"{kind}_rate"), getattr(limits, f"{kind}_burst")
        if rate > 0 and burst == 0:
            out[f"{kind}_burst"] = max(1, int(rate))
    return LimitSettings(**out)


_REALTIME_DURATIONS = (
    "init_timeout",
    "keep_alive",
    "connection_timeout",
    "max_lifetime",
    "idle_timeout",
    "close_timeout",
)
_REALTIME_COUNTS = ("max_subscriptions", "max_message_bytes", "send_queue", "send_queue_bytes")


def _realtime(table: Mapping[str, Any]) -> RealtimeSettings:
    known = _REALTIME_DURATIONS + _REALTIME_COUNTS
    out: dict[str, Any] = {}
    for key, value in table.items():
        k = f"[realtime].{key}"
        if key in _REALTIME_DURATIONS:
            out[f"{key}_ms"] = parse_duration_ms(value, key=k)
        elif key in _REALTIME_COUNTS:
            _expect(value, int, k, "a whole number")
            if value < 1:
                raise ConfigError(f"{CONFIG_FILE}: {k} must be at least 1, got {value}")
            out[key] = value
        else:
            raise _unknown(key, known, "[realtime].")
    rt = RealtimeSettings(**out)
    if rt.max_message_bytes < 64:
        raise ConfigError(f"{CONFIG_FILE}: [realtime].max_message_bytes must be at least 64, got {rt.max_message_bytes}")
    if rt.connection_timeout_ms < 1:
        raise ConfigError(f"{CONFIG_FILE}: [realtime].connection_timeout must be positive")
    if rt.keep_alive_ms < 1 or rt.keep_alive_ms >= rt.connection_timeout_ms:
        raise ConfigError(
            f"{CONFIG_FILE}: [realtime].keep_alive ({rt.keep_alive_ms} ms) must be positive and shorter than "
            f"connection_timeout ({rt.connection_timeout_ms} ms), or AppSync clients drop the connection"
        )
    return rt


_MQTT_PREFIX = re.compile(r"^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*$")


def _mqtt(table: Mapping[str, Any]) -> MqttSettings:
    known = ("enabled", "tcp_port", "tcp_host", "topic_prefix", "graphql_prefix", "grant_ttl",
             "send_queue", "send_queue_bytes", "max_offline_messages")
    out: dict[str, Any] = {}
    for key, value in table.items():
        k = f"[mqtt].{key}"
        if key == "enabled":
            out[key] = _expect(value, bool, k, "true or false")
        elif key == "tcp_port":
            _expect(value, int, k, "a port number")
            if not 0 <= value <= 65535 or isinstance(value, bool):
                raise ConfigError(f"{CONFIG_FILE}: {k} must be a port number 0-65535, got {value}")
            out[key] = value
        elif key in ("tcp_host",):
            out[key] = _expect(value, str, k, "a host name or address")
        elif key in ("topic_prefix", "graphql_prefix"):
            _expect(value, str, k, "a topic prefix like \"models\"")
            if not _MQTT_PREFIX.match(value):
                raise ConfigError(
                    f"{CONFIG_FILE}: {k} must be topic levels of letters, digits, '_', '.', '-' "
                    f"separated by '/', without wildcards or a leading '$' (e.g. \"models\"), got {value!r}"
                )
            out[key] = value
        elif key == "grant_ttl":
            out["grant_ttl_ms"] = parse_duration_ms(value, key=k)
            if out["grant_ttl_ms"] < 1:
                raise ConfigError(f"{CONFIG_FILE}: {k} must be positive")
        elif key in ("send_queue", "send_queue_bytes", "max_offline_messages"):
            _expect(value, int, k, "a whole number")
            if value < 1:
                raise ConfigError(f"{CONFIG_FILE}: {k} must be at least 1, got {value}")
            out[key] = value
        else:
            raise _unknown(key, known, "[mqtt].")
    mq = MqttSettings(**out)
    if mq.topic_prefix.split("/")[0] == mq.graphql_prefix.split("/")[0]:
        raise ConfigError(f"{CONFIG_FILE}: [mqtt].topic_prefix and graphql_prefix must start with different levels")
    return mq


_WORKFLOW_KEYS = ("functions", "region", "account", "graphql_identity")
_MACHINE_KEYS = ("type", "triggers")
_TRIGGER_KEYS = ("mutation", "input")


def _workflows(table: Mapping[str, Any]) -> WorkflowSettings:
    """`[workflows]` scalars, and one `[workflows.<name>]` table per state machine."""
    out: dict[str, Any] = {}
    machines: dict[str, StateMachineSettings] = {}
    for key, value in table.items():
        k = f"[workflows].{key}"
        if isinstance(value, dict):
            machines[key] = _machine(key, value)
        elif key in _WORKFLOW_KEYS:
            _expect(value, str, k, "a string")
            if key == "graphql_identity" and value not in ("SYSTEM", "API_KEY"):
                raise ConfigError(f"{CONFIG_FILE}: {k} must be \"SYSTEM\" or \"API_KEY\", got {value!r}")
            out[key] = value
        else:
            raise _unknown(key, _WORKFLOW_KEYS, "[workflows].")
    return WorkflowSettings(**out, machines=machines)


def _machine(name: str, table: Mapping[str, Any]) -> StateMachineSettings:
    out: dict[str, Any] = {}
    for key, value in table.items():
        k = f"[workflows.{name}].{key}"
        if key == "type":
            if value not in ("STANDARD", "EXPRESS"):
                close = difflib.get_close_matches(str(value).upper(), ("STANDARD", "EXPRESS"), n=1)
                hint = f" — did you mean {close[0]!r}?" if close else ""
                raise ConfigError(f"{CONFIG_FILE}: {k} must be \"STANDARD\" or \"EXPRESS\", got {value!r}{hint}")
            out[key] = value
        elif key == "triggers":
            _expect(value, list, k, "a list of { mutation = \"createX\", input = {...} } tables")
            triggers = []
            for i, trig in enumerate(value):
                tk = f"{k}[{i}]"
                _expect(trig, dict, tk, "a table { mutation = \"createX\", input = {...} }")
                for tkey in trig:
                    if tkey not in _TRIGGER_KEYS:
                        raise _unknown(tkey, _TRIGGER_KEYS, f"{tk}.")
                if "mutation" not in trig:
                    raise ConfigError(f"{CONFIG_FILE}: {tk} needs mutation = \"<Mutation field>\"")
                mutation = _expect(trig["mutation"], str, f"{tk}.mutation", "a Mutation field name")
                template = trig.get("input")
                if template is not None:
                    _expect(template, dict, f"{tk}.input", "a table (a Parameters-style template)")
                triggers.append(WorkflowTrigger(mutation=mutation.removeprefix("Mutation."), input=template))
            out[key] = tuple(triggers)
        else:
            raise _unknown(key, _MACHINE_KEYS, f"[workflows.{name}].")
    return StateMachineSettings(**out)


_SECTIONS = ("server", "sync", "models", "limits", "realtime", "mqtt", "resolvers", "auth", "workflows")


def load_settings(
    project_dir: Path | str,
    *,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Settings:
    """Read PROJECT/syncline.toml (optional), apply SYNCLINE_* variables, then `overrides`.

    `overrides` are [server] keys from command-line flags (None values are ignored).
    """
    project = Path(project_dir).resolve()
    env = os.environ if env is None else env
    raw: dict[str, Any] = {}
    path = project / CONFIG_FILE
    if path.exists():
        try:
            raw = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
    for key in raw:
        if key not in _SECTIONS:
            raise _unknown(key, _SECTIONS, "")
    server_table = dict(_expect(raw.get("server", {}), dict, "[server]", "a table"))
    for var, key, conv in (
        ("SYNCLINE_API_KEY", "api_key", str),
        ("SYNCLINE_HOST", "host", str),
        ("SYNCLINE_PORT", "port", int),
        ("SYNCLINE_DATA", "data_dir", str),
    ):
        if env.get(var):
            try:
                server_table[key] = conv(env[var])
            except ValueError as exc:
                raise ConfigError(f"{var} must be {conv.__name__}, got {env[var]!r}") from exc
    for key, value in (overrides or {}).items():
        if value is not None:
            server_table[key] = str(value) if isinstance(value, Path) else value
    resolvers = _expect(raw.get("resolvers", {}), dict, "[resolvers]", "a table")
    auth = _expect(raw.get("auth", {}), dict, "[auth]", "a table")
    return Settings(
        project_dir=project,
        server=_server(server_table),
        sync=_sync(_expect(raw.get("sync", {}), dict, "[sync]", "a table")),
        models=_models(_expect(raw.get("models", {}), dict, "[models]", "a table")),
        limits=_limits(_expect(raw.get("limits", {}), dict, "[limits]", "a table")),
        realtime=_realtime(_expect(raw.get("realtime", {}), dict, "[realtime]", "a table")),
        mqtt=_mqtt(_expect(raw.get("mqtt", {}), dict, "[mqtt]", "a table")),
        resolvers=dict(resolvers),
        auth=dict(auth),
        workflows=_workflows(_expect(raw.get("workflows", {}), dict, "[workflows]", "a table")),
    )
