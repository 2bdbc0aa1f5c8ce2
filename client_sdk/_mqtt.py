"""Real-time over MQTT (`SyncClient(..., realtime="mqtt")`), AppSync's MQTT mode.

The handshake: each subscription document is POSTed to the GraphQL endpoint like any
operation; the answer's `extensions.subscription` names an MQTT-over-WebSocket URL, a client
id and the topic of the subscription's group (docs/protocol.md, "GraphQL subscriptions over
MQTT"). Later POSTs pass that client id, so one MQTT connection carries every subscription.
Each message is the GraphQL result (`{"data": {"onCreateTodo": {...}}}`) and goes to the same
sink as a WebSocket `next`, so both transports feed one merge path.

paho-mqtt is an optional dependency (`pip install syncline[mqtt]`), imported only here and
only when MQTT is asked for. It runs its network loop on a daemon thread; every callback hops
to the event loop with `call_soon_threadsafe`. Grants expire (`expireTime`): the handshake is
repeated at half their lifetime, and a failed renewal or a lost connection closes the sink
(the sync loop then reconnects and runs a delta sync, as for the WebSocket).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Mapping
from urllib.parse import urlsplit

from ._auth import Auth, SigningAuth, request_headers
from ._client_http import HttpTransport
from ._errors import AuthRejected, LocalError, NetworkError, ServerError, SyncTimeout

if TYPE_CHECKING:  # pragma: no cover
    import paho.mqtt.client as paho

__all__ = ["Grant", "MqttSubscription", "broker_address", "check_available", "mqtt_login", "parse_handshake"]

log = logging.getLogger("client_sdk")

Sink = Callable[[tuple[str, Mapping[str, Any]] | None], None]
_INSTALL = "realtime='mqtt' needs paho-mqtt 2: pip install 'syncline[mqtt]' (or paho-mqtt>=2)"


def check_available() -> None:
    """Raises LocalError naming the install command when paho-mqtt 2 is missing."""
    try:
        import paho.mqtt.client  # noqa: F401
    except ImportError as exc:
        raise LocalError(_INSTALL) from exc
    try:
        import paho.mqtt.enums  # noqa: F401  (paho-mqtt 2)
    except ImportError as exc:
        raise LocalError(_INSTALL + " (paho-mqtt 1.x is installed)") from exc


# --- the handshake answer and the CONNECT credentials (no I/O) ---------------------------------


@dataclass(frozen=True, kw_only=True)
class Grant:
    """One subscription's place on the broker, from a handshake answer."""

    url: str
    client: str
    topic: str
    #: Seconds since the epoch; None when the server gave no expiry.
    expires: float | None


def parse_handshake(body: Mapping[str, Any], field_name: str) -> Grant:
    """The grant in a handshake answer for the subscription field `field_name`.

    Raises:
        ServerError: the answer carries GraphQL errors or no MQTT connection.
    """
    errors = body.get("errors")
    if errors:
        first = errors[0] if isinstance(errors, list) and isinstance(errors[0], Mapping) else {"message": str(errors)}
        raise ServerError.from_wire(first)
    sub = (body.get("extensions") or {}).get("subscription")
    conns = sub.get("mqttConnections") if isinstance(sub, Mapping) else None
    if not isinstance(conns, list) or not conns or not isinstance(conns[0], Mapping):
        raise ServerError(
            "the answer to a subscription POST has no extensions.subscription.mqttConnections "
            "(is MQTT enabled on the server?)",
            error_type="BadRequest",
        )
    conn = conns[0]
    new = (sub.get("newSubscriptions") or {}).get(field_name) if isinstance(sub, Mapping) else None
    topic = new.get("topic") if isinstance(new, Mapping) else None
    topics = conn.get("topics")
    if not isinstance(topic, str):
        topic = topics[0] if isinstance(topics, list) and topics and isinstance(topics[0], str) else None
    url, client = conn.get("url"), conn.get("client")
    if not (isinstance(url, str) and isinstance(client, str) and isinstance(topic, str)):
        raise ServerError(f"malformed mqttConnections entry: {dict(conn)!r}", error_type="BadRequest")
    expire = new.get("expireTime") if isinstance(new, Mapping) else None
    return Grant(url=url, client=client, topic=topic, expires=expire / 1000 if isinstance(expire, (int, float)) else None)


def mqtt_login(headers: Mapping[str, str]) -> tuple[str, str]:
    """CONNECT's username and password for an auth's headers: the username names the mode,
    the password is the credential (docs/protocol.md, "Authentication (CONNECT)").

    Raises:
        LocalError: no credential MQTT can carry.
    """
    h = {k.lower(): v for k, v in headers.items()}
    if "x-api-key" in h:
        return "API_KEY", h["x-api-key"]
    token = h.get("authorization", "")
    if not token:
        raise LocalError("realtime='mqtt' needs an API key, a JWT or a Lambda token to CONNECT with")
    bare = token[7:].strip() if token[:7].lower() == "bearer " else token
    return ("OPENID_CONNECT" if bare.count(".") == 2 else "AWS_LAMBDA"), token


def broker_address(url: str) -> tuple[str, str, int, str, bool]:
    """(transport, host, port, path, tls) of an mqttConnections URL (ws://, wss://, mqtt://, mqtts://)."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    tls = scheme in ("wss", "mqtts", "ssl", "tls")
    if scheme in ("ws", "wss"):
        transport = "websockets"
    elif scheme in ("mqtt", "mqtts", "tcp", "ssl", "tls"):
        transport = "tcp"
    else:
        raise NetworkError(f"unsupported MQTT URL {url!r}")
    default = {"websockets": 443 if tls else 80, "tcp": 8883 if tls else 1883}[transport]
    return transport, parts.hostname or "", parts.port or default, parts.path or "/mqtt", tls


# --- the adapter --------------------------------------------------------------------------------


class MqttSubscription:
    """One MQTT connection carrying every model subscription; events go to `sink` as
    (operation id, payload), `None` once the connection is lost."""

    def __init__(self, http: HttpTransport, subscriptions: Mapping[str, tuple[str, str]], sink: Sink) -> None:
        self._http = http
        self._subs = dict(subscriptions)  # operation id -> (document, subscription field)
        self._sink = sink
        self._loop = asyncio.get_running_loop()
        self._by_topic: dict[str, list[str]] = {}
        self._client: paho.Client | None = None
        self._connack: asyncio.Future[Any] = self._loop.create_future()
        self._suback: asyncio.Future[list[Any]] = self._loop.create_future()
        self._renewer: asyncio.Task[None] | None = None
        self._closed = False
        self._live = False  # SUBACK seen: from now on a lost connection closes the sink
        self.client_id: str | None = None

    @classmethod
    async def connect(
        cls,
        http: HttpTransport,
        auth: Auth | None,
        subscriptions: Mapping[str, tuple[str, str]],
        sink: Sink,
        *,
        client_id: str | None = None,
        timeout: float | None,
    ) -> "MqttSubscription":
        """Handshake every subscription, CONNECT, SUBSCRIBE and wait for the SUBACK: events
        published after this returns are delivered.

        Raises:
            LocalError: paho-mqtt is missing, or the auth cannot CONNECT (SigV4).
            AuthRejected: the handshake or the CONNECT was refused.
            ServerError: the server does not serve subscriptions over MQTT, or refused one.
            NetworkError: the broker could not be reached (SyncTimeout: not in time).
        """
        check_available()
        if isinstance(auth, SigningAuth):
            raise LocalError(
                "realtime='mqtt' cannot use SigV4: the server's MQTT CONNECT takes one credential "
                "(API key, JWT or Lambda token); use realtime='websocket'"
            )
        username, password = mqtt_login(await request_headers(auth, "POST", http.url, {}, b""))
        self = cls(http, subscriptions, sink)
        try:
            grants = await self._handshake(client_id)
            await self._start(grants[0], username, password, timeout)
        except BaseException:
            await self.close()
            raise
        self._renewer = asyncio.create_task(self._renew_forever(grants), name="syncline-mqtt-renew")
        return self

    async def _handshake(self, client_id: str | None) -> list[Grant]:
        grants: list[Grant] = []
        # Built aside and swapped in at the end: a renewal must not drop the messages that
        # arrive while its POSTs are in flight.
        by_topic: dict[str, list[str]] = {}
        for oid, (doc, field_name) in self._subs.items():
            ext = {"subscription": {"client": client_id}} if client_id else None
            grant = parse_handshake(await self._http.execute(doc, {}, extensions=ext), field_name)
            client_id = grant.client
            grants.append(grant)
            by_topic.setdefault(grant.topic, []).append(oid)
        if not grants:
            raise LocalError("no subscriptions to carry over MQTT")
        self._by_topic = by_topic
        self.client_id = client_id
        return grants

    async def _start(self, grant: Grant, username: str, password: str, timeout: float | None) -> None:
        import paho.mqtt.client as mqtt
        from paho.mqtt.enums import CallbackAPIVersion

        transport, host, port, path, tls = broker_address(grant.url)
        c = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=grant.client,
            clean_session=True,
            protocol=mqtt.MQTTv311,
            transport="websockets" if transport == "websockets" else "tcp",
            reconnect_on_failure=False,  # a new connection needs a new handshake and a delta sync
        )
        if transport == "websockets":
            c.ws_set_options(path=path)
        if tls:
            c.tls_set()
        c.username_pw_set(username, password)
        c.on_connect = self._on_connect
        c.on_subscribe = self._on_subscribe
        c.on_message = self._on_message
        c.on_disconnect = self._on_disconnect
        self._client = c
        try:
            async with asyncio.timeout(timeout):
                # connect() opens the socket (and the WebSocket) synchronously: off the loop.
                await asyncio.to_thread(c.connect, host, port, 30)
                c.loop_start()
                rc = await self._connack
                if getattr(rc, "is_failure", False):
                    if getattr(rc, "value", None) in (4, 5, 134, 135):
                        raise AuthRejected(403, f"MQTT CONNECT refused: {rc}")
                    raise NetworkError(f"MQTT CONNECT refused by {grant.url}: {rc}")
                c.subscribe([(t, 1) for t in self._by_topic])
                codes = await self._suback
        except TimeoutError as exc:
            raise SyncTimeout(f"no MQTT CONNACK/SUBACK from {grant.url} within {timeout} s") from exc
        except (OSError, ValueError) as exc:
            raise NetworkError(f"{grant.url} (MQTT): {exc!r}") from exc
        refused = [t for t, rc in zip(self._by_topic, codes) if getattr(rc, "is_failure", False)]
        if refused:
            raise ServerError(f"MQTT SUBSCRIBE refused for {', '.join(refused)}", error_type="Unauthorized")
        self._live = True

    async def _renew_forever(self, grants: list[Grant]) -> None:
        """Post the subscriptions again (same client id, same topics) at half the grants' life."""
        try:
            while True:
                expiries = [g.expires for g in grants if g.expires is not None]
                if not expiries:
                    return
                await asyncio.sleep(max(1.0, (min(expiries) - time.time()) / 2))
                grants = await self._handshake(self.client_id)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a renewal that fails ends the connection: the loop resyncs
            log.info("MQTT grant renewal failed: %s", exc)
            self._lost()

    # -- paho callbacks: on paho's thread, so they only hop to the loop --------------------------

    def _hop(self, fn: Callable[..., None], *args: Any) -> None:
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody is listening
            self._loop.call_soon_threadsafe(fn, *args)

    def _on_connect(self, client: paho.Client, userdata: Any, flags: Any, rc: Any, props: Any) -> None:
        self._hop(_resolve, self._connack, rc)

    def _on_subscribe(self, client: paho.Client, userdata: Any, mid: int, rcs: list[Any], props: Any) -> None:
        self._hop(_resolve, self._suback, list(rcs))

    def _on_message(self, client: paho.Client, userdata: Any, msg: paho.MQTTMessage) -> None:
        self._hop(self._deliver, msg.topic, bytes(msg.payload))

    def _on_disconnect(self, client: paho.Client, userdata: Any, flags: Any, rc: Any, props: Any) -> None:
        self._hop(self._lost)

    # -- on the loop -----------------------------------------------------------------------------

    def _deliver(self, topic: str, payload: bytes) -> None:
        if self._closed:
            return
        try:
            body = json.loads(payload)
        except ValueError:
            log.warning("MQTT message on %s is not JSON; dropped", topic)
            return
        if not isinstance(body, dict):
            return
        for oid in self._by_topic.get(topic, ()):
            self._sink((oid, body))

    def _lost(self) -> None:
        if self._live and not self._closed:
            self._sink(None)
        self._closed = True
        for fut in (self._connack, self._suback):
            if not fut.done():
                fut.set_exception(NetworkError("the MQTT connection closed"))

    async def close(self) -> None:
        self._closed = True
        renewer, self._renewer = self._renewer, None
        c, self._client = self._client, None
        for fut in (self._connack, self._suback):
            if not fut.done():
                fut.cancel()
        if c is not None:
            c.disconnect()
            # loop_stop joins paho's thread (up to its 1 s select): off the loop, and shielded
            # so that a cancelled close still stops it.
            stopping = asyncio.ensure_future(asyncio.to_thread(c.loop_stop))
        try:
            if renewer is not None:
                renewer.cancel()
                try:
                    await renewer
                except asyncio.CancelledError:
                    if (t := asyncio.current_task()) is not None and t.cancelling():
                        raise
        finally:
            if c is not None:
                await asyncio.shield(stopping)


def _resolve(fut: asyncio.Future[Any], value: Any) -> None:
    if not fut.done():
        fut.set_result(value)
