"""SigV4 (AWS_IAM): the SDK's signer against botocore's, and SDK clients against a real server
whose only client mode is AWS_IAM (HTTP requests and the WebSocket connection_init signed)."""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials as BotoCredentials

from client_sdk import SigV4, SyncClient
from client_sdk._sigv4 import Credentials, sign

from .conftest import TODO, Server, free_port, make_project

AKID = "AKIASDKTESTEXAMPLE01"
SECRET = "sdkTestSecretKeyExampleExampleExample0001"


# --- the signer, checked against botocore ----------------------------------------------------------

CASES = [
    ("POST", "http://127.0.0.1:4000/graphql", {"Content-Type": "application/json"}, b'{"query":"{ hello }"}', None),
    ("POST", "https://example.appsync-api.eu-west-1.amazonaws.com:443/graphql", {"Accept": "application/json"},
     b"{}", "FQoGZXIvYXdzEXAMPLEsessiontoken"),
    ("GET", "http://[::1]:8080/a/./b/../graphql%20x/", {"X-Custom": "  two   spaces  "}, b"", None),
    ("GET", "https://h.example/graphql?b=2&a=1&a=0&e=%2F", {}, b"", None),
    ("POST", "http://localhost/graphql/connect", {"content-type": "application/json; charset=UTF-8"}, b"{}", "tok"),
]


@pytest.mark.parametrize(("method", "url", "headers", "body", "token"), CASES)
def test_signature_matches_botocore(method: str, url: str, headers: dict[str, str], body: bytes, token: str | None) -> None:
    req = AWSRequest(method=method, url=url, data=body, headers=dict(headers))
    SigV4Auth(BotoCredentials(AKID, SECRET, token), "appsync", "eu-west-1").add_auth(req)
    expected = {k.lower(): v for k, v in req.headers.items()}
    when = datetime.strptime(expected["x-amz-date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=timezone.utc)

    ours = sign(
        method=method, url=url, headers=headers, body=body, credentials=Credentials(
            access_key_id=AKID, secret_access_key=SECRET, session_token=token),
        region="eu-west-1", service="appsync", now=when,
    )
    assert ours["authorization"] == expected["authorization"]
    assert ours["x-amz-date"] == expected["x-amz-date"]
    assert ours.get("x-amz-security-token") == expected.get("x-amz-security-token")


def test_a_different_secret_or_body_changes_the_signature() -> None:
    def sig(secret: str, body: bytes) -> str:
        creds = Credentials(access_key_id=AKID, secret_access_key=secret)
        return sign(method="POST", url="http://h/graphql", headers={}, body=body, credentials=creds,
                    region="us-east-1", service="appsync", now=datetime(2026, 1, 1, tzinfo=timezone.utc))["authorization"]

    assert sig(SECRET, b"{}") != sig(SECRET + "x", b"{}")
    assert sig(SECRET, b"{}") != sig(SECRET, b"{ }")
    assert SECRET not in repr(SigV4(AKID, SECRET, session_token="t"))


# --- end to end: a server that only accepts AWS_IAM -------------------------------------------------


def iam_project(tmp: Path) -> Path:
    project = make_project(tmp)
    toml = project / "syncline.toml"
    toml.write_text(
        toml.read_text()
        + f"""
[auth]
default_mode = "AWS_IAM"

[auth.iam]
access_keys = [{{ access_key_id = "{AKID}", secret_access_key = "{SECRET}", principal = "sdk-test" }}]
"""
    )
    return project


def iam_client(url: str, db: Path, **kw: Any) -> SyncClient:
    kw.setdefault("auth", SigV4(AKID, SECRET))
    return SyncClient(url, database=str(db), models=[TODO], backoff_base=0.05, backoff_cap=0.3, poll_interval=3600, **kw)


async def test_sigv4_client_saves_offline_syncs_and_receives_realtime_changes(tmp_path: Path) -> None:
    srv = Server(iam_project(tmp_path), free_port())  # not started yet: the first write is offline
    async with iam_client(srv.url, tmp_path / "a.db") as a:
        saved = await a.model("Todo").save({"title": "written offline"})
        async with asyncio.timeout(10), a.status() as statuses:
            async for st in statuses:
                if st.state == "offline" and st.error:
                    break
        assert await a.pending() == 1
        await srv.start()
        try:
            await asyncio.wait_for(a.sync(), 20)
            assert await a.pending() == 0
            # Another writer (with an STS-style session token) sees it on the server...
            async with iam_client(srv.url, tmp_path / "b.db", auth=SigV4(AKID, SECRET, session_token="sts-token")) as b:
                await asyncio.wait_for(b.sync(), 20)
                assert (await b.model("Todo").get(saved["id"]) or {}).get("title") == "written offline"
                # ... and its write reaches `a` over the signed WebSocket (no poll for an hour).
                async with a.observe() as changes:
                    made = await b.model("Todo").save({"title": "from b"})
                    async with asyncio.timeout(15):
                        async for ch in changes:
                            if ch.source == "remote" and ch.item.get("id") == made["id"]:
                                break
            assert a.realtime_events["websocket"] >= 1
            assert (await a.model("Todo").get(made["id"]) or {}).get("title") == "from b"
        finally:
            await srv.stop()


async def test_a_wrong_secret_is_refused_with_a_clear_error(tmp_path: Path) -> None:
    srv = Server(iam_project(tmp_path), free_port())
    await srv.start()
    try:
        async with iam_client(srv.url, tmp_path / "a.db", auth=SigV4(AKID, "not-the-secret")) as c:
            await c.model("Todo").save({"title": "kept"})
            async with asyncio.timeout(10), c.status() as statuses:
                async for st in statuses:
                    if st.state == "offline" and st.error:
                        break
            assert "401" in st.error and "not authorized" in st.error, st.error
            assert await c.pending() == 1 and await c.dead_letters() == []
    finally:
        await srv.stop()
