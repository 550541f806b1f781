"""Verify's view of the linked files: each is in the tenant the way ``documents.linked`` says.

A linked file (no path in the bundle, :mod:`crm_ferry.sources.downloads`) that is matched to
the downloads folder is expected as a note carrying it (``isdocument``); one that is not,
under ``documents.linked: link``, as a note holding its URL (or name); under ``skip``, as
nothing: the run counted it skipped; under ``fail``, a load refuses to start, so a note is
expected only if an earlier run wrote one. :func:`linked_checks` gives one check per linked
file against the rows crm-ferry wrote (what the tenant holds is compared with those rows by
the rest of the proof), and the counts verify shows under ``linked files``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Final

from crm_ferry.mapping.spec import LinkedPolicy
from crm_ferry.reconcile.classify import CheckRow
from crm_ferry.reconcile.verify import ExpectedRow
from crm_ferry.sources.downloads import LinkedMatch
from crm_ferry.transform.roles.notes import LINK_TEXT

__all__ = ["CHECK", "linked_checks"]

CHECK: Final = "linked file is in the tenant as documents.linked says"
COLUMN: Final = "(linked file)"


def linked_checks(
    matches: Mapping[str, LinkedMatch],
    policy: LinkedPolicy,
    expected: Iterable[ExpectedRow],
    table: str,
) -> tuple[list[CheckRow], dict[str, int]]:
    """One check per linked file of ``matches`` against the ``expected`` rows (those of the
    ``attachment`` role, in ``table``), and the counts: linked, matched, loaded as
    documents, missing or ambiguous, noted with their URL, skipped, not as expected."""
    notes = {
        r.source_id: r
        for r in expected
        if r.role == "attachment" and r.source_object == "files" and r.table == table
    }
    counts = dict.fromkeys(
        (
            "linked files",
            "matched to a download",
            "loaded as documents",
            "missing or ambiguous",
            "noted with their URL",
            "skipped",
            "not as documents.linked says",
        ),
        0,
    )
    checks: list[CheckRow] = []
    for m in matches.values():
        counts["linked files"] += 1
        row = notes.get(m.file.id)
        document = row is not None and row.payload.get("isdocument") is True
        link = row is not None and str(row.payload.get("notetext") or "").startswith(LINK_TEXT)
        counts["loaded as documents"] += document
        counts["noted with their URL"] += link
        problem = _problem(m, policy, row, document, link)
        if m.matched:
            counts["matched to a download"] += 1
        else:
            counts["missing or ambiguous"] += 1
            counts["skipped"] += policy == "skip" and row is None
        counts["not as documents.linked says"] += problem is not None
        checks.append(
            CheckRow(
                CHECK,
                table,
                row.row_id if row is not None else f"files/{m.file.id}",
                problem is None,
                problem or _fine(m, policy, document, link),
                column=COLUMN,
            )
        )
    return checks, counts


def _problem(
    m: LinkedMatch, policy: LinkedPolicy, row: ExpectedRow | None, document: bool, link: bool
) -> str | None:
    """Why the rows of linked file ``m`` are not what its policy expects (None: they are)."""
    if m.matched:
        if document:
            return None
        had = "no note was written" if row is None else "its note holds no document"
        return (
            f"{m.file.id} is in the downloads folder ({m.path}) but {had}: it was downloaded "
            "after the load; run `crm-ferry migrate` (or delta) again"
        )
    if policy == "link" and not (link or document):
        return (
            f"{m.file.id} is not in the downloads folder ({m.reason}) and no note holds its "
            "URL (documents.linked: link); run `crm-ferry migrate` again"
        )
    if policy == "fail" and row is None:
        return (
            f"{m.file.id} is not in the downloads folder ({m.reason}) and documents.linked is "
            "fail: download it, then run `crm-ferry migrate` again"
        )
    return None


def _fine(m: LinkedMatch, policy: LinkedPolicy, document: bool, link: bool) -> str:
    if document:
        return f"{m.file.id}: a note carrying {m.path or 'its file'}"
    if link:
        return f"{m.file.id}: a note holding its URL (documents.linked: {policy})"
    return f"{m.file.id}: skipped ({m.reason})"
