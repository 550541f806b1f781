"""What looks like a credential, by the name of its field and by the shape of its value.

The export's configuration objects (integrations above all) may carry an API key, a webhook
signing secret or a token; the references are written to be read and passed around, so
:func:`redact` replaces every credential-looking value with :data:`REDACTED` and says where
it did (field paths, never the values). ``ferry.toml`` is checked with the same tests
(:func:`credential_reason`), so a secret is refused there before it is ever used.

Three tests, each cheap and each able to stand alone:

* the field's name: ``password``, ``client_secret``, ``api_key``, ``accessToken``,
  ``client_credential``, ``webhook_secret``, ``key``… (:func:`secret_key`), except names that
  only point at a secret (``secret_env``, ``token_url``, ``key_id``…);
* the value's shape, under any name: a JSON Web Token, a Stripe, Slack, GitHub, AWS, Google,
  SendGrid or Mailchimp key, an Entra client secret, a private key block, a password inside
  a URL, a ``Bearer`` token, a token in a URL's query (:func:`secret_shape`);
* a long random-looking string under a name that suggests one (``signature``, ``hmac``,
  ``auth``, ``hook``, ``code``…: :func:`soft_secret_key`, :func:`random_looking`).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Mapping
from typing import Any, Final

__all__ = [
    "REDACTED",
    "credential_reason",
    "random_looking",
    "redact",
    "secret_key",
    "secret_shape",
    "soft_secret_key",
]

REDACTED: Final = "[redacted]"
"""What a credential-looking value is replaced with."""

_SECRET_PARTS: Final = (
    "secret",
    "password",
    "passwd",
    "passphrase",
    "credential",
    "apikey",
    "privatekey",
    "accesskey",
    "signingkey",
    "authtoken",
    "accesstoken",
    "refreshtoken",
    "bearertoken",
    "connectionstring",
)
"""Found anywhere in a field name written without separators (``clientsecret``)."""

_SECRET_WORDS: Final = frozenset(
    {"token", "tokens", "pwd", "pass", "key", "keys", "bearer", "cookie", "sas", "otp", "pin"}
)
"""Whole words of a field name (``access_token``, ``stripe_key``, ``key``)."""

_POINTER_WORDS: Final = frozenset(
    {
        "id",
        "ids",
        "env",
        "var",
        "variable",
        "name",
        "names",
        "url",
        "uri",
        "endpoint",
        "type",
        "lifetime",
        "ttl",
        "expiry",
        "expires",
        "length",
        "policy",
        "hint",
        "label",
        "count",
        "required",
        "enabled",
        "set",
    }
)
"""A last word that makes the field name a secret's metadata, not the secret: ``secret_env``
(the variable holding it), ``token_url``, ``key_id``, ``password_required``."""

_SOFT_WORDS: Final = frozenset(
    {
        "auth",
        "sig",
        "signature",
        "hmac",
        "salt",
        "hash",
        "hook",
        "webhook",
        "code",
        "access",
        "session",
        "private",
        "signing",
        "cert",
        "certificate",
        "client",
        "value",
        "api",
    }
)
"""Words under which a long random-looking string is taken for a credential."""

_SHAPES: Final = (
    (re.compile(r"eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"), "a JSON Web Token"),
    (re.compile(r"\b(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{8,}"), "a Stripe secret key"),
    (re.compile(r"\bwhsec_[A-Za-z0-9+/=]{16,}"), "a webhook signing secret"),
    (re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{10,}"), "a Slack token"),
    (re.compile(r"hooks\.slack\.com/services/[A-Za-z0-9/]{16,}"), "a Slack webhook address"),
    (re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{30,})"),
     "a GitHub token"),
    (re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"), "an AWS access key"),
    (re.compile(r"\bAIza[0-9A-Za-z_-]{35}"), "a Google API key"),
    (re.compile(r"\bSG\.[A-Za-z0-9_-]{16,}\.[A-Za-z0-9_-]{16,}"), "a SendGrid key"),
    (re.compile(r"\b[0-9a-f]{32}-us[0-9]{1,2}\b"), "a Mailchimp key"),
    (re.compile(r"(?<![A-Za-z0-9])[A-Za-z0-9_.-]{3}[0-9]Q~[A-Za-z0-9_.~-]{30,}"),
     "an Entra secret"),
    (re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----[^-]*(?:-----END [A-Z ]*PRIVATE KEY-----)?"),
     "a private key"),
    (re.compile(r"(?<=://)[^/\s:@]+:[^/\s@]+(?=@)"), "a password in an address"),
    (re.compile(r"\bBearer\s+(?=[A-Za-z._~+/-]*[0-9])[A-Za-z0-9._~+/-]{16,}=*"),
     "a bearer token"),
    (
        re.compile(
            r"(?<=[?&])(?:access_token|token|api_?key|key|sig|signature|secret|password|"
            r"client_secret|code)=[^&#\s]{8,}",
            re.IGNORECASE,
        ),
        "a credential in an address",
    ),
)  # fmt: skip
"""Value shapes that are credentials under any field name, and what each is."""

_RANDOM: Final = re.compile(r"[A-Za-z0-9+/=_.~-]{20,}")
_UUID: Final = re.compile(r"[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}")
_CAMEL: Final = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


def _words(key: str) -> list[str]:
    normal = _CAMEL.sub("_", key).lower()
    return [w for w in re.split(r"[^a-z0-9]+", normal) if w]


def secret_key(key: str) -> bool:
    """Whether a field named ``key`` holds a secret (``client_secret``, ``apiKey``, ``token``,
    ``webhook_secret``, ``client_credential``), not merely names one (``secret_env``)."""
    words = _words(key)
    if not words or words[-1] in _POINTER_WORDS:
        return False
    joined = "".join(words)
    return any(part in joined for part in _SECRET_PARTS) or any(w in _SECRET_WORDS for w in words)


def soft_secret_key(key: str) -> bool:
    """Whether a long random value under ``key`` is taken for a credential."""
    words = _words(key)
    return bool(words) and words[-1] not in _POINTER_WORDS and any(w in _SOFT_WORDS for w in words)


def secret_shape(text: str) -> str | None:
    """What credential ``text`` holds by its shape (``"a JSON Web Token"``), or None."""
    for pattern, what in _SHAPES:
        if pattern.search(text):
            return what
    return None


def random_looking(text: str) -> bool:
    """A long string of letters and digits with the spread of characters a generated key
    has (not a GUID, an address, a path or a word)."""
    if not _RANDOM.fullmatch(text) or _UUID.fullmatch(text) or text.startswith(("/", ".")):
        return False
    if not (any(c.isdigit() for c in text) and any(c.isalpha() for c in text)):
        return False
    counts = Counter(text)
    entropy = -sum(n / len(text) * math.log2(n / len(text)) for n in counts.values())
    return entropy >= 3.5


def _has_content(value: Any) -> bool:
    if value is None or isinstance(value, bool):
        return False
    if isinstance(value, str):
        return bool(value.strip())
    if isinstance(value, Mapping | list | tuple):
        return len(value) > 0
    return True


def credential_reason(key: str | None, value: Any) -> str | None:
    """Why the field ``key`` (None: a list item or a name that is not a field) with ``value``
    looks like a credential, or None. Containers are judged by their name only."""
    if key is not None and secret_key(key) and _has_content(value):
        return "its name is a secret's"
    if isinstance(value, str):
        shape = secret_shape(value)
        if shape is not None:
            return f"its value looks like {shape}"
        if key is not None and soft_secret_key(key) and random_looking(value):
            return "its value looks like a generated key"
    return None


def _path(parent: str, key: str) -> str:
    return f"{parent}.{key}" if parent else key


def redact(value: Any, path: str = "") -> tuple[Any, list[str]]:
    """``value`` (plain JSON-like data) with every credential-looking field replaced by
    :data:`REDACTED`, and the paths of those fields (``details.api_key``,
    ``steps[2].headers.Authorization``), in document order. A field whose name is a
    secret's is replaced whole, whatever it holds; a credential inside longer text
    (an address, a sentence) is replaced where it stands."""
    found: list[str] = []

    def walk(v: Any, where: str, key: str | None) -> Any:
        if key is not None and secret_key(key) and _has_content(v):
            found.append(where)
            return REDACTED
        if isinstance(v, Mapping):
            return {str(k): walk(x, _path(where, str(k)), str(k)) for k, x in v.items()}
        if isinstance(v, list | tuple):
            return [walk(x, f"{where}[{i}]", key) for i, x in enumerate(v)]
        if not isinstance(v, str):
            return v
        if key is not None and soft_secret_key(key) and random_looking(v):
            found.append(where)
            return REDACTED
        text = v
        for pattern, _what in _SHAPES:
            text = pattern.sub(REDACTED, text)
        if text != v:
            found.append(where)
        return text

    return walk(value, path, None), found
