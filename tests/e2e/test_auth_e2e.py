"""Authorization end to end: a real server, real tokens, real SigV4 signatures, a real authorizer.

Owners never see each other's rows through get, list (with paging), sync or filters, and
cannot update or delete them; field rules hide and guard fields; AppSync directives decide
every field, nested ones included; Lambda `deniedFields` and `resolverContext` are honoured;
and bad credentials are refused with 401 and a log line that does not carry the secret.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import hashlib
import hmac
import json
import logging
from pathlib import Path
from typing import Any, AsyncIterator

import aiohttp
import botocore.auth
import jwt
import pytest
from cryptography.hazmat.primitives import serialization

from server.auth.api_keys import ApiKeyRegistry

from .auth_world import AuthServer, api_key, bearer, serve_auth_project

CREATE = "mutation($t: String!) { createNote(input: {title: $t}) { id owner title _version } }"
LIST = "query($f: ModelNoteFilterInput, $n: String) { listNotes(filter: $f, limit: 1, nextToken: $n) { items { id owner title } nextToken } }"
SYNC = "query($f: ModelNoteFilterInput, $n: String) { syncNotes(filter: $f, limit: 1, nextToken: $n) { items { id owner title } nextToken startedAt } }"


@pytest.fixture
async def srv(tmp_path: Path) -> AsyncIterator[AuthServer]:
    async for s in serve_auth_project(tmp_path):
        yield s


def unauthorized(body: dict[str, Any], field: str) -> dict[str, Any]:
    """The one error of `body`, which must be AppSync's Unauthorized for `field`."""
    errors = body.get("errors") or []
    assert errors and errors[0]["errorType"] == "Unauthorized", body
    assert errors[0]["path"][-1] == field, body
    return errors[0]


async def pages(srv: AuthServer, who: dict[str, str], query: str, field: str, f: Any = None) -> list[dict[str, Any]]:
    """Every item of a paged list/sync, one item per page."""
    items: list[dict[str, Any]] = []
    token = None
    for _ in range(50):
        body = await srv.as_(who, query, {"f": f, "n": token})
        assert "errors" not in body, body
        conn = body["data"][field]
        items += conn["items"]
        token = conn["nextToken"]
        if token is None:
            return items
    raise AssertionError("paging did not end")


# --------------------------------------------------------------------------- owners


async def test_two_owners_never_see_or_touch_each_others_rows(srv: AuthServer) -> None:
    alice = bearer(srv.tokens.token("alice"))
    bob = bearer(srv.tokens.token("bob"))
    mine = [(await srv.as_(alice, CREATE, {"t": f"alice-{i}"}))["data"]["createNote"] for i in range(3)]
    theirs = [(await srv.as_(bob, CREATE, {"t": f"bob-{i}"}))["data"]["createNote"] for i in range(2)]
    # The owner is set on create, to Amplify's "sub::username".
    assert {n["owner"] for n in mine} == {"sub-alice::alice"}
    assert {n["owner"] for n in theirs} == {"sub-bob::bob"}

    # list and sync, one item per page: exactly one's own rows, whatever the paging.
    for query, field in ((LIST, "listNotes"), (SYNC, "syncNotes")):
        assert sorted(i["title"] for i in await pages(srv, alice, query, field)) == ["alice-0", "alice-1", "alice-2"]
        assert sorted(i["title"] for i in await pages(srv, bob, query, field)) == ["bob-0", "bob-1"]
        # Filters naming the other's rows find nothing (the row filter is ANDed in the store).
        assert await pages(srv, alice, query, field, {"owner": {"eq": "sub-bob::bob"}}) == []
        assert await pages(srv, alice, query, field, {"title": {"beginsWith": "bob"}}) == []
        assert await pages(srv, alice, query, field, {"or": [{"title": {"eq": "bob-0"}}, {"title": {"eq": "alice-0"}}]}) == [
            {"id": mine[0]["id"], "owner": "sub-alice::alice", "title": "alice-0"}
        ]

    # A nextToken from bob's listing gives alice nothing of bob's.
    first = await srv.as_(bob, LIST, {"f": None, "n": None})
    token = first["data"]["listNotes"]["nextToken"]
    assert token is not None
    stolen = await srv.as_(alice, LIST, {"f": None, "n": token})
    seen = (stolen.get("data") or {}).get("listNotes") or {"items": []}
    assert not [i for i in seen["items"] if i["owner"] == "sub-bob::bob"], stolen

    # get: the other's row is refused, one's own is returned.
    got = await srv.as_(alice, "query($id: ID!) { getNote(id: $id) { id title } }", {"id": theirs[0]["id"]})
    assert got["data"]["getNote"] is None
    unauthorized(got, "getNote")
    own = await srv.as_(alice, "query($id: ID!) { getNote(id: $id) { title } }", {"id": mine[0]["id"]})
    assert own == {"data": {"getNote": {"title": "alice-0"}}}

    # update / delete of the other's row: Unauthorized, nothing written.
    upd = await srv.as_(
        alice,
        "mutation($id: ID!) { updateNote(input: {id: $id, title: \"pwned\"}) { id } }",
        {"id": theirs[0]["id"]},
    )
    unauthorized(upd, "updateNote")
    dele = await srv.as_(alice, "mutation($id: ID!) { deleteNote(input: {id: $id}) { id } }", {"id": theirs[1]["id"]})
    unauthorized(dele, "deleteNote")
    still = await srv.as_(bob, "query { listNotes { items { title _deleted } } }")
    assert sorted((i["title"], i["_deleted"]) for i in still["data"]["listNotes"]["items"]) == [
        ("bob-0", False),
        ("bob-1", False),
    ]

    # Creating a row with the id of another's row fails without showing that row.
    clash = await srv.as_(alice, 'mutation($id: ID) { createNote(input: {id: $id, title: "x"}) { id } }', {"id": theirs[0]["id"]})
    assert clash["errors"] and clash["errors"][0].get("data") is None, clash
    assert "bob-0" not in json.dumps(clash)

    # Creating a row for someone else is refused; one's own update works.
    forged = await srv.as_(alice, 'mutation { createNote(input: {title: "x", owner: "sub-bob::bob"}) { id } }')
    unauthorized(forged, "createNote")
    ok = await srv.as_(
        alice, "mutation($id: ID!) { updateNote(input: {id: $id, title: \"renamed\"}) { title } }", {"id": mine[0]["id"]}
    )
    assert ok == {"data": {"updateNote": {"title": "renamed"}}}

    # An Admins member reads every row (groups rule, read only) but may not delete any.
    admin = bearer(srv.tokens.token("carol", ("Admins",)))
    assert len(await pages(srv, admin, LIST, "listNotes")) == 5
    refused = await srv.as_(admin, "mutation($id: ID!) { deleteNote(input: {id: $id}) { id } }", {"id": mine[1]["id"]})
    unauthorized(refused, "deleteNote")


async def test_a_group_restricted_field_is_hidden_and_guarded(srv: AuthServer) -> None:
    alice = bearer(srv.tokens.token("alice"))
    hr_admin = bearer(srv.tokens.token("carol", ("Admins", "HR")))
    # The owner may write `secret` (create/update) but not read it back.
    made = await srv.as_(alice, 'mutation { createNote(input: {title: "t", secret: "s3cr3t"}) { id secret } }')
    assert "errors" not in made, made
    note_id = made["data"]["createNote"]["id"]
    assert made["data"]["createNote"]["secret"] is None
    for who in (alice,):
        got = await srv.as_(who, "query($id: ID!) { getNote(id: $id) { title secret } }", {"id": note_id})
        assert got == {"data": {"getNote": {"title": "t", "secret": None}}}
        listed = await srv.as_(who, "{ listNotes { items { secret } } syncNotes { items { secret } } }")
        assert listed["data"] == {"listNotes": {"items": [{"secret": None}]}, "syncNotes": {"items": [{"secret": None}]}}
    # Nor through the stored row a failed write reports.
    clash = await srv.as_(alice, 'mutation($id: ID) { createNote(input: {id: $id, title: "again"}) { id } }', {"id": note_id})
    assert clash["errors"][0]["data"]["title"] == "t", clash
    assert clash["errors"][0]["data"]["secret"] is None and "s3cr3t" not in json.dumps(clash)
    # HR sees it.
    got = await srv.as_(hr_admin, "query($id: ID!) { getNote(id: $id) { secret } }", {"id": note_id})
    assert got == {"data": {"getNote": {"secret": "s3cr3t"}}}
    # `rating` is HR's alone: the owner may not write it, on create or update.
    refused = await srv.as_(alice, 'mutation { createNote(input: {title: "r", rating: 5}) { id } }')
    unauthorized(refused, "createNote")
    assert "rating" in refused["errors"][0]["message"]
    refused = await srv.as_(alice, "mutation($id: ID!) { updateNote(input: {id: $id, rating: 5}) { id } }", {"id": note_id})
    unauthorized(refused, "updateNote")
    # The field rules are not a filter loophole either: nothing of the row leaks to a stranger.
    bob = bearer(srv.tokens.token("bob"))
    assert await pages(srv, bob, LIST, "listNotes", {"secret": {"eq": "s3cr3t"}}) == []


# --------------------------------------------------------------------------- directives


async def test_directives_decide_every_field_with_appsync_semantics(srv: AuthServer) -> None:
    # No directive: the default mode (API_KEY) only.
    assert (await srv.as_(api_key(), "{ hello }")) == {"data": {"hello": "hello"}}
    alice = bearer(srv.tokens.token("alice"))
    err = unauthorized(await srv.as_(alice, "{ hello }"), "hello")
    assert err["message"] == "Not Authorized to access hello on type Query"
    # A field only @aws_iam: refused to an API key, partial data for the rest.
    body = await srv.as_(api_key(), "{ hello iamOnly }")
    assert body["data"] == {"hello": "hello", "iamOnly": None}
    assert unauthorized(body, "iamOnly")["message"] == "Not Authorized to access iamOnly on type Query"
    # Nested types: the field's directive overrides its type's.
    body = await srv.as_(api_key(), "{ stats { count internal } }")
    assert body["data"] == {"stats": {"count": 3, "internal": None}}
    assert unauthorized(body, "internal")["message"] == "Not Authorized to access internal on type Stats"
    # cognito_groups.
    unauthorized(await srv.as_(alice, "{ adminsOnly }"), "adminsOnly")
    carol = bearer(srv.tokens.token("carol", ("Admins",)))
    assert await srv.as_(carol, "{ adminsOnly }") == {"data": {"adminsOnly": "admins"}}
    # A model whose @auth rules name only user pools: an API key may not touch it.
    unauthorized(await srv.as_(api_key(), "{ listNotes { items { id } } }"), "listNotes")
    unauthorized(await srv.as_(api_key(), 'mutation { createNote(input: {title: "k"}) { id } }'), "createNote")
    # A public apiKey model is open to API keys.
    made = await srv.as_(api_key(), 'mutation { createPost(input: {title: "p"}) { title } }')
    assert made == {"data": {"createPost": {"title": "p"}}}


async def test_sigv4_requests_signed_by_botocore(srv: AuthServer) -> None:
    status, body = await srv.signed("{ iamOnly stats { internal } whoami }")
    assert status == 200, body
    assert body["data"]["iamOnly"] == "iam"
    assert body["data"]["stats"] == {"internal": "secret-internal"}
    assert json.loads(body["data"]["whoami"])["username"] == "ci-bot"
    # IAM may use the Post model (private iam rule) but not Note (user pools only).
    status, body = await srv.signed('mutation { createPost(input: {title: "from ci"}) { title } }')
    assert body == {"data": {"createPost": {"title": "from ci"}}}
    status, body = await srv.signed("{ listNotes { items { id } } }")
    unauthorized(body, "listNotes")
    status, body = await srv.signed("{ hello }")
    unauthorized(body, "hello")


async def test_lambda_authorizer_denied_fields_and_resolver_context(srv: AuthServer) -> None:
    full = await srv.as_(bearer("custom-full"), "{ whoami }")
    assert json.loads(full["data"]["whoami"]) == {"resolverContext": {"tenant": "acme"}}
    made = await srv.as_(bearer("custom-full"), 'mutation { createPost(input: {title: "l"}) { title } }')
    assert made == {"data": {"createPost": {"title": "l"}}}
    limited = bearer("custom-limited")
    unauthorized(await srv.as_(limited, "{ whoami }"), "whoami")
    refused = await srv.as_(limited, 'mutation { createPost(input: {title: "no"}) { title } }')
    assert unauthorized(refused, "createPost")["message"] == "Not Authorized to access createPost on type Mutation"
    # What deniedFields does not name stays open to it.
    listed = await srv.as_(limited, "{ listPosts { items { title } } }")
    assert sorted(i["title"] for i in listed["data"]["listPosts"]["items"]) == ["l"]


async def test_oidc_tokens_get_their_own_mode_and_rows(srv: AuthServer) -> None:
    dora = bearer(srv.tokens.oidc_token("dora"))
    erin = bearer(srv.tokens.oidc_token("erin"))
    who = json.loads((await srv.as_(dora, "{ whoami }"))["data"]["whoami"])
    assert who["sub"] == "oidc-dora" and who["username"] == "dora@example.test"
    assert await srv.as_(dora, "{ oidcOnly }") == {"data": {"oidcOnly": "oidc"}}
    made = await srv.as_(dora, 'mutation { createMemo(input: {text: "d"}) { owner } }')
    assert made == {"data": {"createMemo": {"owner": "oidc-dora"}}}
    await srv.as_(erin, 'mutation { createMemo(input: {text: "e"}) { owner } }')
    listed = await srv.as_(dora, "{ listMemos { items { text } } }")
    assert listed == {"data": {"listMemos": {"items": [{"text": "d"}]}}}
    # Providers match modes strictly: a Cognito token is not an OIDC one, and vice versa.
    alice = bearer(srv.tokens.token("alice"))
    unauthorized(await srv.as_(alice, "{ listMemos { items { text } } }"), "listMemos")
    unauthorized(await srv.as_(alice, "{ oidcOnly }"), "oidcOnly")
    unauthorized(await srv.as_(dora, "{ listNotes { items { id } } }"), "listNotes")


# --------------------------------------------------------------------------- subscriptions


async def _ws(srv: AuthServer, headers: dict[str, str]) -> aiohttp.ClientWebSocketResponse:
    ws = await srv.session.ws_connect(srv.url.replace("http://", "ws://"), protocols=("graphql-transport-ws",))
    await ws.send_json({"type": "connection_init", "payload": headers})
    msg = json.loads((await ws.receive(timeout=10)).data)
    assert msg["type"] == "connection_ack", msg
    return ws


async def _next(ws: aiohttp.ClientWebSocketResponse) -> dict[str, Any]:
    while True:
        msg = json.loads((await ws.receive(timeout=10)).data)
        if msg["type"] in ("next", "error"):
            return msg


async def test_subscriptions_deliver_only_permitted_rows_and_fields(srv: AuthServer) -> None:
    alice_token = srv.tokens.token("alice")
    alice = await _ws(srv, {"Authorization": alice_token})
    hr = await _ws(srv, {"Authorization": srv.tokens.token("carol", ("Admins", "HR"))})
    key = await _ws(srv, api_key())
    sub = "subscription { onCreateNote { title owner secret } }"
    for ws in (alice, hr, key):
        await ws.send_json({"id": "1", "type": "subscribe", "payload": {"query": sub}})
    # The API key may not subscribe to a user-pools-only model: refused at once.
    refused = await _next(key)
    assert refused["type"] == "error" and refused["payload"][0]["errorType"] == "Unauthorized", refused
    registry = srv.running.syncline.realtime.registry  # type: ignore[union-attr]
    async with asyncio.timeout(10):
        while registry.subscribers < 2:
            await asyncio.sleep(0.01)

    bob = bearer(srv.tokens.token("bob"))
    await srv.as_(bob, 'mutation { createNote(input: {title: "bobs", secret: "b"}) { id } }')
    await srv.as_(bearer(alice_token), 'mutation { createNote(input: {title: "alices", secret: "a"}) { id } }')
    # alice gets her own row only (bob's was filtered out before), and not its secret.
    got = await _next(alice)
    assert got["payload"]["data"]["onCreateNote"] == {"title": "alices", "owner": "sub-alice::alice", "secret": None}
    # HR/Admins read every row, secrets included.
    first, second = await _next(hr), await _next(hr)
    assert [first["payload"]["data"]["onCreateNote"]["secret"], second["payload"]["data"]["onCreateNote"]["secret"]] == ["b", "a"]
    for ws in (alice, hr, key):
        await ws.close()


# --------------------------------------------------------------------------- attacks


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _hs256_with_public_key(srv: AuthServer) -> str:
    pem = srv.tokens.key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    head = _b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": "e2e-rsa-1"}).encode())
    body = _b64(json.dumps(srv.tokens.claims("mallory")).encode())
    sig = hmac.new(pem, f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{_b64(sig)}"


def _tampered(srv: AuthServer) -> str:
    head, _, sig = srv.tokens.token("mallory").split(".")
    body = _b64(json.dumps(srv.tokens.claims("mallory", ("Admins",))).encode())
    return f"{head}.{body}.{sig}"


async def test_attacks_through_the_real_http_endpoint_are_refused_and_logged(
    srv: AuthServer, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    registry = ApiKeyRegistry(srv.running.syncline.settings.data_dir)
    revoked, record = registry.create(description="to revoke")
    assert (await srv.post({"query": "{ hello }"}, {"x-api-key": revoked}))[0] == 200
    registry.revoke(record.id)

    now = dt.datetime.now(dt.timezone.utc)
    old = now - dt.timedelta(minutes=10)
    attacks: dict[str, tuple[dict[str, str], str]] = {}

    def jwt_attack(name: str, token: str) -> None:
        attacks[name] = (bearer(token), token)

    jwt_attack("expired", srv.tokens.token("alice", exp=int(old.timestamp()), iat=int(old.timestamp()) - 60))
    jwt_attack("wrong audience", srv.tokens.token("alice", aud="someone-else"))
    jwt_attack("wrong issuer", srv.tokens.token("alice", iss="https://cognito-idp.test/pool-1-evil"))
    jwt_attack("alg none", jwt.encode(srv.tokens.claims("alice"), key=None, algorithm="none"))
    jwt_attack("HS256 with the RSA public key", _hs256_with_public_key(srv))
    jwt_attack("tampered payload", _tampered(srv))
    attacks["revoked API key"] = ({"x-api-key": revoked}, revoked)
    attacks["unknown API key"] = ({"x-api-key": "da2-nosuchkeynosuchkeynosuchk"}, "da2-nosuchkeynosuchkeynosuchk")
    attacks["denying authorizer"] = (bearer("custom-nope"), "custom-nope")

    caplog.set_level(logging.INFO)
    for name, (headers, secret) in attacks.items():
        caplog.clear()
        status, body = await srv.post({"query": "{ hello }"}, headers)
        assert status == 401, (name, body)
        assert body["errors"][0]["errorType"] == "UnauthorizedException", (name, body)
        refusals = [r for r in caplog.records if "refused" in r.getMessage() or "unauthorized" in r.getMessage()]
        assert refusals, f"{name}: no log line"
        assert secret not in caplog.text, f"{name}: the credential was logged"

    # SigV4 outside the 5-minute window, and with a wrong secret.
    body = json.dumps({"query": "{ iamOnly }"}).encode()
    caplog.clear()
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda: old.replace(tzinfo=None))
    from .auth_world import sigv4_headers

    stale = sigv4_headers(srv.url, body)
    monkeypatch.undo()
    async with srv.session.post(srv.url, data=body, headers=stale) as resp:
        assert resp.status == 401
        assert (await resp.json())["errors"][0]["errorType"] == "UnauthorizedException"
    signature = stale["Authorization"].split("Signature=")[1]
    assert "AWS_IAM" in caplog.text and signature not in caplog.text
    status, answer = await srv.signed("{ iamOnly }", secret="not-the-secret")
    assert status == 401 and answer["errors"][0]["errorType"] == "UnauthorizedException"

    # The server is still fine afterwards.
    assert (await srv.as_(api_key(), "{ hello }")) == {"data": {"hello": "hello"}}
