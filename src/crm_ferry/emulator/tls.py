"""HTTPS for the served emulator: a self-signed certificate made at start-up.

Clients that insist on an ``https`` base URL (Microsoft's Python SDK refuses anything else,
since Dataverse serves only HTTPS) can then talk to the emulator unchanged; they trust the
certificate through their usual setting (``REQUESTS_CA_BUNDLE`` for ``requests``,
``SSL_CERT_FILE`` for ``httpx`` and most others). The key never leaves the folder it is made
in, which is owner-only, and the certificate is valid for the names the emulator listens on
only, for a day.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from crm_ferry.owner_only import secure_dir, write_private


@dataclass(frozen=True, slots=True)
class TlsFiles:
    """The certificate (PEM; also what a client trusts) and its private key (PEM)."""

    certificate: Path
    key: Path

    def server_context(self) -> ssl.SSLContext:
        """A TLS 1.2+ server context with this certificate."""
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(self.certificate, self.key)
        return context


def _names(host: str) -> list[x509.GeneralName]:
    names: list[x509.GeneralName] = [x509.DNSName("localhost")]
    seen = {"localhost", "127.0.0.1"}
    names.append(x509.IPAddress(ipaddress.ip_address("127.0.0.1")))
    if host not in seen:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    return names


def make_certificate(folder: Path, host: str = "127.0.0.1") -> TlsFiles:
    """A fresh self-signed certificate for ``host`` (and ``localhost``, ``127.0.0.1``)
    with its key, written to ``folder`` (created owner-only)."""
    secure_dir(folder)
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "crm-ferry emulator")])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(_names(host)), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(key, hashes.SHA256())
    )
    files = TlsFiles(folder / "emulator-cert.pem", folder / "emulator-key.pem")
    write_private(files.certificate, certificate.public_bytes(serialization.Encoding.PEM).decode())
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    write_private(files.key, pem.decode())
    return files


__all__ = ["TlsFiles", "make_certificate"]
