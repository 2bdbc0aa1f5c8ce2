"""Reading an MQTT 3.1.1 CONNECT before the broker sees it (sans-IO: bytes in, fields out).

amqtt applies a CONNECT's side effects (clean_session deletes the client id's stored session; a
second connection takes over the first) *before* it refuses bad credentials. So the adapter
reads the first packet itself, authenticates it, and only hands an accepted connection to the
broker: a client with a wrong password cannot disturb someone else's session.

Errors:

    SynclineError
    └── ClientError
        └── ConnectError   not a well-formed MQTT 3.1.1 CONNECT
"""

from __future__ import annotations

from dataclasses import dataclass

from server.errors import ClientError

__all__ = ["CONNACK_NOT_AUTHORIZED", "ConnectError", "ConnectPacket", "MAX_CONNECT_BYTES", "packet_length", "parse_connect"]

#: CONNECT packets larger than this are refused (credentials are at most 16 KiB).
MAX_CONNECT_BYTES = 65_536
#: CONNACK, session present 0, return code 5 "not authorized" (MQTT 3.1.1 §3.2.2.3).
CONNACK_NOT_AUTHORIZED = bytes([0x20, 0x02, 0x00, 0x05])


class ConnectError(ClientError):
    """The first packet is not a well-formed MQTT 3.1.1 CONNECT."""

    error_type = "BadRequest"


@dataclass(frozen=True, kw_only=True)
class ConnectPacket:
    client_id: str
    clean_session: bool
    username: str | None
    password: bytes | None


def packet_length(head: bytes) -> int | None:
    """Total length of the packet starting with `head` (fixed header + remaining length), or
    None when more bytes are needed.

    Raises:
        ConnectError: not a CONNECT, or longer than MAX_CONNECT_BYTES.
    """
    if not head:
        return None
    if head[0] != 0x10:
        raise ConnectError("the first MQTT packet must be CONNECT (MQTT 3.1.1 §3.1)")
    length, mult = 0, 1
    for i in range(1, 5):
        if i >= len(head):
            return None
        b = head[i]
        length += (b & 0x7F) * mult
        mult *= 128
        if not b & 0x80:
            total = i + 1 + length
            if total > MAX_CONNECT_BYTES:
                raise ConnectError(f"CONNECT is {total} bytes; the limit is {MAX_CONNECT_BYTES}")
            return total
    raise ConnectError("malformed remaining length (MQTT 3.1.1 §2.2.3)")


def parse_connect(packet: bytes) -> ConnectPacket:
    """The fields of a whole CONNECT packet (as delimited by `packet_length`).

    Raises:
        ConnectError: naming what is wrong.
    """
    total = packet_length(packet)
    if total is None or total != len(packet):
        raise ConnectError("incomplete CONNECT packet")
    pos = 1
    while packet[pos] & 0x80:
        pos += 1
    pos += 1

    def take(n: int) -> bytes:
        nonlocal pos
        if pos + n > len(packet):
            raise ConnectError("CONNECT ends inside a field")
        out = packet[pos : pos + n]
        pos += n
        return out

    def field() -> bytes:
        return take(int.from_bytes(take(2), "big"))

    def text() -> str:
        try:
            return field().decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ConnectError("CONNECT strings must be UTF-8 (MQTT 3.1.1 §1.5.3)") from exc

    if text() != "MQTT":
        raise ConnectError("protocol name must be \"MQTT\" (MQTT 3.1.1 only)")
    level = take(1)[0]
    if level != 4:
        raise ConnectError(f"protocol level {level} is not served; this broker speaks MQTT 3.1.1 (level 4)")
    flags = take(1)[0]
    if flags & 0x01:
        raise ConnectError("reserved CONNECT flag set (MQTT 3.1.1 §3.1.2.3)")
    take(2)  # keep-alive: the broker reads it
    client_id = text()
    if flags & 0x04:  # will flag: topic and message
        text()
        field()
    username = text() if flags & 0x80 else None
    password = field() if flags & 0x40 else None
    return ConnectPacket(client_id=client_id, clean_session=bool(flags & 0x02), username=username, password=password)
