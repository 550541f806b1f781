"""Write the references folder: rebuild guides, the template reference and the dictionary.

The folder holds what the practice configured (integration settings, template bodies), so
it is written owner-only (folders 0700, files 0600) like a run folder; credential-looking
fields of the export are redacted and listed (:mod:`~crm_ferry.references.credentials`);
the dictionary's CSV cells are neutralised against formula injection
(:func:`~crm_ferry.owner_only.csv_text`)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, TypeVar

import jinja2

from crm_ferry.mapping.spec import MappingSpec
from crm_ferry.model import Automation, EmailTemplate, Integration, Record, Reject, Report
from crm_ferry.owner_only import FILE_MODE, csv_text, make_private_dirs, write_atomic
from crm_ferry.references.credentials import redact
from crm_ferry.references.dictionary import DICTIONARY_COLUMNS, DictionaryRow, data_dictionary
from crm_ferry.references.guides import (
    MapContext,
    automation_guide,
    integration_guide,
    plain_step,
    report_guide,
)
from crm_ferry.references.htmltext import html_to_text
from crm_ferry.sources.bundle import Bundle

REFERENCES_DIR: Final = "references"
_PLACEHOLDER = re.compile(r"\{\{\s*([^{}]+?)\s*\}\}")

R = TypeVar("R", bound=Record)


@dataclass(frozen=True, slots=True)
class ReferencesResult:
    out_dir: Path
    automations: int
    templates: int
    integrations: int
    reports: int
    dictionary_rows: int
    review: int
    """Automations, integrations and reports that need a person's decision."""
    files: tuple[Path, ...] = ()
    rejected: dict[str, int] = field(default_factory=dict)
    """Rows of each object the bundle reader could not accept (not in the references)."""
    redacted: dict[str, int] = field(default_factory=dict)
    """Credential-looking fields replaced by ``[redacted]``, per guide (``integrations``);
    the guide's JSON and Markdown list each one's record and field path."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "out_dir": str(self.out_dir),
            "automations": self.automations,
            "templates": self.templates,
            "integrations": self.integrations,
            "reports": self.reports,
            "dictionary_rows": self.dictionary_rows,
            "review": self.review,
            "files": [str(p) for p in self.files],
            "rejected": dict(self.rejected),
            "redacted": dict(self.redacted),
        }


def _read(bundle: Bundle, obj: str, cls: type[R], rejected: dict[str, int]) -> list[R]:
    if obj not in bundle.objects:
        return []
    out: list[R] = []
    for item in bundle.read(obj):
        if isinstance(item, Reject):
            rejected[obj] = rejected.get(obj, 0) + 1
        elif isinstance(item, cls):
            out.append(item)
    return out


def _md(value: Any) -> str:
    """Text safe inside a Markdown table cell."""
    if value is None or isinstance(value, jinja2.Undefined):
        return ""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\r", "").replace("\n", "<br>")


def _params(value: Any) -> str:
    if isinstance(value, Mapping):
        return ", ".join(
            f"{k}: {v if isinstance(v, str) else json.dumps(v, ensure_ascii=False)}"
            for k, v in value.items()
        )
    return "" if value is None else str(value)


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("crm_ferry.references", "templates"),
        autoescape=False,  # Markdown, not HTML
        undefined=jinja2.Undefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["md"] = _md
    env.filters["params"] = _params
    return env


def _write(path: Path, text: str) -> Path:
    # the guides hold the practice's settings and templates: owner-only, written atomically
    return write_atomic(path, text, mode=FILE_MODE)


def _json(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, default=str) + "\n"


def template_entry(template: EmailTemplate) -> dict[str, Any]:
    subject = template.subject or ""
    body = template.body_html or ""
    placeholders: list[str] = []
    for text in (subject, body):
        for name in _PLACEHOLDER.findall(text):
            if name not in placeholders:
                placeholders.append(name)
    return {
        "id": template.id,
        "name": template.name,
        "subject": html_to_text(subject) if "&" in subject else subject,
        "body_text": html_to_text(body),
        "body_html": body,
        "placeholders": placeholders,
    }


def _dictionary_csv(rows: list[DictionaryRow]) -> str:
    table: list[list[Any]] = [list(DICTIONARY_COLUMNS)]
    for r in rows:
        d = r.as_dict()
        d["values"] = r.values_text()
        table.append([d[c] for c in DICTIONARY_COLUMNS])
    return csv_text(table)


def _redacted(items: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, str]]]:
    """The guide's entries with credential-looking fields redacted, and where they were."""
    clean: list[dict[str, Any]] = []
    where: list[dict[str, str]] = []
    for item in items:
        safe, paths = redact(item)
        clean.append(safe)
        where.extend({"id": str(item.get("id")), "field": p} for p in paths)
    return clean, where


def _redacted_md(where: list[dict[str, str]]) -> str:
    n = len(where)
    lines = [
        "",
        "## Redacted",
        "",
        f"{n} credential-looking field{' was' if n == 1 else 's were'} redacted: the export "
        "held them, this guide does not. Set the replacement up with new credentials "
        "(and revoke the old ones if the export was shared).",
        "",
        *(f"- `{w['id']}` {w['field']}" for w in where),
        "",
    ]
    return "\n".join(lines)


def write_references(bundle: Bundle, spec: MappingSpec, out_dir: Path) -> ReferencesResult:
    """Write the rebuild guides, the template reference and the data dictionary to ``out_dir``.

    Files: ``automations.{json,md}``, ``email_templates.{json,md}``,
    ``integrations.{json,md}``, ``reports.{json,md}``, ``data_dictionary.{csv,json,md}``.
    The map need not be confirmed: the guides describe what it says now.
    """
    out_dir = make_private_dirs(Path(out_dir))
    ctx = MapContext(spec)
    env = _environment()
    rejected: dict[str, int] = {}
    automations = _read(bundle, "automations", Automation, rejected)
    templates = _read(bundle, "email_templates", EmailTemplate, rejected)
    integrations = _read(bundle, "integrations", Integration, rejected)
    reports = _read(bundle, "reports", Report, rejected)
    by_id = {t.id: t for t in templates}

    note = f"Written by crm-ferry from the export at {bundle_name(bundle)}; map status: " + (
        spec.status
    )
    auto_items = [automation_guide(a, ctx, by_id) for a in automations]
    tpl_items = [template_entry(t) for t in templates]
    int_items = [integration_guide(i, ctx) for i in integrations]
    rep_items = [report_guide(r, ctx) for r in reports]
    dictionary = data_dictionary(spec)

    files: list[Path] = []
    redacted: dict[str, int] = {}

    def emit(stem: str, items: list[dict[str, Any]], key: str) -> None:
        items, where = _redacted(items)
        listing = {"count": len(where), "fields": where}
        doc = {"note": note, key: items, "redacted": listing}
        files.append(_write(out_dir / f"{stem}.json", _json(doc)))
        md = env.get_template(f"{stem}.md.j2").render(items=items, title_note=note)
        if where:
            redacted[stem] = len(where)
            md = md.rstrip("\n") + "\n" + _redacted_md(where)
        files.append(_write(out_dir / f"{stem}.md", md))

    emit("automations", auto_items, "automations")
    emit("email_templates", tpl_items, "email_templates")
    emit("integrations", int_items, "integrations")
    emit("reports", rep_items, "reports")
    rows_plain = [r.as_dict() for r in dictionary]
    files.append(_write(out_dir / "data_dictionary.csv", _dictionary_csv(dictionary)))
    files.append(
        _write(out_dir / "data_dictionary.json", _json({"note": note, "columns": rows_plain}))
    )
    md = env.get_template("data_dictionary.md.j2").render(rows=dictionary, title_note=note)
    files.append(_write(out_dir / "data_dictionary.md", md))

    needs_review: list[Callable[[dict[str, Any]], bool]] = [
        lambda a: bool(a["rebuild"]["review"]),
        lambda i: bool(i["review"]),
        lambda r: bool(r["review"]),
    ]
    review = sum(
        1
        for check, items in zip(needs_review, (auto_items, int_items, rep_items), strict=True)
        for item in items
        if check(item)
    )
    return ReferencesResult(
        out_dir=out_dir,
        automations=len(auto_items),
        templates=len(tpl_items),
        integrations=len(int_items),
        reports=len(rep_items),
        dictionary_rows=len(dictionary),
        review=review,
        files=tuple(files),
        rejected=rejected,
        redacted=redacted,
    )


def bundle_name(bundle: Bundle) -> str:
    path = getattr(bundle, "path", None)
    return str(path) if path is not None else "(bundle)"


__all__ = ["REFERENCES_DIR", "ReferencesResult", "plain_step", "write_references"]
