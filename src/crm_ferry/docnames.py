"""File and folder names SharePoint takes: :func:`safe_name` makes one from any text.

The rules are Microsoft's "Restrictions and limitations in OneDrive and SharePoint"
(https://support.microsoft.com/office/restrictions-and-limitations-in-onedrive-and-sharepoint-64883a5d-228e-48f5-b3d2-eb39e07630fa):
no ``" * : < > ? / \\ |``, no leading or trailing space, not ``.lock``, ``CON``, ``PRN``,
``AUX``, ``NUL``, ``COM0``–``COM9``, ``LPT0``–``LPT9`` or ``desktop.ini``, no ``_vti_``, not
starting with ``~$`` (nor, for a folder, with ``~``), and no folder ``forms`` at the root
of a library. The helper is stricter than the service where being so costs nothing: it
also replaces control characters, treats ``CON.txt`` like ``CON``, drops the periods that
end a folder name ("Folder names can't end with a period",
https://learn.microsoft.com/onedrive/developer/rest-api/concepts/addressing-driveitems)
and replaces a ``~`` that starts any name. It is idempotent: a safe name stays as it is.
"""

from __future__ import annotations

import re

FORBIDDEN = '"*:<>?/\\|'
_UNSAFE = re.compile("[" + re.escape(FORBIDDEN) + "\x00-\x1f\x7f]")
_VTI = re.compile("_vti_", re.IGNORECASE)
_DEVICES = frozenset(
    {"con", "prn", "aux", "nul"} | {f"com{n}" for n in range(10)} | {f"lpt{n}" for n in range(10)}
)
_RESERVED = frozenset({".lock", "desktop.ini"})


def safe_name(
    text: str,
    *,
    folder: bool = False,
    at_root: bool = False,
    replacement: str = "_",
    max_length: int | None = None,
) -> str:
    """``text`` as a name SharePoint takes for a file (or a ``folder``, ``at_root`` of its
    library): each character it refuses becomes ``replacement``; a reserved name gets an
    ``_``; ``max_length`` (if given) shortens the name, keeping a file's extension."""
    if _UNSAFE.search(replacement) or not replacement.strip():
        raise ValueError(f"the replacement {replacement!r} is not allowed in a name itself")
    name = _rules(text, replacement, folder=folder, at_root=at_root)
    if max_length is not None and len(name) > max_length:
        if max_length < 3:
            raise ValueError(f"max_length {max_length} leaves no room for a name")
        # one character spare: the rules may add an "_" to what the shortening leaves
        shorter = _shorten(name, max_length - 1, folder=folder)
        name = _rules(shorter, replacement, folder=folder, at_root=at_root)
    return name


def _rules(text: str, replacement: str, *, folder: bool, at_root: bool) -> str:
    name = _UNSAFE.sub(replacement, text).strip(" ")
    if folder:
        name = name.rstrip(". ")
    if name.startswith("~"):
        name = "_" + name[1:]
    while _VTI.search(name):
        name = _VTI.sub("-vti-", name)
    lowered = name.lower()
    if lowered in _RESERVED:
        name = "_" + name
    elif lowered.split(".", 1)[0] in _DEVICES:
        stem, dot, rest = name.partition(".")
        name = f"{stem}_{dot}{rest}"
    if folder and at_root and name.lower() == "forms":
        name += "_"
    return name or "_"


def _shorten(name: str, limit: int, *, folder: bool) -> str:
    stem, dot, ext = name.rpartition(".")
    if folder or not dot or not stem or len(ext) + 2 > limit:
        return name[:limit].rstrip(" .") or "_"
    return stem[: limit - len(ext) - 1].rstrip(" ") + "." + ext
