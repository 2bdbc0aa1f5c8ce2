"""Real-time: the event bus, the mutation publisher and the grouped subscription registry.

The WebSocket adapter (server/web/realtime.py) drives the protocol cores (server/protocols/) and
registers their subscriptions here; nothing in this package does network I/O.
"""

from server.realtime.bus import EventBus, LocalBus, MutationEvent
from server.realtime.publish import install_publisher
from server.realtime.registry import (
    AuthView,
    Sink,
    Subscriber,
    SubscriptionError,
    SubscriptionRegistry,
    ViewFunction,
    compile_filter_group,
    model_view,
)

__all__ = [
    "AuthView",
    "EventBus",
    "LocalBus",
    "MutationEvent",
    "Sink",
    "Subscriber",
    "SubscriptionError",
    "SubscriptionRegistry",
    "ViewFunction",
    "compile_filter_group",
    "install_publisher",
    "model_view",
]
