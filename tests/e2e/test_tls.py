"""HTTPS with a certificate from `syncline dev-cert`."""

from __future__ import annotations

import ssl
from pathlib import Path

import aiohttp

from server.app import running
from server.cli import main
from server.settings import load_settings

from .conftest import API_KEY, copy_project


async def test_dev_cert_then_serve_https(tmp_path: Path) -> None:
    cert, key = tmp_path / "dev.crt", tmp_path / "dev.key"
    assert main(["dev-cert", "--cert", str(cert), "--key", str(key)]) == 0
    project = copy_project("todo", tmp_path)
    settings = load_settings(project, env={"SYNCLINE_API_KEY": API_KEY}, overrides={"tls_cert": cert, "tls_key": key})
    trust = ssl.create_default_context(cafile=str(cert))
    async with running(settings, port=0) as srv, aiohttp.ClientSession() as s:
        assert srv.url.startswith("https://127.0.0.1:")
        async with s.post(srv.url, json={"query": "{ hello }"}, headers={"x-api-key": API_KEY}, ssl=trust) as r:
            assert (await r.json())["data"]["hello"] == "Hello, world!"
        # a client that does not trust the certificate is refused by TLS itself
        try:
            async with s.post(srv.url, json={"query": "{ hello }"}, headers={"x-api-key": API_KEY}) as r:
                raise AssertionError("untrusted certificate accepted")
        except aiohttp.ClientConnectorCertificateError:
            pass
