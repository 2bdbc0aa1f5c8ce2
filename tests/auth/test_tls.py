"""Dev certificate: an aiohttp HTTPS server on 127.0.0.1 port 0; a client that trusts it connects."""

from __future__ import annotations

import ipaddress
import ssl

import aiohttp
import pytest
from aiohttp import web
from cryptography import x509

from server.auth.tls import make_dev_cert, ssl_context
from server.errors import ConfigError


async def serve(ctx: ssl.SSLContext):
    async def hello(request: web.Request) -> web.Response:
        return web.Response(text="hello over tls")

    app = web.Application()
    app.router.add_get("/", hello)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ctx)
    await site.start()
    return runner, site._server.sockets[0].getsockname()[1]


async def test_dev_cert_serves_https_for_localhost_and_127_0_0_1(tmp_path) -> None:
    cert, key = tmp_path / "dev.crt", tmp_path / "dev.key"
    make_dev_cert(cert, key)
    assert key.stat().st_mode & 0o777 == 0o600
    parsed = x509.load_pem_x509_certificate(cert.read_bytes())
    san = parsed.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["localhost"]
    assert san.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address("127.0.0.1")]

    runner, port = await serve(ssl_context(cert, key))
    try:
        trusting = ssl.create_default_context(cafile=str(cert))
        async with aiohttp.ClientSession() as session:
            for host in ("127.0.0.1", "localhost"):
                async with session.get(f"https://{host}:{port}/", ssl=trusting) as resp:
                    assert await resp.text() == "hello over tls"
            # a client that does not trust the certificate refuses it
            with pytest.raises(aiohttp.ClientConnectorCertificateError):
                await session.get(f"https://127.0.0.1:{port}/", ssl=ssl.create_default_context())
    finally:
        await runner.cleanup()


def test_missing_or_mismatched_files_are_config_errors(tmp_path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        ssl_context(tmp_path / "no.crt", tmp_path / "no.key")
    make_dev_cert(tmp_path / "a.crt", tmp_path / "a.key")
    make_dev_cert(tmp_path / "b.crt", tmp_path / "b.key")
    with pytest.raises(ConfigError, match="not a matching"):
        ssl_context(tmp_path / "a.crt", tmp_path / "b.key")
