"""CORS: a browser page on another origin can call the API and read AppSync's error headers."""

from __future__ import annotations

from pathlib import Path

import aiohttp
import pytest

from server.errors import ConfigError
from server.settings import load_settings

from .conftest import API_KEY, Served, copy_project, serve_project

PAGE = "https://app.example.com"
PREFLIGHT = {
    "Origin": PAGE,
    "Access-Control-Request-Method": "POST",
    "Access-Control-Request-Headers": "content-type,x-api-key,x-amz-user-agent",
}
QUERY = {"query": "{ listTodos { items { id } } }"}


def set_origins(project: Path, value: str) -> None:
    toml = project / "syncline.toml"
    toml.write_text(toml.read_text().replace("[server]\n", f"[server]\ncors_origins = {value}\n", 1))


async def test_any_origin_by_default_as_appsync(todo: Served) -> None:
    s, url = todo.client.session, todo.running.url
    async with s.options(url, headers=PREFLIGHT) as r:
        assert r.status == 204
        assert r.headers["Access-Control-Allow-Origin"] == "*"
        allowed = r.headers["Access-Control-Allow-Headers"]
        assert "x-api-key" in allowed and "authorization" in allowed and "x-amz-user-agent" in allowed
        assert "POST" in r.headers["Access-Control-Allow-Methods"]
    async with s.post(url, json=QUERY, headers={"Origin": PAGE, "x-api-key": API_KEY}) as r:
        assert r.status == 200 and "errors" not in await r.json()
        assert r.headers["Access-Control-Allow-Origin"] == "*"
    # An error's type is readable by the page (Amplify names its error after it).
    async with s.post(url, json=QUERY, headers={"Origin": PAGE, "x-api-key": "da2-wrong"}) as r:
        assert r.status == 401
        assert r.headers["Access-Control-Allow-Origin"] == "*"
        assert "x-amzn-ErrorType" in r.headers["Access-Control-Expose-Headers"]
        assert r.headers["x-amzn-ErrorType"].startswith("Unauthorized")
    # No Origin (curl, servers): no CORS headers at all.
    async with s.post(url, json=QUERY, headers={"x-api-key": API_KEY}) as r:
        assert "Access-Control-Allow-Origin" not in r.headers


async def test_a_listed_origin_only(tmp_path: Path) -> None:
    project = copy_project("todo", tmp_path)
    set_origins(project, f'["{PAGE}"]')
    async for served in serve_project(project):
        s, url = served.client.session, served.running.url
        async with s.options(url, headers=PREFLIGHT) as r:
            assert r.status == 204 and r.headers["Access-Control-Allow-Origin"] == PAGE
            assert r.headers["Vary"] == "Origin"
        async with s.options(url, headers={**PREFLIGHT, "Origin": "https://evil.example"}) as r:
            assert r.status == 403 and "cors_origins" in await r.text()
        async with s.post(url, json=QUERY, headers={"Origin": "https://evil.example", "x-api-key": API_KEY}) as r:
            assert "Access-Control-Allow-Origin" not in r.headers  # the browser withholds the answer
        async with aiohttp.ClientSession() as other:
            async with other.post(url, json=QUERY, headers={"Origin": PAGE, "x-api-key": API_KEY}) as r:
                assert r.status == 200 and r.headers["Access-Control-Allow-Origin"] == PAGE


@pytest.mark.parametrize("value", ['"*"', '["https://app.example.com/"]', '["app.example.com"]', "[1]"])
def test_a_bad_origin_setting_is_refused_at_start(tmp_path: Path, value: str) -> None:
    project = copy_project("todo", tmp_path)
    set_origins(project, value)
    with pytest.raises(ConfigError, match="cors_origins"):
        load_settings(project, env={})
