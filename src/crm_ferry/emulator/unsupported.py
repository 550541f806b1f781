"""What the emulator does not implement, refused out loud instead of ignored.

A rehearsal that passes because the emulator quietly dropped a header, a preference or a query
parameter proves nothing: a real tenant would have honoured it and answered differently. So
every request header in Dataverse's own ``MSCRM.`` namespace, every ``Prefer`` preference
and every query parameter the emulator does not act on is answered with ``501 Not
Implemented`` naming the feature, with Dataverse's ``NotImplemented`` error code
(``0x80040219``, "The requested functionality is not yet implemented.", Web service error
codes).

What *is* honoured, and why (Compose HTTP requests and handle errors, "HTTP headers", "Prefer
headers" and "Other headers";
https://learn.microsoft.com/power-apps/developer/data-platform/webapi/compose-http-requests-handle-errors):

* ``Prefer``: ``return=representation`` (and its opposite ``return=minimal``),
  ``odata.include-annotations``, ``odata.maxpagesize``, and ``odata.continue-on-error`` for
  ``$batch`` (Execute batch operations). ``odata.track-changes`` (change tracking) is refused.
* ``MSCRM.SolutionUniqueName`` (metadata writes join that solution).
* ``MSCRM.MergeLabels`` on a ``PUT`` of a definition (labels merged or replaced; Create and
  update table definitions using the Web API, "Update table definitions"); on any other
  request it has nothing to act on and is refused.
* ``MSCRM.BypassBusinessLogicExecution`` with ``CustomSync`` / ``CustomAsync`` and
  ``MSCRM.BypassCustomPluginExecution: true``: the emulator runs no custom business logic, so
  there is nothing to run and nothing to skip; what the header asks for is what happens.
* ``MSCRM.SuppressDuplicateDetection: true`` is the service's default (duplicate detection is
  off unless a request asks for it with ``false``); ``false`` is refused, the emulator has no
  duplicate detection rules.
* ``Consistency: Strong``: the emulator never answers from a cache.
* ``If-Match`` / ``If-None-Match``: handled by the record requests.

``CallerObjectId`` and ``MSCRM.CallerID`` (impersonation) are refused: the emulator would run
the request as the caller, not as the user named, and the rows would carry the wrong owner.
"""

from __future__ import annotations

import httpx

from crm_ferry.emulator.layers import api_path
from crm_ferry.emulator.records.context import parse_prefer, well_formed_prefer
from crm_ferry.emulator.validation import NOT_IMPLEMENTED, Fault

PREFERENCES = frozenset(
    {"return", "odata.include-annotations", "odata.maxpagesize", "odata.continue-on-error"}
)
"""``Prefer`` preferences the emulator acts on."""

_BYPASS_STEPS = frozenset({"customsync", "customasync"})

_REFUSED_HEADERS = {
    "callerobjectid": "Impersonation (CallerObjectId)",
    "mscrm.callerid": "Impersonation (MSCRM.CallerID)",
}


def not_implemented(feature: str) -> Fault:
    """The 501 for ``feature`` (a phrase naming what was asked for)."""
    return Fault(501, NOT_IMPLEMENTED, f"{feature} is not implemented by the emulator.")


def refuse_unimplemented(request: httpx.Request) -> None:
    """Raise the 501 :class:`Fault` for the first header or preference of ``request`` that
    the emulator would otherwise ignore (see the module docstring for what it honours)."""
    for name, value in request.headers.multi_items():
        low = name.lower()
        refused = _REFUSED_HEADERS.get(low)
        if refused is not None:
            raise not_implemented(refused)
        if low == "prefer":
            _check_preferences(value)
        elif low == "consistency":
            if value.strip().lower() != "strong":
                raise Fault(
                    400,
                    "0x80040203",
                    f"Invalid value '{value}' for the Consistency header; the only value is "
                    "'Strong'.",
                )
        elif low == "mscrm.mergelabels":
            _check_merge_labels(request)
        elif low.startswith("mscrm."):
            _check_mscrm(name, low, value)


_DEFINITIONS = ("EntityDefinitions", "GlobalOptionSetDefinitions", "RelationshipDefinitions")


def _check_merge_labels(request: httpx.Request) -> None:
    """``MSCRM.MergeLabels`` is read by the update (``PUT``) of a definition."""
    split = api_path(request.url.path)
    rest = split[1] if split is not None else ""
    if request.method.upper() != "PUT" or not rest.startswith(_DEFINITIONS):
        raise not_implemented(
            f"MSCRM.MergeLabels on {request.method.upper()} {rest or request.url.path} (it is "
            "read by a PUT of a definition)"
        )


def _check_preferences(header: str) -> None:
    if not well_formed_prefer(header):
        raise Fault(400, "0x80040203", f"The Prefer header '{header}' is not well formed.")
    for name, value in parse_prefer(header).items():
        if ";" in value:
            raise not_implemented(f"Parameters of the preference 'Prefer: {name}' ({value})")
        if name == "odata.maxpagesize" and not (value.isdigit() and int(value) > 0):
            raise Fault(
                400,
                "0x80040203",
                f"Invalid value '{value}' for the preference 'odata.maxpagesize'; it takes a "
                "positive whole number of rows.",
            )
        if name == "odata.track-changes":
            raise not_implemented("Change tracking (Prefer: odata.track-changes)")
        if name not in PREFERENCES:
            raise not_implemented(f"The preference 'Prefer: {name}'")
        if name == "return" and value not in ("representation", "minimal"):
            raise Fault(
                400,
                "0x80040203",
                f"Invalid value '{value}' for the preference 'return'; use 'representation' "
                "or 'minimal'.",
            )


def _check_mscrm(name: str, low: str, value: str) -> None:
    flag = value.strip().lower()
    if low == "mscrm.solutionuniquename":
        return
    if low == "mscrm.bypassbusinesslogicexecution":
        steps = {s.strip().lower() for s in value.split(",") if s.strip()}
        if not steps or not steps <= _BYPASS_STEPS:
            raise not_implemented(f"{name}: {value} (only CustomSync and CustomAsync are)")
        return
    if low == "mscrm.bypasscustompluginexecution" and flag == "true":
        return
    if low == "mscrm.suppressduplicatedetection":
        if flag == "true":
            return
        if flag == "false":
            raise not_implemented("Duplicate detection (MSCRM.SuppressDuplicateDetection: false)")
    raise not_implemented(f"The request header {name}: {value}")


__all__ = ["PREFERENCES", "not_implemented", "refuse_unimplemented"]
