"""Logging: human-readable or JSON lines, a request id on every line, secrets never written.

The request id lives in a context variable set by the HTTP middleware, so every log line a
request causes (resolvers, store, auth) carries it without being passed around. Redaction is
a filter on the handler: whatever a module logs, API keys, JWTs and SigV4 signatures are
masked before anything reaches a file.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import sys
import time
from typing import Literal, TextIO

request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("syncline_request_id", default=None)

LogFormat = Literal["text", "json"]

_SECRETS = (
    # AppSync-style API keys (da2-…) and anything sent as x-api-key
    re.compile(r"\bda2-[A-Za-z0-9]{8,}"),
    re.compile(r"(?i)(x-api-key['\"]?\s*[:=]\s*['\"]?)([^\s'\",}]+)"),
    # JWTs: three base64url parts, the first decoding to a JSON header ("eyJ")
    re.compile(r"\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*"),
    # SigV4: Signature=<hex> in headers and X-Amz-Signature=<hex> in query strings
    re.compile(r"(?i)((?:x-amz-)?signature=)([0-9a-f]{16,})"),
    # Authorization / Bearer values
    re.compile(r"(?i)(bearer\s+)([^\s'\",}]+)"),
    re.compile(r"(?i)(authorization['\"]?\s*[:=]\s*['\"]?)([^'\",}]+)"),
)


def redact(text: str) -> str:
    """Mask credentials in `text`, keeping the label so the line stays readable."""
    for pattern in _SECRETS:
        if pattern.groups >= 2:
            text = pattern.sub(lambda m: m.group(1) + "[REDACTED]", text)
        else:
            text = pattern.sub("[REDACTED]", text)
    return text


class RedactingFilter(logging.Filter):
    """Renders the message once, masks secrets in it, and stamps the request id."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string must not kill logging
            message = str(record.msg)
        record.msg = redact(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        record.request_id = request_id.get()
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        rid = getattr(record, "request_id", None)
        if rid:
            entry["request_id"] = rid
        if record.exc_text:
            entry["exception"] = record.exc_text
        return json.dumps(entry, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        rid = getattr(record, "request_id", None)
        return f"{text} [req {rid}]" if rid else text


def configure(level: str = "INFO", fmt: LogFormat = "text", stream: TextIO | None = None) -> logging.Handler:
    """Install one redacting handler on the root logger (replacing earlier ones of ours)."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.addFilter(RedactingFilter())
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        if getattr(old, "_syncline", False):
            root.removeHandler(old)
    handler._syncline = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(getattr(logging, level.upper(), logging.INFO))
    # amqtt's state machine library logs every broker state callback at INFO: noise at our INFO
    # (still shown with --log-level debug).
    chatty = logging.DEBUG if level.upper() == "DEBUG" else logging.WARNING
    for name in _CHATTY:
        logging.getLogger(name).setLevel(chatty)
    return handler


#: third-party loggers that are noise at INFO
_CHATTY = ("transitions", "amqtt.broker.plugins")
