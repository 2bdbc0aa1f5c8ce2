"""The Authenticator: mode selection by headers, enabled modes, `[auth]` parsing."""

from __future__ import annotations

import logging

import pytest

from server.auth.authenticate import AuthConfig, Authenticator
from server.errors import ConfigError, Unauthorized

from .conftest import ISSUER
from .sigv4_helpers import signed
from .world import OIDC_ISSUER, make_world


@pytest.fixture
async def world(tmp_path, signer, jwks_server, clock):
    w = await make_world(tmp_path, signer, jwks_server.url, clock)
    yield w
    await w.auth.close()


async def test_each_mode_is_picked_from_the_headers(world) -> None:
    a = world.auth
    key, _ = a.api_keys.create(description="app")
    assert (await a.authenticate({"X-Api-Key": key})).auth_mode == "API_KEY"
    assert (await a.authenticate({"x-api-key": "static-config-key"})).api_key_id.startswith("cfg-")
    assert (await a.authenticate({"x-api-key": "env-key-123"})).auth_mode == "API_KEY"

    cognito = await a.authenticate({"Authorization": world.signer.token()})
    assert cognito.auth_mode == "AMAZON_COGNITO_USER_POOLS" and cognito.username == "alice"
    bearer = await a.authenticate({"authorization": "Bearer " + world.signer.token(sub="s-9")})
    assert bearer.sub == "s-9"
    oidc = await a.authenticate({"Authorization": world.signer.token(iss=OIDC_ISSUER, aud="any", sub="o-1")})
    assert oidc.auth_mode == "OPENID_CONNECT" and oidc.username == "o-1"

    req = signed()
    iam = await a.authenticate(req["headers"], method=req["method"], path=req["path"], query=req["query"], body=req["body"])
    assert iam.auth_mode == "AWS_IAM" and iam.username == "ci-bot"

    lam = await a.authenticate({"Authorization": "custom-ok-1"}, body=b'{"query":"{ a }","operationName":null}')
    assert lam.auth_mode == "AWS_LAMBDA" and lam.resolver_context == {"who": "custom-ok-1"}
    # A JWT from an issuer we do not know goes to the Lambda authorizer (which denies it).
    with pytest.raises(Unauthorized, match="Lambda authorizer"):
        await a.authenticate({"Authorization": world.signer.token(iss="https://elsewhere")})


async def test_source_ip_is_carried(world) -> None:
    ident = await world.auth.authenticate({"x-api-key": "env-key-123"}, source_ip="192.0.2.7")
    assert ident.source_ip == "192.0.2.7"
    tok = world.signer.token()
    assert (await world.auth.authenticate({"authorization": tok}, source_ip="a")).source_ip == "a"
    assert (await world.auth.authenticate({"authorization": tok}, source_ip="b")).source_ip == "b"  # cached token, new ip


async def test_only_enabled_modes_are_accepted(tmp_path, signer) -> None:
    a = Authenticator(AuthConfig(default_mode="API_KEY", api_keys=(("k", "", None),)), data_dir=tmp_path)
    assert await a.authenticate({"x-api-key": "k"})
    with pytest.raises(Unauthorized, match="not usable with the enabled modes"):
        await a.authenticate({"authorization": signer.token()})
    req = signed()
    with pytest.raises(Unauthorized, match="AWS_IAM authorization is not enabled"):
        await a.authenticate(req["headers"], body=req["body"])
    only_jwt = Authenticator(
        AuthConfig.from_mapping({"default_mode": "OPENID_CONNECT", "oidc": {"issuer": ISSUER, "hmac_secret": "x" * 32, "algorithms": ["HS256"]}})
    )
    with pytest.raises(Unauthorized, match="API_KEY authorization is not enabled"):
        await only_jwt.authenticate({"x-api-key": "k"})
    with pytest.raises(Unauthorized, match="not a JWT"):
        await only_jwt.authenticate({"authorization": "opaque-token"})


async def test_refusals_are_logged_without_the_credential(world, caplog) -> None:
    caplog.set_level(logging.WARNING, logger="syncline.auth")
    with pytest.raises(Unauthorized):
        await world.auth.authenticate({"x-api-key": "da2-secretsecretsecretsecret00"}, source_ip="203.0.113.5")
    line = [r for r in caplog.records if "authentication refused" in r.getMessage()]
    assert line and "mode=API_KEY" in line[0].getMessage() and "203.0.113.5" in line[0].getMessage()
    assert "da2-secretsecretsecretsecret00" not in caplog.text


def test_full_auth_table_parses(tmp_path) -> None:
    (tmp_path / "jwks.json").write_text('{"keys": []}')
    cfg = AuthConfig.from_mapping(
        {
            "default_mode": "AMAZON_COGNITO_USER_POOLS",
            "additional_modes": ["API_KEY", "OPENID_CONNECT"],
            "api_key": {"keys": ["k1", {"key": "k2", "description": "d", "expires": "2030-01-01T00:00:00Z"}], "store": False},
            "cognito": {"user_pool_id": "us-east-1_AbC", "region": "us-east-1", "client_id": ["a", "b"], "clock_skew": "2m"},
            "oidc": {"issuer": "https://x", "key_file": "jwks.json", "algorithms": "ES256", "max_token_age": "1h"},
        },
        base_dir=tmp_path,
    )
    assert cfg.modes == {"AMAZON_COGNITO_USER_POOLS", "API_KEY", "OPENID_CONNECT"}
    assert cfg.cognito.issuer == "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_AbC"
    assert cfg.cognito.jwks_url == cfg.cognito.issuer + "/.well-known/jwks.json"
    assert cfg.cognito.audiences == ("a", "b") and cfg.cognito.clock_skew_s == 120
    assert cfg.oidc.key_file == tmp_path / "jwks.json" and cfg.oidc.algorithms == ("ES256",)
    assert cfg.oidc.max_token_age_s == 3600
    assert cfg.api_keys[1][2] == pytest.approx(1893456000) and not cfg.api_key_store


@pytest.mark.parametrize(
    "table, message",
    [
        ({"default_mod": "API_KEY"}, "unknown key 'default_mod' (did you mean 'default_mode'?)"),
        ({"default_mode": "COGNITO"}, "is not one of"),
        ({"additional_modes": ["AWS_IAM"]}, "AWS_IAM is enabled but [auth.iam] is missing"),
        ({"additional_modes": "AWS_IAM"}, "expected a list of strings"),
        ({"api_key": {"keys": [{"key": "k", "expire": "2030-01-01"}]}}, "[auth.api_key] keys[0]: unknown key 'expire'"),
        ({"api_key": {"keys": [{"key": "k", "expires": "soon"}]}}, "expires: expected an ISO date"),
        ({"oidc": {"issuer": "x", "jwks_url": "http://x", "clock_skew": "forever"}}, "[auth.oidc] clock_skew"),
        ({"oidc": {"jwks_url": "http://x", "algorithms": ["none"]}}, "[auth.oidc] algorithms: unsupported"),
        ({"oidc": {"jwks_url": "http://x", "algorithms": ["HS256"]}}, "need hmac_secret"),
        ({"oidc": {"issuer": "x"}}, "exactly one of jwks_url"),
        ({"oidc": {"jwks_url": "http://x", "user_pool_id": "p", "region": "r"}}, "only in [auth.cognito]"),
        ({"iam": {"access_keys": [{"access_key_id": "A"}]}}, "needs access_key_id, secret_access_key and principal"),
        ({"iam": {"clock_window": True}}, "[auth.iam] clock_window"),
        ({"lambda": {"ttl": 10}}, "[auth.lambda] function: required"),
        ({"lambda": {"function": "m:f", "timout": 1}}, "did you mean 'timeout'"),
        ({"cognito": "yes"}, "[auth.cognito]: expected a table"),
    ],
)
def test_bad_config_names_the_key(table, message) -> None:
    with pytest.raises(ConfigError) as info:
        AuthConfig.from_mapping(table)
    assert message in info.value.message


def test_lambda_function_is_loaded_from_the_project(tmp_path) -> None:
    (tmp_path / "authorizers.py").write_text("def check(event):\n    return {'isAuthorized': True}\n")
    cfg = AuthConfig.from_mapping({"default_mode": "AWS_LAMBDA", "lambda": {"function": "authorizers:check"}})
    assert Authenticator(cfg, project_dir=tmp_path)._lambda is not None
    with pytest.raises(ConfigError, match="no module"):
        Authenticator(AuthConfig.from_mapping({"default_mode": "AWS_LAMBDA", "lambda": {"function": "missing:check"}}), project_dir=tmp_path)


async def test_websocket_handshake_and_mqtt_connect_reuse_authenticate(world) -> None:
    import base64
    import json as _json

    from server.auth.authenticate import headers_from_appsync_handshake, headers_from_mqtt_connect

    tok = world.signer.token()
    param = base64.b64encode(_json.dumps({"host": "example.test", "Authorization": tok}).encode()).decode()
    ident = await world.auth.authenticate(headers_from_appsync_handshake(param))
    assert ident.auth_mode == "AMAZON_COGNITO_USER_POOLS"
    for bad in ("***", base64.b64encode(b"[1]").decode(), base64.b64encode(b'{"a": 1}').decode()):
        with pytest.raises(Unauthorized, match="header parameter"):
            headers_from_appsync_handshake(bad)

    assert (await world.auth.authenticate(headers_from_mqtt_connect("x-api-key", b"env-key-123"))).auth_mode == "API_KEY"
    assert (await world.auth.authenticate(headers_from_mqtt_connect("alice", tok))).username == "alice"
    assert (await world.auth.authenticate(headers_from_mqtt_connect(None, "custom-ok-7"))).auth_mode == "AWS_LAMBDA"
    with pytest.raises(Unauthorized, match="no credentials"):
        await world.auth.authenticate(headers_from_mqtt_connect("device", None))
    with pytest.raises(Unauthorized, match="UTF-8"):
        headers_from_mqtt_connect("device", b"\xff\xfe")


async def test_iam_signed_websocket_handshake(world) -> None:
    """AppSync clients sign a POST of `{}` to /graphql/connect and send the headers in `header`."""
    import base64
    import json as _json

    from server.auth.authenticate import headers_from_appsync_handshake

    req = signed(url="https://api.example.test/graphql/connect", body=b"{}")
    param = base64.b64encode(_json.dumps(req["headers"]).encode()).decode()
    ident = await world.auth.authenticate(
        headers_from_appsync_handshake(param), method="POST", path="/graphql/connect", body=b"{}"
    )
    assert ident.auth_mode == "AWS_IAM" and ident.username == "ci-bot"
