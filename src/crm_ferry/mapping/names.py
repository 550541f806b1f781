"""Dataverse naming rules for what crm-ferry provisions.

A schema name is the publisher prefix, an underscore and a PascalCase name made of ASCII
letters and digits (``new_ReferralSource``); its logical name is the lower-case form
(``new_referralsource``). Names are unique within their table and at most
:data:`MAX_SCHEMA_NAME` characters long. The prefix is 2–8 lower-case letters or digits,
starts with a letter and does not start with ``mscrm``.
See https://learn.microsoft.com/power-apps/maker/data-platform/create-solution#solution-publisher
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

from crm_ferry.errors import MapError

MAX_SCHEMA_NAME = 50
_PREFIX = re.compile(r"^[a-z][a-z0-9]{1,7}$")
_WORD = re.compile(r"[A-Za-z0-9]+")


def check_prefix(prefix: str) -> str:
    """The publisher prefix, validated."""
    if not _PREFIX.match(prefix) or prefix.startswith("mscrm"):
        raise MapError(
            f"publisher prefix {prefix!r} is not valid",
            hint="use 2-8 lower-case letters or digits starting with a letter, not 'mscrm'",
        )
    return prefix


def pascal_case(text: str) -> str:
    """``"referral source"`` → ``"ReferralSource"``; accents folded, other characters dropped."""
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    words = _WORD.findall(re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", folded))
    name = "".join(w[:1].upper() + w[1:] for w in words)
    if name[:1].isdigit():
        name = "N" + name
    return name or "Field"


def schema_name(prefix: str, text: str, taken: Iterable[str] = ()) -> str:
    """A unique, valid schema name for ``text`` under ``prefix``.

    ``taken`` holds the schema or logical names already used in the table (compared
    case-insensitively); a clash gets a numeric suffix, and long names are shortened so the
    whole stays within :data:`MAX_SCHEMA_NAME` characters.
    """
    check_prefix(prefix)
    used = {t.lower() for t in taken}
    base = pascal_case(text)
    room = MAX_SCHEMA_NAME - len(prefix) - 1
    candidate = f"{prefix}_{base[:room]}"
    n = 2
    while candidate.lower() in used:
        suffix = str(n)
        candidate = f"{prefix}_{base[: room - len(suffix)]}{suffix}"
        n += 1
    return candidate


def logical_name(schema: str) -> str:
    return schema.lower()
