"""A project with every auth mode on, served for real: JWKS server, tokens, SigV4, a Lambda authorizer.

Everything is real: RSA keys generated here, a JWKS document served by an aiohttp server on
127.0.0.1 port 0, tokens signed with pyjwt, requests signed by botocore's `SigV4Auth`, and the
Lambda authorizer a function in the project's `authorizers.py`.
"""

from __future__ import annotations

import json
import textwrap
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, AsyncIterator

import aiohttp
import jwt
from aiohttp import web
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from cryptography.hazmat.primitives.asymmetric import rsa

from server.app import Running, running
from server.settings import load_settings

API_KEY = "da2-authe2eauthe2eauthe2eauth"
ISSUER = "https://cognito-idp.test/pool-1"
OIDC_ISSUER = "https://login.oidc.test/"
AUDIENCE = "app-client-1"
AKID = "AKIAE2EEXAMPLE000001"
SECRET = "e2eSecretKeyExampleExampleExampleExample"
KID = "e2e-rsa-1"

SCHEMA = '''
type Note @model @auth(rules: [
  { allow: owner },
  { allow: groups, groups: ["Admins"], operations: [read] }
]) {
  title: String!
  body: String
  "write-only for its owner; only HR reads it"
  secret: String @auth(rules: [{ allow: groups, groups: ["HR"] }, { allow: owner, operations: [create, update] }])
  "only HR may write or read it"
  rating: Int @auth(rules: [{ allow: groups, groups: ["HR"] }])
}

type Post @model @auth(rules: [
  { allow: public, provider: apiKey },
  { allow: private, provider: iam },
  { allow: custom }
]) {
  title: String!
}

type Memo @model @auth(rules: [{ allow: owner, provider: oidc, identityClaim: "sub" }]) {
  text: String
}

type Stats @aws_api_key @aws_iam {
  count: Int
  internal: String @aws_iam
}

type Query {
  hello: String
  iamOnly: String @aws_iam
  adminsOnly: String @aws_cognito_user_pools(cognito_groups: ["Admins"])
  stats: Stats @aws_api_key @aws_iam
  whoami: AWSJSON @aws_api_key @aws_cognito_user_pools @aws_iam @aws_lambda @aws_oidc
  oidcOnly: String @aws_oidc
}
'''

RESOLVERS = '''
import json

def hello(event):
    return "hello"

def iam_only(event):
    return "iam"

def admins_only(event):
    return "admins"

def oidc_only(event):
    return "oidc"

def stats(event):
    return {"count": 3, "internal": "secret-internal"}

def whoami(event):
    return json.dumps(event["identity"])
'''

AUTHORIZERS = '''
def check(event):
    token = event["authorizationToken"]
    if token == "custom-full":
        return {"isAuthorized": True, "resolverContext": {"tenant": "acme"}}
    if token == "custom-limited":
        return {"isAuthorized": True, "resolverContext": {"tenant": "beta"},
                "deniedFields": ["Query.whoami", "Mutation.createPost"]}
    return {"isAuthorized": False}
'''


def toml(jwks_url: str) -> str:
    return textwrap.dedent(
        f'''
        [auth]
        default_mode = "API_KEY"
        additional_modes = ["AMAZON_COGNITO_USER_POOLS", "OPENID_CONNECT", "AWS_IAM", "AWS_LAMBDA"]

        [auth.oidc]
        issuer = "{OIDC_ISSUER}"
        client_id = "{AUDIENCE}"
        jwks_url = "{jwks_url}"
        username_claim = "email"

        [auth.cognito]
        issuer = "{ISSUER}"
        client_id = "{AUDIENCE}"
        jwks_url = "{jwks_url}"

        [auth.iam]
        access_keys = [{{ access_key_id = "{AKID}", secret_access_key = "{SECRET}", principal = "ci-bot", groups = ["Deploy"], account_id = "123456789012" }}]

        [auth.lambda]
        function = "authorizers:check"
        ttl = 0

        [resolvers]
        "Query.hello" = "resolvers:hello"
        "Query.iamOnly" = "resolvers:iam_only"
        "Query.adminsOnly" = "resolvers:admins_only"
        "Query.stats" = "resolvers:stats"
        "Query.whoami" = "resolvers:whoami"
        "Query.oidcOnly" = "resolvers:oidc_only"
        '''
    )


@dataclass
class Tokens:
    """RS256 ID tokens signed with a key generated here."""

    key: rsa.RSAPrivateKey = field(default_factory=lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048))

    def jwks(self) -> dict[str, Any]:
        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key()))
        jwk.update({"kid": KID, "alg": "RS256", "use": "sig"})
        return {"keys": [jwk]}

    def claims(self, user: str, groups: tuple[str, ...] = (), **over: Any) -> dict[str, Any]:
        now = int(time.time())
        c: dict[str, Any] = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": f"sub-{user}",
            "cognito:username": user,
            "iat": now,
            "exp": now + 3600,
            "token_use": "id",
            "jti": uuid.uuid4().hex,
        }
        if groups:
            c["cognito:groups"] = list(groups)
        c.update(over)
        return c

    def token(self, user: str, groups: tuple[str, ...] = (), **over: Any) -> str:
        return jwt.encode(self.claims(user, groups, **over), self.key, algorithm="RS256", headers={"kid": KID})

    def oidc_token(self, user: str) -> str:
        """A plain OIDC ID token (no Cognito claims) from the OIDC issuer."""
        now = int(time.time())
        claims = {"iss": OIDC_ISSUER, "aud": AUDIENCE, "sub": f"oidc-{user}", "email": f"{user}@example.test", "iat": now, "exp": now + 3600}
        return jwt.encode(claims, self.key, algorithm="RS256", headers={"kid": KID})


async def serve_jwks(tokens: Tokens) -> AsyncIterator[str]:
    """A JWKS endpoint on 127.0.0.1 port 0; yields its URL."""
    app = web.Application()

    async def handler(_: web.Request) -> web.Response:
        return web.json_response(tokens.jwks())

    app.router.add_get("/.well-known/jwks.json", handler)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{site.port}/.well-known/jwks.json"
    finally:
        await runner.cleanup()


def write_project(dest: Path, jwks_url: str) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    (dest / "schema.graphql").write_text(SCHEMA, encoding="utf-8")
    (dest / "resolvers.py").write_text(RESOLVERS, encoding="utf-8")
    (dest / "authorizers.py").write_text(AUTHORIZERS, encoding="utf-8")
    (dest / "syncline.toml").write_text(toml(jwks_url), encoding="utf-8")
    return dest


def sigv4_headers(url: str, body: bytes, *, secret: str = SECRET) -> dict[str, str]:
    """Headers of a POST to `url` signed by botocore for service appsync."""
    from urllib.parse import urlsplit

    req = AWSRequest(
        method="POST", url=url, data=body, headers={"Host": urlsplit(url).netloc, "Content-Type": "application/json"}
    )
    SigV4Auth(Credentials(AKID, secret), "appsync", "us-east-1").add_auth(req)
    return dict(req.headers.items())


@dataclass
class AuthServer:
    running: Running
    session: aiohttp.ClientSession
    tokens: Tokens
    project: Path

    @property
    def url(self) -> str:
        return self.running.url

    async def post(self, payload: Any, headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
        body = json.dumps(payload).encode()
        h = {"Content-Type": "application/json", **headers}
        async with self.session.post(self.url, data=body, headers=h) as resp:
            return resp.status, await resp.json(content_type=None)

    async def as_(self, headers: dict[str, str], query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        status, body = await self.post({"query": query, "variables": variables or {}}, headers)
        assert status == 200, (status, body)
        return body

    async def signed(self, query: str, variables: dict[str, Any] | None = None, *, secret: str = SECRET) -> tuple[int, dict[str, Any]]:
        body = json.dumps({"query": query, "variables": variables or {}}).encode()
        headers = sigv4_headers(self.url, body, secret=secret)
        async with self.session.post(self.url, data=body, headers=headers) as resp:
            return resp.status, await resp.json(content_type=None)


def api_key() -> dict[str, str]:
    return {"x-api-key": API_KEY}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": token}


async def serve_auth_project(tmp_path: Path) -> AsyncIterator[AuthServer]:
    tokens = Tokens()
    async for jwks_url in serve_jwks(tokens):
        project = write_project(tmp_path / "authproj", jwks_url)
        settings = load_settings(project, env={"SYNCLINE_API_KEY": API_KEY})
        async with running(settings, port=0) as srv, aiohttp.ClientSession() as session:
            yield AuthServer(running=srv, session=session, tokens=tokens, project=project)
