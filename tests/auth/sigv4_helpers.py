"""Real SigV4 signatures made by botocore, for the verifier's tests."""

from __future__ import annotations

from datetime import datetime, timezone
from urllib.parse import urlsplit

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from server.auth.sigv4 import AccessKey, SigV4Config

AKID = "AKIAEXAMPLE000000001"
SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
CONFIG = SigV4Config(
    access_keys=(AccessKey(access_key_id=AKID, secret_access_key=SECRET, principal="ci-bot", groups=("Admins",), account_id="123456789012"),)
)


def signed(
    *,
    body: bytes = b'{"query":"{ listTodos { items { id } } }"}',
    url: str = "https://api.example.test/graphql",
    method: str = "POST",
    secret: str = SECRET,
    extra_headers: dict[str, str] | None = None,
    service: str = "appsync",
) -> dict:
    """A request signed by botocore: kwargs for SigV4Verifier.verify (minus `now`)."""
    parts = urlsplit(url)
    headers = {"Host": parts.netloc, "Content-Type": "application/json"}
    headers.update(extra_headers or {})
    req = AWSRequest(method=method, url=url, data=body, headers=headers)
    SigV4Auth(Credentials(AKID, secret), service, "us-east-1").add_auth(req)
    return {
        "method": method,
        "path": parts.path,
        "query": parts.query,
        "headers": dict(req.headers.items()),
        "body": body,
    }


def now() -> datetime:
    return datetime.now(timezone.utc)
