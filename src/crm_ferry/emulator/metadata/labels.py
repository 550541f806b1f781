"""Labels of definitions in every language, read from a request and written back.

A ``Microsoft.Dynamics.CRM.Label`` holds ``LocalizedLabels`` (one per language code) and the
read-only ``UserLocalizedLabel`` (the caller's language, 1033 here). Only ``LocalizedLabels``
is read from a request; "The ``UserLocalizedLabel`` value returned is based on the user's
language preference and is read-only" and is ignored on input as the article says
(https://learn.microsoft.com/power-apps/developer/data-platform/webapi/create-update-entity-definitions-using-web-api).

On update (``PUT``), ``MSCRM.MergeLabels: true`` keeps the languages the body leaves out;
without it (or with ``false``) the labels sent replace the definition's, other languages lost
(same article, "Update table definitions").

The schema keeps the 1033 text in a field of its own (``display_name``, ``label``...) and the
other languages in ``other_labels[<property>]`` (:data:`crm_ferry.emulator.schema.Labels`).
"""

from __future__ import annotations

from typing import Any

from crm_ferry.emulator.metadata.errors import bad
from crm_ferry.emulator.schema import Labels

LANGUAGE = 1033
"""The organization's base language and the caller's (``UserLocalizedLabel``)."""

Texts = dict[int, str]
"""A label's text by language code."""


def parse(value: Any, prop: str) -> Texts | None:
    """The texts of a Label in a request body (None when the property is absent or null)."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise bad(f"The property '{prop}' must be a Microsoft.Dynamics.CRM.Label.")
    items = value.get("LocalizedLabels")
    if items is None:
        return {}
    if not isinstance(items, list):
        raise bad(f"'{prop}/LocalizedLabels' must be a collection of LocalizedLabel.")
    texts: Texts = {}
    for item in items:
        if not isinstance(item, dict):
            raise bad(f"'{prop}/LocalizedLabels' must be a collection of LocalizedLabel.")
        code, text = item.get("LanguageCode"), item.get("Label")
        if isinstance(code, bool) or not isinstance(code, int) or not isinstance(text, str):
            raise bad(f"Each label of '{prop}' needs a Label (text) and a LanguageCode (number).")
        if code in texts:
            raise bad(f"The label of '{prop}' has language {code} twice.")
        texts[code] = text
    return texts


def stored(primary: str, others: Labels, prop: str) -> Texts:
    """The texts the schema holds for ``prop`` (1033 in ``primary``)."""
    texts: Texts = {LANGUAGE: primary} if primary else {}
    texts.update({int(code): text for code, text in others.get(prop, {}).items()})
    return texts


def keep(texts: Texts, others: Labels, prop: str) -> str:
    """Store ``texts`` for ``prop``: the other languages into ``others``; returns the 1033 text."""
    rest = {str(code): text for code, text in sorted(texts.items()) if code != LANGUAGE}
    if rest:
        others[prop] = rest
    else:
        others.pop(prop, None)
    return texts.get(LANGUAGE, "")


def merged(current: Texts, sent: Texts, *, merge: bool) -> Texts:
    """The texts after an update: ``sent`` over ``current`` (merge) or ``sent`` alone."""
    return {**current, **sent} if merge else dict(sent)


def label_json(texts: Texts) -> dict[str, Any]:
    """A Label: every language (1033 first); ``UserLocalizedLabel`` is the 1033 one (else the
    first), as the Web API returns labels."""
    if not texts:
        return {"LocalizedLabels": [], "UserLocalizedLabel": None}
    order = sorted(texts, key=lambda code: (code != LANGUAGE, code))
    localized = [
        {
            "Label": texts[code],
            "LanguageCode": code,
            "IsManaged": False,
            "MetadataId": None,
            "HasChanged": None,
        }
        for code in order
    ]
    return {"LocalizedLabels": localized, "UserLocalizedLabel": dict(localized[0])}


__all__ = ["LANGUAGE", "Texts", "keep", "label_json", "merged", "parse", "stored"]
