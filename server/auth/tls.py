"""TLS for `syncline serve --tls-cert/--tls-key` and `syncline dev-cert`.

`make_dev_cert` writes a self-signed certificate for local development whose subjectAltName
names both `localhost` (DNS) and `127.0.0.1` (IP): modern clients ignore the CN and check only
the SAN, and a certificate with just one of the two fails for whoever uses the other.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import ssl
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from server.errors import ConfigError

__all__ = [
    "make_dev_cert",
    "ssl_context",
]


def make_dev_cert(cert_path: Path, key_path: Path, *, days: int = 825, hosts: tuple[str, ...] = ()) -> None:
    """Write a self-signed ECDSA P-256 certificate (PEM) and its private key (PEM, mode 0600).

    Args:
        days: validity; 825 is the longest Apple platforms accept for TLS server certificates.
        hosts: extra DNS names or IP addresses for the subjectAltName.
    """
    key = ec.generate_private_key(ec.SECP256R1())
    names: list[x509.GeneralName] = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    for h in hosts:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(h)))
        except ValueError:
            names.append(x509.DNSName(h))
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost"),
                         x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Syncline development")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True, key_cert_sign=True, content_commitment=False, key_encipherment=False,
                data_encipherment=False, key_agreement=False, crl_sign=False, encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path.parent.mkdir(parents=True, exist_ok=True)
    key_path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def ssl_context(cert: Path, key: Path) -> ssl.SSLContext:
    """A server-side context (TLS 1.2+) for aiohttp's `web.TCPSite(..., ssl_context=...)`.

    Raises:
        ConfigError: the files are missing or do not form a pair.
    """
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        ctx.load_cert_chain(certfile=str(cert), keyfile=str(key))
    except FileNotFoundError as exc:
        raise ConfigError(f"--tls-cert/--tls-key: {exc.filename} does not exist (make one with `syncline dev-cert`)") from exc
    except ssl.SSLError as exc:
        raise ConfigError(f"--tls-cert {cert} / --tls-key {key}: not a matching PEM certificate and key ({exc.reason})") from exc
    return ctx
