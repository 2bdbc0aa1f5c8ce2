#!/usr/bin/env python3
"""A live MQTT dashboard for a Syncline server: model topics and a GraphQL subscription.

Needs paho-mqtt 2.x (`pip install paho-mqtt`; Syncline's test dependencies include it) and
nothing else: the handshake is a plain HTTP POST made with the standard library.

    python3 dev.py serve examples/todo                 # in another terminal
    .venv/bin/python examples/mqtt_dashboard/dashboard.py --api-key "$(cat examples/todo/.syncline/api-key)"

What it does (docs/protocol.md#mqtt):

1. The AppSync MQTT handshake: POSTs `--subscription` to /graphql with the API key. The answer's
   `extensions.subscription` names the broker URL, a client id and the topic this
   subscription's group publishes on (granted to that client id until `expireTime`).
2. Connects to that URL (MQTT over WebSocket at /mqtt; or MQTT over TCP with `--tcp HOST:PORT`
   when the server sets `[mqtt] tcp_port`) with that client id, username `API_KEY` and the
   key as password.
3. Subscribes to the granted topic and to the model topics `models/<Model>/#` of each
   `--model` (every create, update and delete, with the item as stored).
4. Prints each message as one line — `model <Model>/<op> <item JSON>` or
   `graphql <field> <payload data JSON>` — and renews the grant before it expires.

`--count N` exits (status 0) after N messages; a refused CONNECT or SUBSCRIBE exits 1.
"""

from __future__ import annotations

import argparse
import json
import ssl
import sys
import threading
import time
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import urlsplit

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

DEFAULT_SUBSCRIPTION = "subscription { onCreateTodo { id title done } }"
RENEW_BEFORE_S = 60.0  # post the subscription again this long (or half its time left) before its grant expires


def handshake(url: str, api_key: str, query: str, client: str | None, tls: ssl.SSLContext | None) -> dict[str, Any]:
    """POST a subscription; return AppSync's `extensions.subscription` (raises on errors)."""
    body: dict[str, Any] = {"query": query}
    if client is not None:  # renew the grant of (and add topics to) an existing client id
        body["extensions"] = {"subscription": {"client": client}}
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        headers={"content-type": "application/json", "x-api-key": api_key},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=10, context=tls) as resp:
            answer = json.load(resp)
    except urllib.error.HTTPError as exc:
        answer = json.loads(exc.read() or b"{}")
    if answer.get("errors") or "subscription" not in (answer.get("extensions") or {}):
        raise SystemExit(f"subscription handshake refused: {answer.get('errors') or answer}")
    sub: dict[str, Any] = answer["extensions"]["subscription"]
    return sub


class Dashboard:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.tls = ssl.create_default_context(cafile=args.cafile) if args.url.startswith("https") else None
        self.sub = handshake(args.url, args.api_key, args.subscription, None, self.tls)
        conn = self.sub["mqttConnections"][0]
        self.client_id: str = conn["client"]
        self.graphql_topics = {info["topic"]: field for field, info in self.sub["newSubscriptions"].items()}
        self.topics = [*self.graphql_topics, *(f"{args.topic_prefix}/{m}/#" for m in args.model)]
        self.received = 0
        self.done = threading.Event()
        self.exit_status = 0
        self.mqtt = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=self.client_id,
            protocol=mqtt.MQTTv311,
            transport="tcp" if args.tcp else "websockets",
        )
        if args.tcp:
            host, _, port = args.tcp.rpartition(":")
            self.address = (host, int(port))
            self.where = f"mqtt://{args.tcp}"
        else:
            broker = urlsplit(conn["url"])  # ws://host:port/mqtt
            self.mqtt.ws_set_options(path=broker.path or "/mqtt")
            self.address = (broker.hostname or "127.0.0.1", broker.port or (443 if broker.scheme == "wss" else 80))
            self.where = conn["url"]
        if (args.tcp and self.tls) or self.where.startswith("wss"):
            self.mqtt.tls_set(ca_certs=args.cafile)
        self.mqtt.username_pw_set("API_KEY", args.api_key)
        self.mqtt.on_connect = self.on_connect
        self.mqtt.on_subscribe = self.on_subscribe
        self.mqtt.on_message = self.on_message

    def run(self) -> int:
        try:
            self.mqtt.connect(*self.address, keepalive=30)
        except OSError as exc:
            say(f"cannot reach the broker at {self.where}: {exc}", err=True)
            return 1
        self.mqtt.loop_start()
        try:
            while not self.done.is_set():
                left = self.expiry() - time.time()
                if self.done.wait(max(min(left - RENEW_BEFORE_S, left / 2), 0.1)):
                    break
                self.sub = handshake(self.args.url, self.args.api_key, self.args.subscription, self.client_id, self.tls)
                renewed = {info["topic"]: field for field, info in self.sub["newSubscriptions"].items()}
                for topic in renewed.keys() - self.graphql_topics.keys():  # a restarted server may move it
                    self.topics.append(topic)
                    self.mqtt.subscribe(topic, 1)
                self.graphql_topics.update(renewed)
                until = time.strftime("%H:%M:%S", time.localtime(self.expiry()))
                say(f"renewed the subscription grant of {self.client_id} until {until}")
        except KeyboardInterrupt:
            pass
        finally:
            self.mqtt.disconnect()
            self.mqtt.loop_stop()
        return self.exit_status

    def expiry(self) -> float:
        """When the first grant runs out (seconds since the epoch)."""
        return min(float(info["expireTime"]) for info in self.sub["newSubscriptions"].values()) / 1000.0

    def stop(self, status: int) -> None:
        self.exit_status = status
        self.done.set()

    def on_connect(self, client: mqtt.Client, userdata: Any, flags: Any, rc: Any, props: Any) -> None:
        if rc.is_failure:
            say(f"CONNECT to {self.where} refused: {rc}", err=True)
            self.stop(1)
            return
        say(f"connected to {self.where} as {self.client_id}")
        client.subscribe([(topic, 1) for topic in self.topics])  # again after a reconnect

    def on_subscribe(self, client: mqtt.Client, userdata: Any, mid: int, rcs: list[Any], props: Any) -> None:
        refused = [t for t, rc in zip(self.topics, rcs) if rc.is_failure]
        if refused:
            say(f"SUBSCRIBE refused by the topic ACL: {', '.join(refused)}", err=True)
            self.stop(1)
            return
        names = [f"{t} ({self.graphql_topics[t]})" if t in self.graphql_topics else t for t in self.topics]
        say(f"subscribed: {', '.join(names)}")

    def on_message(self, client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        payload = json.loads(msg.payload)
        field = self.graphql_topics.get(msg.topic)
        if field is not None:
            say(f"graphql {field} {json.dumps((payload.get('data') or {}).get(field))}")
            if payload.get("errors"):
                say(f"graphql {field} errors {json.dumps(payload['errors'])}", err=True)
        else:
            model_op = msg.topic.removeprefix(self.args.topic_prefix + "/")
            say(f"model {model_op} {json.dumps(payload)}")
        self.received += 1
        if self.args.count and self.received >= self.args.count:
            self.stop(0)


def say(line: str, *, err: bool = False) -> None:
    print(line, file=sys.stderr if err else sys.stdout, flush=True)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--url", default="http://127.0.0.1:4000/graphql", help="the server's GraphQL URL")
    p.add_argument("--api-key", required=True, help="an API key (da2-...)")
    p.add_argument("--model", action="append", help="model whose topics to watch (repeatable; default Todo)")
    p.add_argument("--subscription", default=DEFAULT_SUBSCRIPTION, help="GraphQL subscription to receive over MQTT")
    p.add_argument("--tcp", metavar="HOST:PORT", help="MQTT over TCP ([mqtt] tcp_port) instead of WebSocket /mqtt")
    p.add_argument("--topic-prefix", default="models", help="[mqtt] topic_prefix of the server")
    p.add_argument("--cafile", help="CA certificate for a TLS server (e.g. from `syncline dev-cert`)")
    p.add_argument("--count", type=int, default=0, help="exit after N messages (0: run until Ctrl-C)")
    args = p.parse_args(argv)
    args.model = args.model or ["Todo"]
    return args


if __name__ == "__main__":
    sys.exit(Dashboard(parse_args()).run())
