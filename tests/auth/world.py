"""An Authenticator with every mode on, wired to real keys, a real JWKS server and a data dir."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

from server.auth.authenticate import AuthConfig, Authenticator

from .conftest import AUDIENCE, ISSUER, Clock, Signer
from .sigv4_helpers import AKID, SECRET

OIDC_ISSUER = "https://oidc.test"


def authorizer(event):
    token = event["authorizationToken"]
    if token == "custom-raise":
        raise RuntimeError("authorizer bug")
    if token == "custom-slow":
        import time

        time.sleep(0.5)
    return {"isAuthorized": token.startswith("custom-ok"), "resolverContext": {"who": token}}


def config_mapping(jwks_url: str) -> dict:
    return {
        "default_mode": "API_KEY",
        "additional_modes": ["AMAZON_COGNITO_USER_POOLS", "OPENID_CONNECT", "AWS_IAM", "AWS_LAMBDA"],
        "api_key": {"keys": [{"key": "static-config-key", "description": "from toml"}]},
        "cognito": {"issuer": ISSUER, "client_id": AUDIENCE, "jwks_url": jwks_url, "refetch_interval": "30s"},
        "oidc": {"issuer": OIDC_ISSUER, "jwks_url": jwks_url, "username_claim": "sub"},
        "iam": {
            "access_keys": [
                {"access_key_id": AKID, "secret_access_key": SECRET, "principal": "ci-bot", "groups": ["Admins"]}
            ]
        },
        "lambda": {"function": "unused:unused", "ttl": 0, "timeout": "100ms"},
    }


@dataclass
class World:
    auth: Authenticator
    signer: Signer
    clock: Clock
    data_dir: Path


async def make_world(tmp_path: Path, signer: Signer, jwks_url: str, clock: Clock) -> World:
    cfg = AuthConfig.from_mapping(config_mapping(jwks_url), api_key="env-key-123")
    auth = Authenticator(cfg, data_dir=tmp_path, clock=clock, lambda_function=authorizer)
    return World(auth=auth, signer=signer, clock=clock, data_dir=tmp_path)


__all__ = ["World", "make_world", "OIDC_ISSUER", "asyncio"]
