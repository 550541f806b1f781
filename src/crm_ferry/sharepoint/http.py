"""Requests to Microsoft Graph, with the retries Graph asks for.

"Resume or retry uploads that fail due to connection interruptions or any 5xx errors ...
Use an exponential back off strategy if any 5xx server errors are returned"
(https://learn.microsoft.com/graph/api/driveitem-createuploadsession#best-practices); a 429
waits the ``Retry-After`` seconds it names ("Wait the number of seconds specified in the
Retry-After field", https://learn.microsoft.com/graph/throttling). A 401 gets one fresh
token before it counts as a failure. Pre-authenticated URLs (upload sessions, downloads)
are sent without the Authorization header, as their article says.

Sleep and the backoff's random draw are injectable, so tests run the real logic without
waiting.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from crm_ferry.dataverse.auth import CredentialProvider
from crm_ferry.sharepoint.errors import (
    GraphAuthError,
    GraphConnectionLost,
    GraphThrottled,
    GraphUnavailable,
    SharePointError,
    error_for,
)

GRAPH_URL = "https://graph.microsoft.com/v1.0"
GRAPH_SCOPE = "https://graph.microsoft.com/.default"

Sleep = Callable[[float], None]


@dataclass(frozen=True, slots=True, kw_only=True)
class GraphRetry:
    """How often and how long to retry; ``Retry-After`` always wins over the backoff."""

    max_attempts: int = 6
    """Attempts of one request that meets 5xx answers or no answer at all."""
    backoff_base: float = 0.5
    backoff_cap: float = 30.0
    default_retry_after: float = 5.0
    """Pause for a 429 without a Retry-After header."""
    max_throttle_wait: float = 900.0
    """Total seconds one request may wait out 429s before it gives up."""

    def backoff(self, attempt: int, rng: random.Random) -> float:
        """Exponential delay before retry ``attempt`` (1-based), jittered to 50–100 %."""
        ceiling = min(self.backoff_cap, self.backoff_base * 2.0 ** max(0, attempt - 1))
        return float(ceiling * (0.5 + rng.random() / 2))


class GraphHttp:
    """An httpx client, a credential for Graph and the retry policy."""

    def __init__(
        self,
        credential: CredentialProvider,
        *,
        transport: httpx.BaseTransport | None = None,
        retry: GraphRetry | None = None,
        sleep: Sleep = time.sleep,
        rng: random.Random | None = None,
        timeout: float = 120.0,
    ) -> None:
        self._credential = credential
        self._http = httpx.Client(transport=transport, timeout=timeout, follow_redirects=False)
        self.retry = retry or GraphRetry()
        self._sleep = sleep
        self._rng = rng or random.Random()
        self.waited: list[float] = []
        """Every pause taken before a retry, in seconds (reports and tests)."""

    def send(
        self,
        method: str,
        url: str,
        *,
        doing: str,
        auth: bool = True,
        headers: Mapping[str, str] | None = None,
        **kw: Any,
    ) -> httpx.Response:
        """The answer to ``method url`` once it is not a failure worth retrying; a failure
        is raised as a :class:`SharePointError` saying what ``doing`` was."""
        attempt = 0
        throttled = 0.0
        refreshed = False
        while True:
            sent = dict(headers or {})
            if auth:
                sent["Authorization"] = f"Bearer {self._credential.token()}"
            try:
                response = self._http.request(method, url, headers=sent, **kw)
            except httpx.TransportError as exc:
                attempt += 1
                if attempt >= self.retry.max_attempts:
                    raise GraphConnectionLost(
                        f"{doing} failed: no answer after {attempt} attempts "
                        f"({type(exc).__name__})",
                        method=method,
                        url=url,
                        hint="check the network and any proxy, then run again: what was "
                        "sent is not sent twice",
                    ) from None
                self._pause(self.retry.backoff(attempt, self._rng))
                continue
            if response.status_code < 400:
                return response
            error = self._error(response, method, url, doing)
            if isinstance(error, GraphAuthError) and auth and not refreshed:
                refreshed = True
                self._credential.token(force_refresh=True)
                continue
            if isinstance(error, GraphThrottled):
                wait = error.retry_after
                wait = self.retry.default_retry_after if wait is None else wait
                throttled += wait
                if throttled > self.retry.max_throttle_wait:
                    raise error
                self._pause(wait)
                continue
            if isinstance(error, GraphUnavailable):
                attempt += 1
                if attempt >= self.retry.max_attempts:
                    raise error
                self._pause(self.retry.backoff(attempt, self._rng))
                continue
            raise error

    def _error(
        self, response: httpx.Response, method: str, url: str, doing: str
    ) -> SharePointError:
        body = response.read()
        response.close()
        return error_for(
            response.status_code,
            body,
            method=method,
            url=url,
            doing=doing,
            retry_after=response.headers.get("Retry-After"),
        )

    def _pause(self, seconds: float) -> None:
        self.waited.append(seconds)
        self._sleep(seconds)

    def close(self) -> None:
        self._http.close()
