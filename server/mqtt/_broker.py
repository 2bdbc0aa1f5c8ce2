"""The embedded amqtt broker: its config, its auth and topic-ACL plugins, and two overrides.

amqtt asks its plugins at CONNECT (`authenticate`) and on SUBSCRIBE, PUBLISH and every single
delivery (`topic_filtering`, action RECEIVE). Our plugins hand the first three to a `Gate`
(server/mqtt/_service.py). RECEIVE is answered here without calling the plugins: a client only
holds subscriptions the ACL granted, and an expired grant removes the broker's subscription, so a
per-delivery check would add nothing but one task per plugin per delivery.

The second override bounds what a disconnected persistent session (clean_session=False) keeps:
amqtt queues QoS 1 messages for it without limit; past `max_offline_messages` they are dropped.

The third is the fan-out fast path. A QoS 0 PUBLISH carries no packet id, so its bytes are the
same for every subscriber: they are built once per message and written to each connected QoS 0
subscriber synchronously (`write_now`), instead of amqtt's task, packet object, lock and timer
per delivery. QoS 1/2 deliveries and offline sessions keep amqtt's own path.

With `metrics`, each broadcast adds its deliveries (live or queued offline) to
`syncline_mqtt_messages_published` once, and drops to `syncline_mqtt_messages_dropped`.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any, Protocol

from amqtt.adapters import StreamWriterAdapter
from amqtt.broker import Broker
from amqtt.contexts import Action
from amqtt.mqtt.constants import QOS_1, QOS_2
from amqtt.mqtt.publish import PublishPacket
from amqtt.plugins.base import BaseAuthPlugin, BaseTopicPlugin
from amqtt.session import Session

from server.metrics import Metrics

__all__ = ["LISTENER", "AuthPlugin", "Gate", "SynclineBroker", "TopicAclPlugin", "broker_config"]

log = logging.getLogger("syncline.mqtt")

LISTENER = "default"
#: A disconnected persistent session is forgotten after this many seconds.
SESSION_EXPIRY_S = 86_400


class Gate(Protocol):
    """What the plugins ask (implemented by MqttService)."""

    async def authenticate_session(self, session: Session) -> bool: ...

    def forget_session(self, session: Session) -> None: ...

    def may_subscribe(self, session: Session, topic: str) -> bool: ...

    def may_publish(self, session: Session, topic: str) -> bool: ...


class AuthPlugin(BaseAuthPlugin):  # type: ignore[misc]
    """CONNECT → Syncline's Authenticator (username names the mode, password is the credential)."""

    @dataclass
    class Config:
        gate: Any = None

    async def authenticate(self, *, session: Session) -> bool | None:
        gate: Gate = self.context.config.gate
        return await gate.authenticate_session(session)

    async def on_broker_client_disconnected(self, *, client_id: str, client_session: Session) -> None:
        gate: Gate = self.context.config.gate
        gate.forget_session(client_session)


class TopicAclPlugin(BaseTopicPlugin):  # type: ignore[misc]
    """SUBSCRIBE and PUBLISH → the topic ACL (refusals become SUBACK 0x80 / a dropped publish)."""

    @dataclass
    class Config:
        gate: Any = None

    async def topic_filtering(
        self, *, session: Session | None = None, topic: str | None = None, action: Action | None = None
    ) -> bool | None:
        gate: Gate = self.context.config.gate
        if session is None or topic is None:
            return False
        if action == Action.SUBSCRIBE:
            return gate.may_subscribe(session, topic)
        if action == Action.PUBLISH:
            return gate.may_publish(session, topic)
        return True


class SynclineBroker(Broker):  # type: ignore[misc]
    """amqtt's Broker with the RECEIVE fast path and bounded offline queues (module docstring)."""

    def __init__(
        self,
        config: dict[str, Any],
        *,
        max_offline_messages: int,
        max_buffer_bytes: int = 8_388_608,
        metrics: Metrics | None = None,
    ) -> None:
        super().__init__(config)
        #: topic filter → subscribers; a dict that counts changes to its key set, so `may_match`
        #: can cache its answer until a filter appears or goes
        self._subscriptions: _Filters = _Filters(self.__dict__["_subscriptions"])
        self._match_cache: dict[tuple[str, ...], bool] = {}
        self._match_version = -1
        self.max_offline_messages = max_offline_messages
        self.max_buffer_bytes = max_buffer_bytes
        self.dropped_offline = 0
        self._metrics = metrics
        if metrics is not None:
            metrics.mqtt_subscriptions.set_function(self.subscription_count)

    def may_match(self, prefix: tuple[str, ...]) -> bool:
        """Could any held topic filter match a topic that starts with these levels? A write
        with no possible subscriber is then not encoded and published at all (20-40 µs per
        write saved when nobody listens on MQTT)."""
        filters = self._subscriptions
        if self._match_version != filters.version:
            self._match_cache.clear()
            self._match_version = filters.version
        known = self._match_cache.get(prefix)
        if known is None:
            known = self._match_cache[prefix] = any(_could_match(f.split("/"), prefix) for f in filters)
        return known

    def subscription_count(self) -> int:
        """Topic filters held by sessions, connected or persistent (one per session and filter).
        A clean session's filters end with its connection (amqtt forgets them a second later)."""
        return sum(
            1
            for subscriptions in self._subscriptions.values()
            for session, _ in subscriptions
            if not session.clean_session or session.transitions.state == "connected"
        )

    async def _run_broadcast(self, running_tasks: Any) -> None:
        broadcast = await self._broadcast_queue.get()
        topic, data = broadcast["topic"], broadcast["data"]
        frame: bytes | None = None
        sent = dropped = 0
        for a_filter, subscriptions in list(self._subscriptions.items()):
            if not self._matches(topic, a_filter):
                continue
            for target_session, sub_qos in list(subscriptions):
                qos = broadcast.get("qos", sub_qos)
                connected = target_session.transitions.state == "connected"
                if not connected:
                    if not target_session.clean_session and qos in (QOS_1, QOS_2) and not target_session.is_anonymous:
                        if await self._retain_broadcast_message(broadcast, qos, target_session):
                            sent += 1
                    continue
                handler = self._get_handler(target_session)
                if handler is None:
                    continue
                if not qos:
                    written = self._write_now(handler.writer, frame := frame or _qos0_frame(topic, data))
                    if written:
                        sent += 1
                        continue
                    if written is False:
                        dropped += 1
                        continue
                sent += 1
                running_tasks.append(asyncio.ensure_future(handler.mqtt_publish(topic, data, qos, retain=False)))
        if self._metrics is not None:
            if sent:
                self._metrics.mqtt_published.inc(sent)
            if dropped:
                self._metrics.mqtt_dropped.labels("slow_consumer").inc(dropped)

    def _write_now(self, writer: Any, frame: bytes) -> bool | None:
        """Write a QoS 0 frame without a task: True sent, False dropped (a slow consumer), None:
        let amqtt's path send it. (A WebSocket writer counts the backlog it drops itself.)"""
        write_now = getattr(writer, "write_now", None)
        if write_now is not None:
            return bool(write_now(frame))
        if isinstance(writer, StreamWriterAdapter):
            if writer.is_closed:
                return not getattr(writer, "syncline_slow", False)
            transport = writer._writer.transport
            if transport.get_write_buffer_size() > self.max_buffer_bytes:
                log.warning("disconnecting a slow MQTT consumer (TCP): %d bytes buffered", transport.get_write_buffer_size())
                writer.is_closed = True
                writer.syncline_slow = True
                transport.abort()
                if self._metrics is not None:
                    self._metrics.slow_consumers.labels("mqtt").inc()
                return False
            writer.write(frame)
            return True
        return None

    async def _topic_filtering(self, session: Session, topic: str, action: Action) -> bool:
        if action == Action.RECEIVE:
            return True
        result: bool = await super()._topic_filtering(session, topic, action)
        return result

    async def _retain_broadcast_message(self, broadcast: dict[str, Any], qos: int, target_session: Session) -> bool:
        """Queue a message for a disconnected persistent session; False: its queue is full."""
        if target_session.retained_messages.qsize() >= self.max_offline_messages:
            self.dropped_offline += 1
            if self._metrics is not None:
                self._metrics.mqtt_dropped.labels("offline_queue_full").inc()
            if self.dropped_offline == 1 or self.dropped_offline % 1000 == 0:
                log.warning(
                    "offline MQTT session %s holds %d messages; dropping (%d dropped so far)",
                    target_session.client_id,
                    self.max_offline_messages,
                    self.dropped_offline,
                )
            return False
        await super()._retain_broadcast_message(broadcast, qos, target_session)
        return True

    def publish_nowait(self, topic: str, data: bytes) -> None:
        """Queue a server publish (each subscriber gets it at its subscription's QoS)."""
        self._broadcast_queue.put_nowait({"session": None, "topic": topic, "data": data})

    def unsubscribe_client(self, client_id: str, topic: str) -> bool:
        """Remove one client's subscription to `topic` (a grant expired)."""
        entry = self._sessions.get(client_id)
        if entry is None:
            return False
        removed = bool(self._del_subscription(topic, entry[0]))
        if topic in self._subscriptions and not self._subscriptions[topic]:
            del self._subscriptions[topic]
        return removed

    @property
    def running(self) -> bool:
        return bool(self.transitions.state == "started")


class _Filters(dict[str, Any]):
    """amqtt's topic-filter table; `version` changes whenever a filter is added or removed."""

    version = 0

    def __setitem__(self, key: str, value: Any) -> None:
        if key not in self:
            self.version += 1
        super().__setitem__(key, value)

    def __delitem__(self, key: str) -> None:
        self.version += 1
        super().__delitem__(key)

    def pop(self, key: str, *default: Any) -> Any:
        self.version += 1
        return super().pop(key, *default)

    def clear(self) -> None:
        self.version += 1
        super().clear()

    def setdefault(self, key: str, default: Any = None) -> Any:
        if key not in self:
            self.version += 1
        return super().setdefault(key, default)


def _could_match(levels: list[str], prefix: tuple[str, ...]) -> bool:
    """MQTT filter matching against a topic known only by its first levels (more follow)."""
    for i, want in enumerate(prefix):
        if i >= len(levels):
            return False
        level = levels[i]
        if level == "#":
            return True
        if level != "+" and level != want:
            return False
    return len(levels) > len(prefix)


def _qos0_frame(topic: str, data: bytes) -> bytes:
    frame: bytes = PublishPacket.build(topic, data, None, dup_flag=False, qos=0, retain=False).to_bytes()
    return frame


def broker_config(gate: Gate) -> dict[str, Any]:
    """amqtt's config: one external listener (WebSocket and TCP connections are accepted by
    Syncline, which checks CONNECT first, then hands them over) and our two plugins."""
    return {
        "listeners": {LISTENER: {"type": "external", "bind": "syncline", "max_connections": 0}},
        "timeout_disconnect_delay": 0,
        # a persistent session (and the messages it holds) is dropped after a day offline
        "session_expiry_interval": SESSION_EXPIRY_S,
        "plugins": {
            f"{__name__}.AuthPlugin": {"gate": gate},
            f"{__name__}.TopicAclPlugin": {"gate": gate},
        },
    }
