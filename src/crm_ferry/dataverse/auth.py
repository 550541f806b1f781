"""Sign-in through MSAL: client credentials (secret or certificate) and device code.

One code path for Microsoft Entra ID and for the emulator's Entra-like token endpoint.
For an authority that is not Microsoft's, MSAL is told not to validate it against
Microsoft's instance-discovery endpoint (``validate_authority=False``,
``instance_discovery=False``; "instance discovery ... can be turned off ... for private
clouds", https://learn.microsoft.com/entra/msal/dotnet/advanced/custom-authority-aliases)
and then reads ``{authority}/v2.0/.well-known/openid-configuration`` like it does for Entra.
MSAL's ``http_client=`` hook gets :class:`HttpxForMsal`, so tests serve the token calls
from an ``httpx.MockTransport`` and nothing leaves the process.

Secrets are held in private attributes only: they never appear in a repr, an error
message or :meth:`FerryError.attrs`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlsplit

import httpx

from crm_ferry.dataverse.errors import AuthError, ConnectionLost

ENTRA_AUTHORITY = "https://login.microsoftonline.com"
AUTHORITY_HINT = (
    "the sign-in authority is [dataverse] authority in ferry.toml (or "
    "CRM_FERRY_DATAVERSE_AUTHORITY); without it, https://login.microsoftonline.com/<[dataverse] "
    "tenant>; for the emulator, set it to the authority `crm-ferry emulator serve` prints"
)
"""Where a sign-in goes, and the setting that changes it: the end of every sign-in hint."""
REFRESH_MARGIN = 300.0
"""Refresh a token this many seconds before it expires."""


class CredentialProvider(Protocol):
    """What :class:`~crm_ferry.dataverse.client.DataverseClient` needs to authenticate."""

    @property
    def name(self) -> str:
        """Who signs in (the client id), for reports; never a secret."""
        ...

    def token(self, *, force_refresh: bool = False) -> str:
        """A bearer token for the environment; a fresh one when ``force_refresh``."""
        ...


class HttpxForMsal:
    """MSAL's ``http_client`` interface (``post`` / ``get``) over an :class:`httpx.Client`.

    A request that gets no answer raises :class:`ConnectionLost` carrying the transport
    error's name; the credential's calls into MSAL add which authority it was.

    MSAL needs only ``status_code``, ``text``, ``headers`` and ``raise_for_status()`` on a
    response, all of which :class:`httpx.Response` has.
    """

    def __init__(self, client: httpx.Client, *, loopback_http: bool = False) -> None:
        self._client = client
        self._loopback_http = loopback_http

    def post(
        self,
        url: str,
        params: Mapping[str, Any] | None = None,
        data: Any = None,
        headers: Mapping[str, str] | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        body: dict[str, Any] = {}
        if isinstance(data, (str, bytes)):
            body["content"] = data
        elif data is not None:
            # MSAL hands some values as bytes (the signed client assertion); httpx would send
            # their repr ("b'...'"), requests sends the text, so decode them here.
            body["data"] = {
                k: v.decode("ascii") if isinstance(v, bytes) else v for k, v in dict(data).items()
            }
        return self._send("POST", url, params=params, headers=headers, **body)

    def get(
        self,
        url: str,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        return self._send("GET", url, params=params, headers=headers)

    def _send(self, method: str, url: str, **kw: Any) -> httpx.Response:
        headers = {k: v for k, v in (kw.pop("headers") or {}).items() if v is not None}
        if self._loopback_http:
            return self._send_loopback(method, url, headers=headers, **kw)
        try:
            return self._client.request(method, url, headers=headers, **kw)
        except httpx.TransportError as exc:
            raise ConnectionLost(type(exc).__name__, method=method, url=url) from None

    def _send_loopback(self, method: str, url: str, **kw: Any) -> httpx.Response:
        """MSAL accepts only https authorities; an emulator served on this machine speaks
        plain http. MSAL is shown ``https://127.0.0.1:<port>``; the request goes out as
        http, and the answer's own http URLs are shown back to MSAL as https."""
        plain = _swap_scheme(url, "https", "http")
        try:
            resp = self._client.request(method, plain, **kw)
        except httpx.TransportError as exc:
            raise ConnectionLost(type(exc).__name__, method=method, url=plain) from None
        origin = _origin(plain)
        text = resp.text.replace(origin, _swap_scheme(origin, "http", "https"))
        headers = {
            k: v
            for k, v in resp.headers.items()
            if k.lower() not in ("content-length", "content-encoding", "transfer-encoding")
        }
        return httpx.Response(
            resp.status_code, headers=headers, content=text.encode(), request=resp.request
        )


LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


def is_loopback_http(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme == "http" and (parts.hostname or "") in LOOPBACK_HOSTS


def _swap_scheme(url: str, old: str, new: str) -> str:
    return new + url[len(old) :] if url.startswith(old + "://") else url


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def scope_for(environment_url: str) -> str:
    """The ``.default`` scope of a Dataverse environment (``https://org.crm.dynamics.com/.default``)."""
    parts = urlsplit(environment_url)
    return f"{parts.scheme}://{parts.netloc}/.default"


def authority_for(tenant: str | None, authority: str | None) -> str:
    """The authority URL: the override if given, else Entra's for the tenant."""
    if authority:
        base = authority.rstrip("/")
        # An override may be a bare base URL (the emulator's); the tenant goes after it.
        if tenant and urlsplit(base).path in ("", "/"):
            return f"{base}/{tenant}"
        return base
    if not tenant:
        raise AuthError("no tenant configured", hint="set [dataverse] tenant in ferry.toml")
    return f"{ENTRA_AUTHORITY}/{tenant}"


@dataclass(frozen=True, slots=True)
class Certificate:
    """A certificate credential: PEM private key and the certificate's SHA-1 thumbprint."""

    private_key_pem: str
    thumbprint: str
    public_certificate: str | None = None

    def __repr__(self) -> str:
        return f"Certificate(thumbprint={self.thumbprint!r})"

    def as_msal(self) -> dict[str, str]:
        out = {"private_key": self.private_key_pem, "thumbprint": self.thumbprint}
        if self.public_certificate:
            out["public_certificate"] = self.public_certificate
        return out


class MsalCredential:
    """Tokens from MSAL, cached and refreshed before they expire.

    Use :meth:`client_secret`, :meth:`certificate` or :meth:`device_code` to build one.
    """

    def __init__(
        self,
        app: Any,
        *,
        scope: str,
        client_id: str,
        interactive: Callable[[Any, list[str]], dict[str, Any]] | None = None,
        clock: Callable[[], float] = time.time,
        redact: tuple[str, ...] = (),
        http: httpx.Client | None = None,
        authority: str | None = None,
    ) -> None:
        self._app = app
        self.authority = authority
        """The sign-in authority URL, as configured (named by every sign-in failure)."""
        self._http = http
        self._redact = tuple(r for r in redact if r)
        self._scopes = [scope]
        self._client_id = client_id
        self._interactive = interactive
        self._clock = clock
        self._token: str | None = None
        self._expires_at = 0.0
        self._lock = threading.Lock()
        self.acquired = 0
        """How many tokens were obtained from the authority (not from the cache)."""

    @property
    def name(self) -> str:
        return self._client_id

    def close(self) -> None:
        """Close the HTTP client used for sign-in."""
        if self._http is not None:
            self._http.close()

    def __repr__(self) -> str:
        return f"MsalCredential(client_id={self._client_id!r}, scope={self._scopes[0]!r})"

    # -- constructors ------------------------------------------------------------------

    @classmethod
    def client_secret(
        cls,
        *,
        environment_url: str,
        client_id: str,
        secret: str,
        tenant: str | None = None,
        authority: str | None = None,
        http: httpx.Client | None = None,
        scope: str | None = None,
    ) -> MsalCredential:
        """An application user signing in with a client secret (for ``scope``, the
        environment's ``.default`` unless given: ``https://graph.microsoft.com/.default``
        signs the same application in to Microsoft Graph)."""
        return cls._confidential(
            environment_url,
            client_id,
            secret,
            tenant=tenant,
            authority=authority,
            http=http,
            scope=scope,
        )

    @classmethod
    def certificate(
        cls,
        *,
        environment_url: str,
        client_id: str,
        certificate: Certificate,
        tenant: str | None = None,
        authority: str | None = None,
        http: httpx.Client | None = None,
        scope: str | None = None,
    ) -> MsalCredential:
        """An application user signing in with a certificate (a signed client assertion)."""
        return cls._confidential(
            environment_url,
            client_id,
            certificate.as_msal(),
            tenant=tenant,
            authority=authority,
            http=http,
            scope=scope,
        )

    @classmethod
    def device_code(
        cls,
        *,
        environment_url: str,
        client_id: str,
        tenant: str | None = None,
        authority: str | None = None,
        http: httpx.Client | None = None,
        prompt: Callable[[str], None] = print,
    ) -> MsalCredential:
        """An admin at a terminal: MSAL prints a code to enter at the verification URL."""
        import msal

        kwargs = _authority_kwargs(tenant, authority)
        shown = authority_for(tenant, authority)
        http = http or httpx.Client(timeout=30)
        with _naming_authority(shown, ()):
            app = msal.PublicClientApplication(
                client_id,
                http_client=HttpxForMsal(http, loopback_http=kwargs.pop("_loopback")),
                **kwargs,
            )

        def interactive(app: Any, scopes: list[str]) -> dict[str, Any]:
            accounts = app.get_accounts()
            if accounts:
                silent = app.acquire_token_silent(scopes, account=accounts[0])
                if silent and "access_token" in silent:
                    return dict(silent)
            flow = app.initiate_device_flow(scopes=scopes)
            if "user_code" not in flow:
                return dict(flow)
            prompt(str(flow.get("message", "")))
            return dict(app.acquire_token_by_device_flow(flow))

        return cls(
            app,
            scope=scope_for(environment_url),
            client_id=client_id,
            interactive=interactive,
            http=http,
            authority=shown,
        )

    @classmethod
    def _confidential(
        cls,
        environment_url: str,
        client_id: str,
        credential: Any,
        *,
        tenant: str | None,
        authority: str | None,
        http: httpx.Client | None,
        scope: str | None = None,
    ) -> MsalCredential:
        import msal

        redact = (
            (credential,)
            if isinstance(credential, str)
            else tuple(v for v in credential.values() if isinstance(v, str))
        )
        kwargs = _authority_kwargs(tenant, authority)
        shown = authority_for(tenant, authority)
        http = http or httpx.Client(timeout=30)
        try:
            with _naming_authority(shown, redact):
                app = msal.ConfidentialClientApplication(
                    client_id,
                    client_credential=credential,
                    http_client=HttpxForMsal(http, loopback_http=kwargs.pop("_loopback")),
                    token_cache=msal.TokenCache(),
                    **kwargs,
                )
        except BaseException:
            http.close()  # the credential it was handed to is not made
            raise
        return cls(
            app,
            scope=scope or scope_for(environment_url),
            client_id=client_id,
            redact=redact,
            http=http,
            authority=shown,
        )

    def with_scope(self, scope: str) -> MsalCredential:
        """The same sign-in (application, token cache, interactive flow) for another
        resource: ``https://graph.microsoft.com/.default`` for Microsoft Graph. It shares
        this credential's HTTP client, which only this one closes."""
        return MsalCredential(
            self._app,
            scope=scope,
            client_id=self._client_id,
            interactive=self._interactive,
            clock=self._clock,
            redact=self._redact,
            authority=self.authority,
        )

    # -- tokens ------------------------------------------------------------------------

    def token(self, *, force_refresh: bool = False) -> str:
        with self._lock:
            now = self._clock()
            if not force_refresh and self._token and now < self._expires_at - REFRESH_MARGIN:
                return self._token
            if force_refresh:
                self._forget_cached_tokens()
            with _naming_authority(self.authority, self._redact):
                result = self._acquire()
            if "access_token" not in result:
                at = f" at {self.authority}" if self.authority else ""
                raise AuthError(
                    _scrub(_describe_failure(result, self._client_id, at), self._redact),
                    hint="check the client id, the secret or certificate, and that the app is "
                    f"an enabled application user of the environment; {AUTHORITY_HINT}",
                )
            self.acquired += 1
            self._token = str(result["access_token"])
            self._expires_at = now + float(result.get("expires_in", 3600))
            return self._token

    def _acquire(self) -> dict[str, Any]:
        if self._interactive is not None:
            return self._interactive(self._app, self._scopes)
        return dict(self._app.acquire_token_for_client(scopes=self._scopes))

    def _forget_cached_tokens(self) -> None:
        self._token = None
        cache = getattr(self._app, "token_cache", None)
        if cache is None:
            return
        import msal

        for at in list(cache.search(msal.TokenCache.CredentialType.ACCESS_TOKEN)):
            cache.remove_at(at)


class StaticToken:
    """A fixed bearer token, obtained elsewhere (``az account get-access-token``)."""

    def __init__(self, token: str, *, name: str = "static") -> None:
        self._token = token
        self._name = name

    @property
    def name(self) -> str:
        return self._name

    def __repr__(self) -> str:
        return f"StaticToken(name={self._name!r})"

    def token(self, *, force_refresh: bool = False) -> str:
        return self._token


def _authority_kwargs(tenant: str | None, authority: str | None) -> dict[str, Any]:
    url = authority_for(tenant, authority)
    loopback = is_loopback_http(url)
    if loopback:
        url = _swap_scheme(url, "http", "https")
    kwargs: dict[str, Any] = {"authority": url, "_loopback": loopback}
    if urlsplit(url).hostname != urlsplit(ENTRA_AUTHORITY).hostname:
        kwargs["validate_authority"] = False
        kwargs["instance_discovery"] = False
    return kwargs


@contextmanager
def _naming_authority(authority: str | None, redact: tuple[str, ...]) -> Iterator[None]:
    """Around MSAL's calls to the authority (discovery when the app is made, the token
    request): a failure says which authority it tried and the setting that changes it."""
    try:
        yield
    except ConnectionLost as exc:
        raise ConnectionLost(
            f"cannot reach the sign-in authority {authority} ({exc.detail})",
            method=exc.method,
            url=exc.url,
            hint=AUTHORITY_HINT,
        ) from None
    except ValueError as exc:
        # MSAL puts the authority and the discovery answer in the text, not the secret.
        raise AuthError(
            f"cannot use the sign-in authority {authority}: "
            f"{_scrub(_first_line(str(exc)), redact)}",
            hint=f"check [dataverse] tenant; {AUTHORITY_HINT}",
        ) from None


def _describe_failure(result: Mapping[str, Any], client_id: str, at: str = "") -> str:
    error = str(result.get("error") or "sign-in failed")
    desc = _first_line(str(result.get("error_description") or ""))
    return f"sign-in failed for client {client_id}{at}: {error}" + (f" ({desc})" if desc else "")


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0][:300] if text.strip() else ""


def _scrub(text: str, secrets: tuple[str, ...]) -> str:
    """``text`` with every secret replaced, in case a server echoes one back."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text
