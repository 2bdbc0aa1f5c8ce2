"""Reading CONNECT before the broker (server/mqtt/_connect.py): sans-IO, bytes in, fields out."""

from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st

from server.mqtt._connect import MAX_CONNECT_BYTES, ConnectError, ConnectPacket, packet_length, parse_connect


def s(raw: bytes) -> bytes:
    return len(raw).to_bytes(2, "big") + raw


def connect(client_id: str = "c1", *, user: str | None = "API_KEY", password: bytes | None = b"da2-x", clean: bool = True, will: bool = False, level: int = 4) -> bytes:
    flags = (0x02 if clean else 0) | (0x80 if user is not None else 0) | (0x40 if password is not None else 0) | (0x04 if will else 0)
    body = s(b"MQTT") + bytes([level, flags]) + (60).to_bytes(2, "big") + s(client_id.encode())
    if will:
        body += s(b"will/topic") + s(b"bye")
    if user is not None:
        body += s(user.encode())
    if password is not None:
        body += s(password)
    n, rem = len(body), bytearray()
    while True:
        b, n = n % 128, n // 128
        rem.append(b | (0x80 if n else 0))
        if not n:
            break
    return bytes([0x10]) + bytes(rem) + body


def test_fields() -> None:
    assert parse_connect(connect()) == ConnectPacket(client_id="c1", clean_session=True, username="API_KEY", password=b"da2-x")
    p = parse_connect(connect("", user=None, password=None, clean=False, will=True))
    assert p == ConnectPacket(client_id="", clean_session=False, username=None, password=None)


def test_packet_length_needs_the_whole_header() -> None:
    pkt = connect(password=b"t" * 300)  # two-byte remaining length
    assert packet_length(pkt[:1]) is None and packet_length(pkt[:2]) is None
    assert packet_length(pkt[:3]) == len(pkt)


@pytest.mark.parametrize(
    "data,words",
    [
        (b"\x30\x02\x00\x00", "must be CONNECT"),
        (connect(level=5), "MQTT 3.1.1"),
        (connect()[:-1], "incomplete"),
        (b"\x10\xff\xff\xff\xff", "remaining length"),
        (b"\x10\xff\xff\x7f", "limit"),
    ],
)
def test_refusals_say_what_is_wrong(data: bytes, words: str) -> None:
    with pytest.raises(ConnectError, match=words):
        parse_connect(data)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200))
def test_random_bytes_parse_or_raise_our_error(data: bytes) -> None:
    """Invariant: any bytes either give a CONNECT or raise ConnectError, never anything else."""
    try:
        total = packet_length(data)
        if total is not None and total <= len(data):
            parse_connect(data[:total])
    except ConnectError:
        pass


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=40), st.one_of(st.none(), st.text(max_size=40)), st.one_of(st.none(), st.binary(max_size=400)), st.booleans())
def test_round_trip(client_id: str, user: str | None, password: bytes | None, clean: bool) -> None:
    pkt = connect(client_id, user=user, password=password, clean=clean)
    assert packet_length(pkt) == len(pkt) <= MAX_CONNECT_BYTES
    assert parse_connect(pkt) == ConnectPacket(client_id=client_id, clean_session=clean, username=user, password=password)
