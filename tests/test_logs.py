"""Secrets never reach a log line; JSON lines carry the request id."""

from __future__ import annotations

import io
import json
import logging

import pytest

from server.logs import configure, redact, request_id

JWT = "eyJhbGciOiJSUzI1NiIsImtpZCI6ImsxIn0.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJlLXNpZ25hdHVyZQ"
SIG = "Signature=" + "ab12" * 16
KEY = "da2-abcdefghijklmnopqrstuvwxyz"


@pytest.mark.parametrize(
    "line, secret",
    [
        (f"got key {KEY} from client", KEY),
        ("headers {'x-api-key': 'my-custom-key-123'}", "my-custom-key-123"),
        (f"Authorization: Bearer {JWT}", JWT),
        (f"token={JWT}", JWT),
        (f"Authorization: AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/appsync/aws4_request, SignedHeaders=host, {SIG}", SIG[10:]),
        (f"url ?X-Amz-Signature={'cd34' * 16}&x=1", "cd34" * 16),
    ],
)
def test_redact_masks_credentials(line: str, secret: str) -> None:
    out = redact(line)
    assert secret not in out
    assert "[REDACTED]" in out


def test_json_lines_with_request_id_and_redaction() -> None:
    stream = io.StringIO()
    handler = configure("INFO", "json", stream)
    try:
        token = request_id.set("req-123")
        try:
            logging.getLogger("syncline.test").warning("refused %s", KEY)
        finally:
            request_id.reset(token)
        logging.getLogger("syncline.test").info("no request here")
    finally:
        logging.getLogger().removeHandler(handler)
    first, second = (json.loads(line) for line in stream.getvalue().splitlines())
    assert first["request_id"] == "req-123" and first["level"] == "WARNING"
    assert KEY not in first["message"] and "[REDACTED]" in first["message"]
    assert "request_id" not in second


def test_text_format_and_exceptions_are_redacted() -> None:
    stream = io.StringIO()
    handler = configure("INFO", "text", stream)
    try:
        try:
            raise ValueError(f"bad token {JWT}")
        except ValueError:
            logging.getLogger("syncline.test").exception("failed")
    finally:
        logging.getLogger().removeHandler(handler)
    text = stream.getvalue()
    assert "failed" in text and "ValueError" in text and JWT not in text
