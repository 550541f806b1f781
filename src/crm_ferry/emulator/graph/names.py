"""The names SharePoint refuses for files and folders, and its path length limit.

From Microsoft's "Restrictions and limitations in OneDrive and SharePoint"
(https://support.microsoft.com/office/restrictions-and-limitations-in-onedrive-and-sharepoint-64883a5d-228e-48f5-b3d2-eb39e07630fa):

- the characters ``" * : < > ? / \\ |`` anywhere in a file or folder name, and leading or
  trailing spaces;
- the names ``.lock``, ``CON``, ``PRN``, ``AUX``, ``NUL``, ``COM0``–``COM9``,
  ``LPT0``–``LPT9`` and ``desktop.ini`` (compared without case); ``_vti_`` anywhere in a
  name; a name starting with ``~$``;
- ``forms`` as a folder at the root of a library; a folder name starting with ``~``;
- "The entire decoded file path, including the file name, can't contain more than 400
  characters": counted here as the server-relative path without its leading slash
  (``sites/crm/Shared Documents/<folders>/<name>``). UNCERTAIN: which part of the URL the
  service counts is not spelled out; this is the decoded path of the item on its site.

The page was read through quotations of it (the support page itself is not in the
reference corpus); each rule above appears in more than one of them.
"""

from __future__ import annotations

import re

FORBIDDEN_CHARACTERS = frozenset('"*:<>?/\\|')
RESERVED_NAMES = frozenset(
    {".lock", "con", "prn", "aux", "nul", "desktop.ini"}
    | {f"com{n}" for n in range(10)}
    | {f"lpt{n}" for n in range(10)}
)
MAX_PATH_LENGTH = 400

_FORBIDDEN = re.compile("[" + re.escape("".join(sorted(FORBIDDEN_CHARACTERS))) + "]")


def name_problem(name: str, *, folder: bool = False, at_root: bool = False) -> str | None:
    """Why SharePoint refuses ``name`` for a file (or a ``folder``, ``at_root`` of its
    library), or None when it takes it."""
    if not name:
        return "the name is empty"
    found = _FORBIDDEN.search(name)
    if found:
        return f"the name contains the character {found.group()!r}, which SharePoint does not allow"
    if name != name.strip(" "):
        return "the name starts or ends with a space"
    lowered = name.lower()
    if lowered in RESERVED_NAMES:
        return f"{name!r} is a name SharePoint reserves"
    if "_vti_" in lowered:
        return "the name contains '_vti_', which SharePoint reserves"
    if name.startswith("~$"):
        return "the name starts with '~$'"
    if folder and name.startswith("~"):
        return "a folder name starts with '~'"
    if folder and at_root and lowered == "forms":
        return "'forms' is not allowed as a folder at the root of a library"
    return None


def path_problem(server_relative: str) -> str | None:
    """Why a decoded server-relative path is too long, or None."""
    length = len(server_relative.strip("/"))
    if length > MAX_PATH_LENGTH:
        return (
            f"the path of the item is {length} characters long; SharePoint allows {MAX_PATH_LENGTH}"
        )
    return None
