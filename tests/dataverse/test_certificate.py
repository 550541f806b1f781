"""Certificate sign-in: MSAL sends a client assertion signed with the certificate's key."""

from __future__ import annotations

import base64
import datetime as dt
import json
from urllib.parse import parse_qs

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

from crm_ferry.dataverse import Certificate, MsalCredential

AUTHORITY = "https://login.example.test/tenant-1"
ENV = "https://org.example.test"


def _b64(data: str) -> bytes:
    return base64.urlsafe_b64decode(data + "=" * (-len(data) % 4))


def make_certificate() -> tuple[rsa.RSAPrivateKey, Certificate]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "crm-ferry test")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    thumbprint = cert.fingerprint(hashes.SHA1()).hex()
    return key, Certificate(pem, thumbprint)


def test_certificate_credential_signs_a_client_assertion() -> None:
    key, certificate = make_certificate()
    seen: dict[str, str] = {}

    def entra(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/.well-known/openid-configuration"):
            return httpx.Response(
                200,
                json={
                    "authorization_endpoint": f"{AUTHORITY}/oauth2/v2.0/authorize",
                    "token_endpoint": f"{AUTHORITY}/oauth2/v2.0/token",
                    "issuer": f"{AUTHORITY}/v2.0",
                },
            )
        form = {k: v[0] for k, v in parse_qs(request.content.decode()).items()}
        seen.update(form)
        return httpx.Response(
            200, json={"access_token": "cert-token", "token_type": "Bearer", "expires_in": 3600}
        )

    cred = MsalCredential.certificate(
        environment_url=ENV,
        client_id="app-1",
        certificate=certificate,
        authority=AUTHORITY,
        http=httpx.Client(transport=httpx.MockTransport(entra)),
    )
    assert cred.token() == "cert-token"
    assert seen["grant_type"] == "client_credentials"
    assert seen["scope"] == f"{ENV}/.default"
    assert seen["client_assertion_type"] == "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
    assert "client_secret" not in seen
    header_b64, payload_b64, signature_b64 = seen["client_assertion"].split(".")
    header = json.loads(_b64(header_b64))
    payload = json.loads(_b64(payload_b64))
    assert header["alg"] == "RS256"
    assert payload["iss"] == payload["sub"] == "app-1"
    key.public_key().verify(
        _b64(signature_b64),
        f"{header_b64}.{payload_b64}".encode(),
        padding.PKCS1v15(),
        hashes.SHA256(),
    )  # raises if the assertion was not signed with the certificate's key
    assert certificate.private_key_pem not in repr(certificate)
    assert certificate.private_key_pem not in repr(cred)
