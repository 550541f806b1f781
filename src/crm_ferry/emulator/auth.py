"""Sign-in: an Entra-like token service and the bearer-token guard in front of the Web API.

The emulator is its own authority: ``{base}/{tenant}`` serves the OpenID configuration
MSAL reads during authority discovery, a v2.0 token endpoint (client credentials and the
device-code grant) and a device-code endpoint. Tokens are opaque random strings with an
expiry on the emulator's clock; every Web API call must carry a live one.

A device code is approved, as in Entra, by a person signing in: on the ``/devicelogin`` page
only by posting the code with the name and password of one of
:attr:`AuthConfig.device_users` (opening ``/devicelogin?otc=<code>`` approves nothing), or
in process by whoever holds the app (:meth:`SignIn.approve_device_code`: the tests, the
demo). Without device users (the default, and ``crm-ferry emulator serve``) the page is
off: over HTTP, only client credentials sign in.

MSAL Python with ``validate_authority=False, instance_discovery=False`` fetches exactly one
document before asking for a token: ``{authority}/v2.0/.well-known/openid-configuration``
(``msal/authority.py``, ``_initialize_entra_authority`` then ``tenant_discovery``), reads
``authorization_endpoint``, ``token_endpoint`` and ``device_authorization_endpoint`` from
it, and insists on an ``https`` authority and token endpoint (``canonicalize``).

Errors copy Entra's shape (``error``, ``error_description`` starting ``AADSTS<n>:``,
``error_codes``, ``timestamp``, ``trace_id``, ``correlation_id``, ``error_uri``) and its
statuses: ``invalid_client`` is 401, the others 400.
https://learn.microsoft.com/entra/identity-platform/reference-error-codes

Each client id is a Dataverse *application user*: the first token registers it with the
data plane, and a disabled application user is refused on every call, as Dataverse
refuses disabled users ("... is disabled. Disabled users cannot access the system ...",
https://learn.microsoft.com/troubleshoot/power-platform/power-apps/dataverse/dataverse-plug-ins-errors).
"""

from __future__ import annotations

import base64
import html
import secrets
import string
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol
from urllib.parse import parse_qs

import httpx

from crm_ferry.emulator.layers import (
    CALLER,
    CLIENT_ID,
    Clock,
    Handler,
    json_response,
    monotonic,
    odata_error,
    origin,
)
from crm_ferry.errors import EmulatorError

DEFAULT_TENANT = "7e1f5a3c-0c4b-4d2e-9f6a-5b8d2c1e0a47"
"""The emulated Entra tenant (a fixed GUID, so configuration written for the emulator is stable)."""

DEFAULT_CLIENT_ID = "51f81489-12ee-4a9e-aaae-a2591f45987d"
DEFAULT_CLIENT_SECRET = "emulator-client-secret-not-a-real-secret"
"""The default application client. Not a secret: it only opens the local emulator."""

GRAPH_RESOURCE = "https://graph.microsoft.com"
"""The other resource the emulator issues tokens for: Microsoft Graph (its SharePoint file
API, :mod:`crm_ferry.emulator.graph`), asked for with ``https://graph.microsoft.com/.default``.
A Graph token opens only Graph, a Dataverse token only the Web API, as in Entra where a
token's audience is the one resource it was issued for."""

DEVICE_CODE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
_RESERVED_SCOPES = frozenset({"openid", "profile", "offline_access", "email"})
_USER_CODE_ALPHABET = string.ascii_uppercase + string.digits


@dataclass(frozen=True, slots=True)
class ClientApp:
    """An app registration that may sign in, and the application user it becomes."""

    client_id: str
    secret: str
    name: str
    disabled: bool = False
    """The Dataverse application user is disabled: tokens are issued, API calls refused."""


DEFAULT_CLIENT = ClientApp(DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, "crm-ferry emulator client")


def emulator_clients(users: int) -> tuple[ClientApp, ...]:
    """The default client and ``users - 1`` more, with fixed ids and secrets (they open only
    the local emulator): several application users, each with its own service-protection
    limits, as a large load uses them."""
    if users < 1:
        raise ValueError(f"users must be at least 1, not {users}")
    extra = (
        ClientApp(
            str(uuid.uuid5(uuid.UUID(DEFAULT_CLIENT_ID), f"client {n}")),
            f"emulator-client-{n}-secret-not-a-real-secret",
            f"crm-ferry emulator client {n}",
        )
        for n in range(2, users + 1)
    )
    return (DEFAULT_CLIENT, *extra)


@dataclass(frozen=True, slots=True)
class DeviceUser:
    """A person who may approve a device sign-in on the ``/devicelogin`` page, with the
    password the emulator was started with."""

    name: str
    password: str = field(repr=False)

    def __post_init__(self) -> None:
        if not self.name.strip() or not self.password:
            raise ValueError("a device user needs a name and a password")


@dataclass(frozen=True, slots=True, kw_only=True)
class AuthConfig:
    tenant: str = DEFAULT_TENANT
    clients: tuple[ClientApp, ...] = (DEFAULT_CLIENT,)
    device_users: tuple[DeviceUser, ...] = ()
    """Who may approve a device code on the ``/devicelogin`` page (name and password
    posted); none: the page approves nothing, only :meth:`SignIn.approve_device_code` does."""
    token_lifetime_s: int = 3600
    device_code_lifetime_s: int = 900
    device_code_interval_s: int = 5


class Directory(Protocol):
    """What sign-in needs from the data plane: the application users (systemuser rows)."""

    def application_user(self, client_id: str) -> tuple[str, bool] | None: ...

    def register_application_user(self, client_id: str, name: str) -> str: ...


@dataclass(frozen=True, slots=True)
class TokenInfo:
    """A bearer token as another guard sees it (:meth:`SignIn.lookup`)."""

    client_id: str
    systemuserid: str
    resource: str
    """``scheme://host[:port]`` of the environment, or :data:`GRAPH_RESOURCE`."""
    expired: bool


@dataclass(frozen=True, slots=True)
class _Token:
    client_id: str
    systemuserid: str
    resource: str
    expires_at: float


@dataclass(slots=True)
class _DeviceCode:
    client_id: str
    user_code: str
    resource: str
    scope: str
    expires_at: float
    approved: bool = False
    approved_by: str | None = None
    """The device user who approved it on the page (None: approved in process)."""


@dataclass(slots=True)
class _State:
    tokens: dict[str, _Token] = field(default_factory=dict)
    device_codes: dict[str, _DeviceCode] = field(default_factory=dict)
    disabled: set[str] = field(default_factory=set)


class SignIn:
    """The outermost layer: answers sign-in requests itself and guards the Web API.

    Thread-safe. Requests that are neither sign-in nor Web API get a plain 404.
    """

    def __init__(
        self,
        inner: Handler,
        directory: Directory,
        config: AuthConfig | None = None,
        *,
        clock: Clock = monotonic,
    ) -> None:
        self._inner = inner
        self._directory = directory
        self.config = config or AuthConfig()
        self._clock = clock
        self._lock = threading.Lock()
        self._clients = {c.client_id: c for c in self.config.clients}
        self._state = _State(disabled={c.client_id for c in self.config.clients if c.disabled})

    @property
    def tenant(self) -> str:
        return self.config.tenant

    # -- in-process administration ---------------------------------------------------------

    def approve_device_code(self, user_code: str, *, by: str | None = None) -> None:
        """Mark a pending device code as signed in, in process (what a person does in the
        browser; over HTTP only a device user can, see :meth:`_device_login`)."""
        with self._lock:
            for pending in self._state.device_codes.values():
                if pending.user_code == user_code.strip().upper() and not pending.approved:
                    pending.approved = True
                    pending.approved_by = by
                    return
        raise EmulatorError(
            f"no pending device code {user_code!r}",
            hint="start a device sign-in first (POST <authority>/oauth2/v2.0/devicecode) and "
            "approve the user code it returned before it expires",
        )

    def pending_user_codes(self) -> list[str]:
        """User codes of device sign-ins waiting for approval, oldest first."""
        with self._lock:
            return [d.user_code for d in self._state.device_codes.values() if not d.approved]

    def set_disabled(self, client_id: str, disabled: bool = True) -> None:
        """Disable (or enable) a client's application user, as an admin would."""
        with self._lock:
            if disabled:
                self._state.disabled.add(client_id)
            else:
                self._state.disabled.discard(client_id)

    # -- the handler -------------------------------------------------------------------------

    def __call__(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path.startswith("/api/"):
            return self._guard(request)
        if path.rstrip("/") == "/devicelogin":
            return self._device_login(request)
        parts = path.strip("/").split("/")
        tenant, rest = parts[0], "/".join(parts[1:])
        endpoints = {
            "oauth2/v2.0/token": self._token,
            "oauth2/token": self._token,
            "oauth2/v2.0/devicecode": self._device_code,
            "oauth2/devicecode": self._device_code,
            "v2.0/.well-known/openid-configuration": self._openid_v2,
            ".well-known/openid-configuration": self._openid_v1,
        }
        endpoint = endpoints.get(rest)
        if endpoint is None:
            return json_response(404, {"error": "not_found", "path": path})
        if tenant != self.tenant:
            return self._entra_error(
                request,
                400,
                "invalid_request",
                90002,
                f"Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID "
                "and are signing into the correct cloud.",
            )
        return endpoint(request)

    # -- OpenID configuration ---------------------------------------------------------------

    def _openid_v2(self, request: httpx.Request) -> httpx.Response:
        base = f"{origin(request)}/{self.tenant}"
        return json_response(
            200,
            {
                "token_endpoint": f"{base}/oauth2/v2.0/token",
                "token_endpoint_auth_methods_supported": [
                    "client_secret_post",
                    "client_secret_basic",
                ],
                "jwks_uri": f"{base}/discovery/v2.0/keys",
                "response_modes_supported": ["query", "fragment", "form_post"],
                "subject_types_supported": ["pairwise"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
                "scopes_supported": ["openid", "profile", "email", "offline_access"],
                "issuer": f"{base}/v2.0",
                "request_uri_parameter_supported": False,
                "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
                "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode",
                "end_session_endpoint": f"{base}/oauth2/v2.0/logout",
                "grant_types_supported": ["client_credentials", DEVICE_CODE_GRANT],
                "tenant_region_scope": None,
                "cloud_instance_name": request.url.host,
            },
        )

    def _openid_v1(self, request: httpx.Request) -> httpx.Response:
        base = f"{origin(request)}/{self.tenant}"
        return json_response(
            200,
            {
                "token_endpoint": f"{base}/oauth2/token",
                "token_endpoint_auth_methods_supported": [
                    "client_secret_post",
                    "client_secret_basic",
                ],
                "issuer": f"{base}/",
                "authorization_endpoint": f"{base}/oauth2/authorize",
                "device_authorization_endpoint": f"{base}/oauth2/devicecode",
                "end_session_endpoint": f"{base}/oauth2/logout",
                "response_modes_supported": ["query", "fragment", "form_post"],
                "subject_types_supported": ["pairwise"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "tenant_region_scope": None,
                "cloud_instance_name": request.url.host,
            },
        )

    # -- token endpoint ---------------------------------------------------------------------

    def _token(self, request: httpx.Request) -> httpx.Response:
        if request.method != "POST":
            return self._entra_error(
                request, 400, "invalid_request", 900561, "The endpoint only accepts POST requests."
            )
        form = _form(request)
        grant = form.get("grant_type")
        if not grant:
            return self._missing(request, "grant_type")
        if grant == "client_credentials":
            return self._client_credentials(request, form)
        if grant == DEVICE_CODE_GRANT:
            return self._device_code_grant(request, form)
        return self._entra_error(
            request,
            400,
            "unsupported_grant_type",
            70003,
            f"The app requested an unsupported grant type '{grant}'.",
        )

    def _client_credentials(self, request: httpx.Request, form: dict[str, str]) -> httpx.Response:
        client_id, secret = _client_credentials_of(request, form)
        if not client_id:
            return self._missing(request, "client_id")
        client = self._clients.get(client_id)
        if client is None:
            return self._unknown_client(request, client_id)
        if not secret:
            return self._entra_error(
                request,
                401,
                "invalid_client",
                7000216,
                "'client_assertion', 'client_secret' or 'request' is required for the "
                "'client_credentials' grant type.",
            )
        if not secrets.compare_digest(secret.encode(), client.secret.encode()):
            return self._entra_error(
                request,
                401,
                "invalid_client",
                7000215,
                "Invalid client secret provided. Ensure the secret being sent in the request is "
                "the client secret value, not the client secret ID, for a secret added to app "
                f"'{client_id}'.",
            )
        resource, problem = self._resource_of(request, form, client_credentials=True)
        if problem is not None:
            return problem
        return self._issue(client, resource, scope=None)

    def _device_code(self, request: httpx.Request) -> httpx.Response:
        if request.method != "POST":
            return self._entra_error(
                request, 400, "invalid_request", 900561, "The endpoint only accepts POST requests."
            )
        form = _form(request)
        client_id = form.get("client_id", "")
        if not client_id:
            return self._missing(request, "client_id")
        if client_id not in self._clients:
            return self._unknown_client(request, client_id)
        resource, problem = self._resource_of(request, form, client_credentials=False)
        if problem is not None:
            return problem
        device_code = secrets.token_urlsafe(32)
        user_code = "".join(secrets.choice(_USER_CODE_ALPHABET) for _ in range(9))
        verification_uri = f"{origin(request)}/devicelogin"
        lifetime = self.config.device_code_lifetime_s
        with self._lock:
            self._state.device_codes[device_code] = _DeviceCode(
                client_id=client_id,
                user_code=user_code,
                resource=resource,
                scope=form.get("scope", ""),
                expires_at=self._clock() + lifetime,
            )
        return json_response(
            200,
            {
                "user_code": user_code,
                "device_code": device_code,
                "verification_uri": verification_uri,
                "expires_in": lifetime,
                "interval": self.config.device_code_interval_s,
                "message": f"To sign in, use a web browser to open the page {verification_uri} "
                f"and enter the code {user_code} to authenticate.",
            },
        )

    def _device_login(self, request: httpx.Request) -> httpx.Response:
        """The verification page. ``GET`` shows the sign-in form (``?otc=`` fills in the
        code, nothing more); ``POST`` of ``otc``, ``username`` and ``password`` approves the
        code when they are a device user's. Without device users the page is off (403)."""
        if not self.config.device_users:
            return _page(
                403,
                "Device sign-in is off",
                "<p>Device sign-in is off: this emulator was started without a user who may "
                "approve it. Sign in with the application's client credentials instead, or "
                "start the emulator with <code>AuthConfig(device_users=...)</code>.</p>",
            )
        if request.method != "POST":
            return self._login_form(request.url.params.get("otc", ""), None)
        form = _form(request)
        code, name = form.get("otc", ""), form.get("username", "")
        user = self._device_user(name, form.get("password", ""))
        if user is None:
            return self._login_form(code, "The user name or password is not right.", status=401)
        try:
            self.approve_device_code(code, by=user.name)
        except EmulatorError:
            return self._login_form(code, "That code is not valid or has expired.", status=400)
        return _page(
            200,
            "Signed in",
            f"<p>You have signed in as {html.escape(user.name)}. You can close this page.</p>",
        )

    def _device_user(self, name: str, password: str) -> DeviceUser | None:
        """The device user with this name and password (compared in constant time)."""
        found = None
        for user in self.config.device_users:
            name_ok = secrets.compare_digest(name.encode(), user.name.encode())
            password_ok = secrets.compare_digest(password.encode(), user.password.encode())
            if name_ok and password_ok:
                found = user
        return found

    def _login_form(self, code: str, problem: str | None, *, status: int = 200) -> httpx.Response:
        note = f"<p>{html.escape(problem)}</p>" if problem else ""
        return _page(
            status,
            "Sign in",
            f'{note}<form method="post">'
            f'<label>Code <input name="otc" value="{html.escape(code, quote=True)}"></label>'
            '<label>User name <input name="username" autocomplete="username"></label>'
            '<label>Password <input name="password" type="password" '
            'autocomplete="current-password"></label>'
            "<button>Sign in</button></form>",
        )

    def _device_code_grant(self, request: httpx.Request, form: dict[str, str]) -> httpx.Response:
        code = form.get("device_code", "")
        if not code:
            return self._missing(request, "device_code")
        with self._lock:
            pending = self._state.device_codes.get(code)
            if pending is not None and pending.client_id != form.get("client_id"):
                pending = None
            expired = pending is not None and self._clock() >= pending.expires_at
            if pending is not None and (expired or pending.approved):
                del self._state.device_codes[code]
        if pending is None:
            return self._entra_error(
                request,
                400,
                "invalid_grant",
                70000,
                "The provided value for the 'device_code' parameter is not valid.",
            )
        if expired:
            return self._entra_error(
                request,
                400,
                "expired_token",
                70020,
                "The provided value for the input parameter 'device_code' is not valid. "
                "This device code has expired.",
            )
        if not pending.approved:
            return self._entra_error(
                request,
                400,
                "authorization_pending",
                70016,
                "OAuth 2.0 device flow error. Authorization is pending. Continue polling.",
            )
        return self._issue(self._clients[pending.client_id], pending.resource, pending.scope)

    def _resource_of(
        self, request: httpx.Request, form: dict[str, str], *, client_credentials: bool
    ) -> tuple[str, httpx.Response | None]:
        """The Dataverse resource a token is asked for, from ``scope`` (or v1 ``resource``)."""
        here = origin(request)
        if "scope" not in form and "resource" in form and "/v2.0/" not in request.url.path:
            resource = form["resource"].rstrip("/")
            if resource.lower() == GRAPH_RESOURCE:
                return GRAPH_RESOURCE, None
            if resource.lower() != here.lower():
                return "", self._unknown_resource(request, form["resource"])
            return here, None
        scope = form.get("scope", "")
        if not scope:
            return "", self._missing(request, "scope")
        wanted = [s for s in scope.split() if s not in _RESERVED_SCOPES]
        suffixes = ("/.default",) if client_credentials else ("/.default", "/user_impersonation")
        if len(wanted) != 1 or not wanted[0].endswith(suffixes):
            message = (
                f"The provided value for scope {scope} is not valid. Client credential flows "
                "must have a scope value with /.default suffixed to the resource identifier "
                "(application ID URI)."
                if client_credentials
                else f"The provided value for the input parameter 'scope' is not valid: {scope}"
            )
            code = 1002012 if client_credentials else 70011
            return "", self._entra_error(request, 400, "invalid_scope", code, message)
        resource = wanted[0].rsplit("/", 1)[0].rstrip("/")
        if resource.lower() == GRAPH_RESOURCE:
            return GRAPH_RESOURCE, None
        if resource.lower() != here.lower():
            return "", self._unknown_resource(request, resource)
        return here, None

    def _issue(self, client: ClientApp, resource: str, scope: str | None) -> httpx.Response:
        user = self._directory.application_user(client.client_id)
        systemuserid = (
            user[0]
            if user is not None
            else self._directory.register_application_user(client.client_id, client.name)
        )
        token = secrets.token_urlsafe(48)
        lifetime = self.config.token_lifetime_s
        with self._lock:
            now = self._clock()
            live = {k: v for k, v in self._state.tokens.items() if v.expires_at > now}
            live[token] = _Token(client.client_id, systemuserid, resource, now + lifetime)
            self._state.tokens = live
        body: dict[str, object] = {
            "token_type": "Bearer",
            "expires_in": lifetime,
            "ext_expires_in": lifetime,
            "access_token": token,
        }
        if scope is not None:
            body["scope"] = scope
        return json_response(200, body, headers={"Cache-Control": "no-store, no-cache"})

    # -- the guard --------------------------------------------------------------------------

    def _guard(self, request: httpx.Request) -> httpx.Response:
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if not header:
            return self._unauthorized(request, None, "The request has no Authorization header.")
        if scheme.lower() != "bearer" or not token.strip():
            return self._unauthorized(
                request, "invalid_token", "The Authorization header is not a Bearer token."
            )
        with self._lock:
            info = self._state.tokens.get(token.strip())
            expired = info is not None and self._clock() >= info.expires_at
        if info is None:
            return self._unauthorized(request, "invalid_token", "The access token is not valid.")
        if expired:
            return self._unauthorized(request, "invalid_token", "The access token has expired.")
        if info.resource != origin(request):
            return self._unauthorized(
                request, "invalid_token", "The access token was issued for another resource."
            )
        request.extensions[CALLER] = info.systemuserid
        request.extensions[CLIENT_ID] = info.client_id
        return self._inner(request)

    def lookup(self, token: str) -> TokenInfo | None:
        """What a bearer token this service issued is for (None: it never issued it)."""
        with self._lock:
            info = self._state.tokens.get(token.strip())
            if info is None:
                return None
            expired = self._clock() >= info.expires_at
        return TokenInfo(info.client_id, info.systemuserid, info.resource, expired)

    def is_disabled(self, client_id: str) -> bool:
        """Whether an admin disabled this client's application user here (see set_disabled)."""
        with self._lock:
            return client_id in self._state.disabled

    def _unauthorized(
        self, request: httpx.Request, error: str | None, message: str
    ) -> httpx.Response:
        # Dataverse answers an unauthenticated call with the authority to sign in at, which is
        # how clients discover the tenant ("Bearer authorization_uri=..., resource_id=...").
        # https://learn.microsoft.com/power-apps/developer/data-platform/authenticate-oauth
        here = origin(request)
        challenge = (
            f"Bearer authorization_uri={here}/{self.tenant}/oauth2/authorize, resource_id={here}/"
        )
        if error:
            challenge = f'Bearer error="{error}", error_description="{message}", ' + challenge[7:]
        return odata_error(401, "", message, headers={"WWW-Authenticate": challenge})

    # -- errors -----------------------------------------------------------------------------

    def _missing(self, request: httpx.Request, name: str) -> httpx.Response:
        return self._entra_error(
            request,
            400,
            "invalid_request",
            900144,
            f"The request body must contain the following parameter: '{name}'.",
        )

    def _unknown_client(self, request: httpx.Request, client_id: str) -> httpx.Response:
        return self._entra_error(
            request,
            400,
            "unauthorized_client",
            700016,
            f"Application with identifier '{client_id}' was not found in the directory "
            f"'{self.tenant}'. This can happen if the application has not been installed by the "
            "administrator of the tenant or consented to by any user in the tenant. You may have "
            "sent your authentication request to the wrong tenant.",
        )

    def _unknown_resource(self, request: httpx.Request, resource: str) -> httpx.Response:
        return self._entra_error(
            request,
            400,
            "invalid_resource",
            500011,
            f"The resource principal named {resource} was not found in the tenant named "
            f"{self.tenant}. This can happen if the application has not been installed by the "
            "administrator of the tenant or consented to by any user in the tenant. You might "
            "have sent your authentication request to the wrong tenant.",
        )

    def _entra_error(
        self, request: httpx.Request, status: int, error: str, code: int, message: str
    ) -> httpx.Response:
        trace_id = str(uuid.uuid4())
        correlation_id = request.headers.get("client-request-id") or str(uuid.uuid4())
        stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%SZ")
        return json_response(
            status,
            {
                "error": error,
                "error_description": f"AADSTS{code}: {message}\r\nTrace ID: {trace_id}\r\n"
                f"Correlation ID: {correlation_id}\r\nTimestamp: {stamp}",
                "error_codes": [code],
                "timestamp": stamp,
                "trace_id": trace_id,
                "correlation_id": correlation_id,
                "error_uri": f"{origin(request)}/error?code={code}",
            },
            headers={"Cache-Control": "no-store, no-cache"},
        )


def _page(status: int, title: str, body: str) -> httpx.Response:
    return httpx.Response(
        status,
        html=f"<!doctype html><title>{html.escape(title)}</title>{body}",
        headers={"Cache-Control": "no-store"},
    )


def _form(request: httpx.Request) -> dict[str, str]:
    body = request.read().decode("utf-8", errors="replace")
    return {k: v[0] for k, v in parse_qs(body, keep_blank_values=True).items()}


def _client_credentials_of(request: httpx.Request, form: dict[str, str]) -> tuple[str, str]:
    """Client id and secret from the body (client_secret_post) or Basic auth (_basic)."""
    client_id, secret = form.get("client_id", ""), form.get("client_secret", "")
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "basic" and value:
        try:
            user, _, password = base64.b64decode(value).decode("utf-8").partition(":")
        except (ValueError, UnicodeDecodeError):
            return client_id, secret
        return client_id or user, secret or password
    return client_id, secret


class AccountCheck:
    """Refuses calls of a disabled application user, as Dataverse refuses disabled users.

    It sits inside the service-protection window, after sign-in: looking the user up waits
    for the data plane like any work the server does, and counts as such.
    """

    def __init__(
        self,
        inner: Handler,
        directory: Directory,
        *,
        tenant: str,
        locally_disabled: Callable[[str], bool] = lambda _client_id: False,
    ) -> None:
        self._inner = inner
        self._directory = directory
        self._locally_disabled = locally_disabled
        self.organization_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"crm-ferry:{tenant}"))

    def __call__(self, request: httpx.Request) -> httpx.Response:
        client_id = request.extensions.get(CLIENT_ID)
        if not isinstance(client_id, str):
            return self._inner(request)
        user = self._directory.application_user(client_id)
        if self._locally_disabled(client_id) or (user is not None and user[1]):
            systemuserid = user[0] if user is not None else request.extensions.get(CALLER)
            return odata_error(
                401,
                # UNCERTAIN: the hex code Dataverse pairs with this message is not documented;
                # 0x80040225 is the code seen with "The specified user ... is disabled".
                "0x80040225",
                f"The user with SystemUserId={systemuserid} in OrganizationContext="
                f"{self.organization_id} is disabled. Disabled users cannot access the system. "
                "Consider enabling this user. Also, users are disabled if they don't have a "
                "license assigned to them.",
            )
        if user is not None:
            request.extensions[CALLER] = user[0]
        return self._inner(request)
