"""Back-to-back wiring for protocol cores (STYLE rule 11): no network, frames passed by hand."""

from __future__ import annotations

from typing import Any

import pytest

from server.protocols import NEED_DATA


def transfer(sender: Any, receiver: Any) -> list[Any]:
    """Move every queued frame from `sender` to `receiver`; return the receiver's events."""
    for frame in sender.data_to_send():
        receiver.receive_data(frame)
    events = []
    while (event := receiver.next_event()) is not NEED_DATA:
        events.append(event)
    return events


@pytest.fixture
def pump():
    return transfer
