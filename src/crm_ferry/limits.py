"""Dataverse's document limits, as the source report and the transform both speak of them.

``organization.maxuploadfilesize`` is measured on the Base64 text of a document: 5,242,880
by default, 131,072,000 (128 MB) at most; ``organization.blockedattachments`` lists the file
types refused. ("Use file data with Attachment and Note records",
https://learn.microsoft.com/power-apps/developer/data-platform/attachment-annotation-files;
"System Settings dialog box - Email tab", blocked file extensions.)
"""

from __future__ import annotations

__all__ = [
    "DEFAULT_BLOCKED_EXTENSIONS",
    "DEFAULT_MAX_UPLOAD",
    "LARGEST_MAX_UPLOAD",
    "base64_size",
    "extension",
]

DEFAULT_MAX_UPLOAD = 5_242_880
"""Dataverse's default ``maxuploadfilesize`` (5 MB, measured on the Base64 text)."""

LARGEST_MAX_UPLOAD = 131_072_000
"""The largest ``maxuploadfilesize`` an organization may have (128 MB of Base64 text)."""

_BLOCKED = (
    "ade adp app asa ashx asmx asp bas bat cdx cer chm class cmd com config cpl crt csh dll "
    "exe fxp hlp hta htr htw ida idc idq inf ins isp its jar js jse ksh lnk mad maf mag mam "
    "maq mar mas mat mau mav maw mda mdb mde mdt mdw mdz msc msh msh1 msh1xml msh2 msh2xml "
    "mshxml msi msp mst ops pcd pif prf prg printer pst reg rem scf scr sct shb shs shtm "
    "shtml soap stm tmp url vb vbe vbs vsmacros vss vst vsw ws wsc wsf wsh svg"
)
DEFAULT_BLOCKED_EXTENSIONS: frozenset[str] = frozenset(_BLOCKED.split(" "))
"""The platform's default ``blockedattachments`` list, used when the tenant gives none."""


def base64_size(size: int) -> int:
    """The length of the Base64 text of ``size`` bytes (what the upload limit measures)."""
    return 4 * -(-size // 3)


def extension(filename: str) -> str:
    """The file type of ``filename`` as ``blockedattachments`` lists it (lower case, no dot)."""
    return filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
