"""SigV4 verification against signatures botocore makes (service "appsync")."""

from __future__ import annotations

from datetime import timedelta

import pytest

from server.auth.sigv4 import SigV4Config, SigV4Verifier
from server.errors import ConfigError, Unauthorized

from .sigv4_helpers import AKID, CONFIG, now, signed


def test_botocore_signature_verifies_and_identity_is_the_principal() -> None:
    ident = SigV4Verifier(CONFIG).verify(**signed(), now=now(), source_ip="10.1.1.1")
    assert ident.auth_mode == "AWS_IAM" and ident.username == "ci-bot" and ident.groups == ("Admins",)
    appsync = ident.to_appsync()
    assert appsync["accessKey"] == AKID and appsync["accountId"] == "123456789012"
    assert appsync["userArn"] == "arn:aws:iam::123456789012:user/ci-bot"
    assert appsync["sourceIp"] == ["10.1.1.1"]


@pytest.mark.parametrize(
    "url",
    [
        "https://api.example.test/graphql?b=2&a=1&a=0",
        "https://api.example.test/a%20b/graphql",
        "https://api.example.test:8443/graphql?x=hello%20world&y=",
        "https://api.example.test/",
    ],
)
def test_paths_queries_and_ports_canonicalise_like_botocore(url: str) -> None:
    assert SigV4Verifier(CONFIG).verify(**signed(url=url), now=now()).username == "ci-bot"


def test_get_without_body_and_signed_content_sha256() -> None:
    import hashlib

    v = SigV4Verifier(CONFIG)
    assert v.verify(**signed(method="GET", body=b""), now=now())
    body = b'{"query":"{ a }"}'
    req = signed(body=body, extra_headers={"X-Amz-Content-Sha256": hashlib.sha256(body).hexdigest()})
    assert v.verify(**req, now=now())


def test_time_window_is_five_minutes_both_ways() -> None:
    v = SigV4Verifier(CONFIG)
    req = signed()
    assert v.verify(**req, now=now() + timedelta(minutes=4))
    with pytest.raises(Unauthorized, match="server's clock"):
        v.verify(**req, now=now() + timedelta(minutes=6))
    with pytest.raises(Unauthorized, match="server's clock"):
        v.verify(**req, now=now() - timedelta(minutes=6))


def test_changed_body_method_path_or_header_breaks_the_signature() -> None:
    v = SigV4Verifier(CONFIG)
    req = signed()
    for change in (
        {"body": req["body"] + b" "},
        {"method": "PUT"},
        {"path": "/graphql2"},
        {"query": "x=1"},
        {"headers": {**req["headers"], "Host": "evil.test"}},
    ):
        with pytest.raises(Unauthorized, match="signature does not match"):
            v.verify(**{**req, **change}, now=now())


def test_wrong_secret_unknown_key_and_wrong_service() -> None:
    v = SigV4Verifier(CONFIG)
    with pytest.raises(Unauthorized, match="signature does not match"):
        v.verify(**signed(secret="not-the-secret"), now=now())
    with pytest.raises(Unauthorized, match="not configured"):
        SigV4Verifier(SigV4Config()).verify(**signed(), now=now())
    with pytest.raises(Unauthorized, match="service"):
        v.verify(**signed(service="execute-api"), now=now())


def test_duplicate_access_keys_are_a_config_error() -> None:
    with pytest.raises(ConfigError, match="twice"):
        SigV4Config(access_keys=CONFIG.access_keys * 2)
