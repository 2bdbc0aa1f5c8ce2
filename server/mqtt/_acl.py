"""Topics, grants and the topic ACL: sans-IO (no asyncio, no amqtt, no clock: `now` is passed in).

Two families of server topics (docs/protocol.md "MQTT"):

- `<graphql_prefix>/<group>`: one topic per subscription *group*, handed out by the POST
  handshake. A client may subscribe to it only while it holds an unexpired grant bound to its
  client id and identity.
- `<topic_prefix>/<Model>/<op>` (every row) and `<topic_prefix>/<Model>/<op>/<owner>` (rows whose
  owner field holds `<owner>`). The first needs an identity that may read every row of the model
  (the @auth `listen` rules give it no row filter); the owner variant needs the identity to be
  that owner (or to see every row).

A filter is granted only when every topic it could match is readable: `#` or
`models/Todo/+/+` cover other owners' topics and are refused unless the identity sees all rows.
Nobody but the server publishes to a server topic; other topics are refused too (Syncline's
broker is not a general message bus).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

__all__ = ["OPS", "Grants", "TopicAcl", "group_topic", "principal_key"]

#: The model topic operations (`<prefix>/<Model>/<op>`).
OPS: tuple[str, ...] = ("create", "update", "delete")
_UNSAFE = frozenset("/+#\0")


def group_topic(prefix: str, group_key: Iterable[str]) -> str:
    """The topic of one subscription group: stable for equal keys, unguessable from outside."""
    digest = hashlib.sha256("\0".join(group_key).encode()).hexdigest()[:32]
    return f"{prefix}/{digest}"


def principal_key(auth_mode: str, *parts: str | None) -> str:
    """Who a grant is bound to: the auth mode and the first present principal id."""
    for p in parts:
        if p:
            return f"{auth_mode}:{p}"
    return f"{auth_mode}:"


def safe_level(value: str) -> bool:
    """Can `value` be one topic level (no separators, wildcards or NUL; not empty)?"""
    return bool(value) and not (_UNSAFE & set(value)) and len(value) <= 512


@dataclass
class _Grant:
    principal: str
    expires_at: float


@dataclass
class Grants:
    """Handshake grants: (client id, topic) → principal and expiry. Time is the caller's."""

    _by_client: dict[str, dict[str, _Grant]] = field(default_factory=dict)

    def grant(self, client: str, principal: str, topic: str, expires_at: float) -> None:
        """Add or renew a grant; a client id already bound to another principal is refused."""
        mine = self._by_client.setdefault(client, {})
        for g in mine.values():
            if g.principal != principal:
                raise PermissionError("this MQTT client id is bound to another identity")
        mine[topic] = _Grant(principal, expires_at)

    def count(self, client: str) -> int:
        """Grants `client` holds (expired ones count until `expire` drops them)."""
        return len(self._by_client.get(client, {}))

    def bound_to(self, client: str) -> str | None:
        """The principal a client id's grants belong to (None: no grants)."""
        for g in self._by_client.get(client, {}).values():
            return g.principal
        return None

    def allows(self, client: str, principal: str, topic: str, now: float) -> bool:
        g = self._by_client.get(client, {}).get(topic)
        return g is not None and g.principal == principal and g.expires_at > now

    def expire(self, now: float) -> list[tuple[str, str]]:
        """Drop expired grants; returns the (client, topic) pairs dropped."""
        gone: list[tuple[str, str]] = []
        for client, topics in list(self._by_client.items()):
            for topic, g in list(topics.items()):
                if g.expires_at <= now:
                    del topics[topic]
                    gone.append((client, topic))
            if not topics:
                del self._by_client[client]
        return gone

    def topics(self) -> set[str]:
        """Every topic some grant still refers to."""
        return {t for topics in self._by_client.values() for t in topics}

    def next_expiry(self) -> float | None:
        times = [g.expires_at for topics in self._by_client.values() for g in topics.values()]
        return min(times) if times else None


#: (model name) → None when the identity sees every row, else the owner values it is, or
#: raises LookupError when the identity may read no row of the model at all.
ReadScope = Callable[[str], frozenset[str] | None]


@dataclass(frozen=True, kw_only=True)
class Decision:
    allowed: bool
    reason: str = ""


class TopicAcl:
    """Subscribe/publish decisions for one broker.

    Args:
        topic_prefix: the model topics' prefix levels (e.g. "models").
        graphql_prefix: the group topics' prefix levels (e.g. "graphql").
        models: the model names.
    """

    def __init__(self, *, topic_prefix: str, graphql_prefix: str, models: Iterable[str]) -> None:
        self.topic_prefix = topic_prefix
        self.graphql_prefix = graphql_prefix
        self._model_levels = topic_prefix.split("/")
        self._graphql_levels = graphql_prefix.split("/")
        self.models = frozenset(models)

    def model_topic(self, model: str, op: str, owner: str | None = None) -> str:
        base = f"{self.topic_prefix}/{model}/{op}"
        return base if owner is None else f"{base}/{owner}"

    def can_publish(self, topic: str) -> Decision:
        """Clients never publish here: server topics are the server's, others are not served."""
        if _under(topic.split("/"), self._model_levels) or _under(topic.split("/"), self._graphql_levels):
            return Decision(allowed=False, reason="server topics are published by the server only")
        return Decision(allowed=False, reason="this broker takes no client publishes")

    def can_subscribe(
        self,
        topic_filter: str,
        *,
        granted: Callable[[str], bool],
        scope: ReadScope,
    ) -> Decision:
        """May a client subscribe to `topic_filter`?

        `granted(topic)` says whether the client holds a live handshake grant for `topic`;
        `scope(model)` gives the identity's read scope for a model (see ReadScope).
        """
        levels = topic_filter.split("/")
        if not any(level in ("+", "#") for level in levels) and _under(levels, self._graphql_levels):
            if granted(topic_filter):
                return Decision(allowed=True)
            return Decision(allowed=False, reason="no live grant for this subscription topic (POST the subscription again)")
        n = len(self._model_levels)
        if levels[:n] != self._model_levels:
            return Decision(allowed=False, reason="only granted subscription topics and model topics may be subscribed")
        rest = levels[n:]
        if not rest or rest[0] in ("+", "#"):
            return Decision(allowed=False, reason="a filter must name one model (wildcards over models are refused)")
        model = rest[0]
        if model not in self.models:
            return Decision(allowed=False, reason=f"no model named {model!r}")
        try:
            owners = scope(model)
        except LookupError as exc:
            return Decision(allowed=False, reason=str(exc) or f"not authorized to read {model}")
        tail = rest[1:]
        if not tail:
            return Decision(allowed=False, reason="a model filter needs an operation level: create, update, delete or +")
        op = tail[0]
        if op == "#":
            return self._all_rows(owners, model)
        if op != "+" and op not in OPS:
            return Decision(allowed=False, reason=f"unknown operation {op!r}; use create, update, delete or +")
        if len(tail) == 1:
            return self._all_rows(owners, model)
        if len(tail) > 2:
            return Decision(allowed=False, reason="model topics have at most an owner level after the operation")
        owner = tail[1]
        if owner in ("+", "#"):
            return self._all_rows(owners, model)
        if owners is None or owner in owners:
            return Decision(allowed=True)
        return Decision(allowed=False, reason=f"another owner's topic of {model}")

    @staticmethod
    def _all_rows(owners: frozenset[str] | None, model: str) -> Decision:
        if owners is None:
            return Decision(allowed=True)
        return Decision(
            allowed=False,
            reason=f"this filter covers other owners' {model} rows; subscribe to <prefix>/{model}/<op>/<your owner value>",
        )


def owner_levels(item: Mapping[str, object], owner_fields: Iterable[str]) -> list[str]:
    """The owner values of `item` usable as a topic level (values with '/', '+', '#' are skipped)."""
    out: list[str] = []
    for f in owner_fields:
        value = item.get(f)
        values = value if isinstance(value, list) else [value]
        for v in values:
            if isinstance(v, str) and safe_level(v) and v not in out:
                out.append(v)
    return out


def _under(levels: list[str], prefix: list[str]) -> bool:
    return len(levels) > len(prefix) and levels[: len(prefix)] == prefix
