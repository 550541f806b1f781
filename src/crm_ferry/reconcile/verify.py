"""Proof after a load: rows read back from Dataverse and compared with what was written.

What was written is the journal's id map (the last payload of every row, state changes
included); what is there is read through the Web API, table by table, in pages. From the
two come:

- **field-level diffs** (:func:`crm_ferry.reconcile.diff.compare_row`): for every row (or
  a random ``N``), each column's source value, expected value and actual value;
- **counts** per table: rows written vs rows found;
- **sums**: invoice totals (Dataverse computes them from the lines and their tax) against
  the source totals and the sum of the source lines plus the invoice's tax, and payments;
- **orphan lookups**: a lookup in a written row that points to no row;
- **duplicates**: two rows of one table holding the same source id (``new_practiceid``);
- **timestamps**: ``createdon`` of notes, activities and the rest equals the source's
  original time;
- **payments**: the payments of an invoice do not add up to more than its total.

Every failed check and every field that does not match is a classified
:class:`~crm_ferry.reconcile.classify.Difference` (:meth:`Proof.difference_list`). Sums are
numbers (:class:`~decimal.Decimal` here, JSON numbers in :meth:`Proof.as_dict`).

The sample uses the same machinery, limited to the rows of its run.
"""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

from crm_ferry.dataverse.client import DataverseClient
from crm_ferry.dataverse.errors import DataverseError
from crm_ferry.dataverse.metadata import ColumnInfo
from crm_ferry.journal import Journal, RunInfo
from crm_ferry.mapping.spec import MappingSpec
from crm_ferry.model import ClientProperty, Invoice, InvoiceItem, Payment, Record, Reject
from crm_ferry.progress import NO_PROGRESS, Progress
from crm_ferry.reconcile.classify import (
    MIGRATION,
    SOURCE_DEFECT,
    CheckRow,
    Difference,
    reject_reason,
)
from crm_ferry.reconcile.diff import CHOICE_TYPES, DiffRow, compare_row, count_verdicts
from crm_ferry.reconcile.documents import (
    DOCUMENT_COLUMNS,
    Document,
    FileReader,
    check_documents,
    check_files,
    select_without_document,
    take_document,
)
from crm_ferry.reconcile.source_values import (
    add_property,
    implied_values,
    shown_values,
    with_properties,
)
from crm_ferry.sources.bundle import Bundle
from crm_ferry.transform.roles.sharepoint import FILE_TABLE

ID_CHUNK = 50
SUM_OBJECTS = ("invoices", "invoice_items", "payments")
"""Objects every proof reads whole: invoice and payment totals are summed over all of them."""


@dataclass(frozen=True, slots=True)
class ExpectedRow:
    table: str
    row_id: str
    role: str
    source_object: str
    source_id: str
    payload: dict[str, Any]
    document: Document | None = None
    """The note's document as sent (not in :attr:`payload`: it is read back apart)."""


Number = int | Decimal
"""A count, or an amount (a Decimal); :func:`number` makes either a JSON number."""


def number(value: Number) -> int | float:
    """A count as an int, an amount as a float (JSON numbers both)."""
    return float(value) if isinstance(value, Decimal) else value


@dataclass
class Proof:
    rows: list[DiffRow] = field(default_factory=list)
    checks: list[CheckRow] = field(default_factory=list)
    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    sums: dict[str, dict[str, Number]] = field(default_factory=dict)
    """``invoices``, ``payments`` (source vs Dataverse) and ``lookups`` (checked, orphans)."""
    choices: dict[str, dict[str, dict[int, str]]] = field(default_factory=dict)
    """Table → choice column → option value → label, from the tenant's metadata."""

    @property
    def verdicts(self) -> dict[str, int]:
        out: dict[str, int] = defaultdict(int)
        for r in self.rows:
            out[r.verdict] += 1
        return dict(out)

    def difference_list(self) -> list[Difference]:
        """Every difference, classified, once each (by id): fields that do not match, failed
        checks, tables where fewer or more rows were found than written."""
        found: dict[str, Difference] = {}

        def add(d: Difference) -> None:
            seen = found.get(d.id)
            if seen is None:
                found[d.id] = d
            elif d.detail and d.detail not in seen.detail:
                found[d.id] = replace(seen, detail=f"{seen.detail}; {d.detail}".strip("; "))

        for table, c in sorted(self.counts.items()):
            if c["written"] != c["found"]:
                add(
                    Difference.make(
                        MIGRATION,
                        table,
                        "*",
                        "(rows)",
                        "rows found = rows written",
                        f"{c['written']} written, {c['found']} found",
                    )
                )
        for r in self.rows:
            if r.verdict != "match":
                add(Difference.of_row(r))
        for check in self.checks:
            if not check.passed:
                add(Difference.of_check(check))
        return list(found.values())

    @property
    def differences(self) -> int:
        return len(self.difference_list())

    def summary(self) -> dict[str, Any]:
        return {
            "fields compared": len(self.rows),
            **{f"fields {k}": v for k, v in sorted(self.verdicts.items())},
            "checks": len(self.checks),
            "checks failed": sum(1 for c in self.checks if not c.passed),
            "differences": self.differences,
        }

    def plain_sums(self) -> dict[str, dict[str, int | float]]:
        return {k: {n: number(v) for n, v in per.items()} for k, per in self.sums.items()}

    def as_dict(self) -> dict[str, Any]:
        return {
            "summary": self.summary(),
            "counts": self.counts,
            "sums": self.plain_sums(),
            "verdicts_by_table": count_verdicts(self.rows),
            "failed_checks": [c.as_dict() for c in self.checks if not c.passed][:200],
        }


def expected_rows(journal: Journal, *, run_id: str | None = None) -> list[ExpectedRow]:
    """The rows as crm-ferry last wrote them (every run, or the rows one run wrote)."""
    merged: dict[tuple[str, str], ExpectedRow] = {}
    for entry in journal.idmap(run_id=run_id):
        if entry.kind in ("action", "file") or entry.payload is None:
            continue  # a file put in SharePoint is read back apart (check_files)
        tbl, row_id, role = entry.table, entry.row_id, entry.role
        sobj, sid, data = entry.source_object, entry.source_id, entry.payload
        key = (tbl, row_id)
        row = merged.get(key)
        if row is None:
            row = merged[key] = ExpectedRow(tbl, row_id, role, sobj, sid, {})
        if entry.op_key.endswith("/upsert/0"):
            merged[key] = ExpectedRow(tbl, row_id, role, sobj, sid, {**row.payload, **data})
        else:
            row.payload.update(data)
    out = []
    for row in merged.values():
        document = take_document(row.table, row.payload)
        for k in [k for k, v in row.payload.items() if isinstance(v, list | dict)]:
            del row.payload[k]  # collections (activity parties) are checked apart
        out.append(replace(row, document=document) if document is not None else row)
    return out


def map_sources(spec: MappingSpec) -> set[str]:
    """The source objects the map reads (long-form properties go into their clients)."""
    out = {t.source for t in spec.targets.values() if t.enabled}
    if "clients" in out:
        out.add(PROPERTIES)
    return out


def source_records(
    bundle: Bundle,
    spec: MappingSpec,
    keys: set[tuple[str, str]] | None,
    accepted: dict[str, set[str]] | None = None,
    rejected: list[Reject] | None = None,
) -> dict[tuple[str, str], Record]:
    """Source records by (object, id): those in ``keys`` and every invoice, line and payment.

    With ``accepted``, the same pass also collects the ids of every record the reader
    accepted, per object the map reads (what verify counts); with ``rejected``, every row
    the reader rejected, of every object the map reads.

    A client comes with its long-form custom properties (``client_properties``) merged in,
    as the load merged them (:func:`~crm_ferry.reconcile.source_values.with_properties`):
    the diff's source values are the ones the transform read."""
    sources = map_sources(spec) if accepted is not None or rejected is not None else set()
    out: dict[tuple[str, str], Record] = {}
    wanted = {obj for obj, _ in keys} if keys is not None else set(bundle.objects)
    if "clients" in wanted:
        wanted.add(PROPERTIES)
    props: dict[str, dict[str, str]] = {}
    # the properties first: each client is merged with its own as it is read
    for obj in sorted(bundle.objects, key=lambda o: o != PROPERTIES):
        if obj not in wanted and obj not in SUM_OBJECTS and obj not in sources:
            continue
        ids = accepted.setdefault(obj, set()) if accepted is not None and obj in sources else None
        for item in bundle.read(obj):
            if not isinstance(item, Record):
                if rejected is not None and isinstance(item, Reject) and obj in sources:
                    rejected.append(item)
                continue
            if ids is not None:
                ids.add(item.id)
            if isinstance(item, ClientProperty):
                add_property(props, item)
            item = with_properties(item, props)
            k = (obj, item.id)
            if keys is None or obj in SUM_OBJECTS or k in keys:
                out[k] = item
    return out


PROPERTIES = "client_properties"
"""Long-form custom properties: loaded with (into) their client, rejected with it."""
LOAD_KINDS = ("migrate", "delta", "sample")
"""The kinds of runs that write records."""


@dataclass(frozen=True, slots=True)
class ObjectTally:
    """One source object: records in the source, loaded, rejected (with the reasons), and
    skipped by the run (a sample's unsampled records, properties of a missing client)."""

    source: int
    loaded: int
    rejected: int
    skipped: int = 0
    reasons: Mapping[str, int] = field(default_factory=dict)

    @property
    def balanced(self) -> bool:
        return self.source == self.loaded + self.rejected + self.skipped

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "loaded": self.loaded,
            "rejected": self.rejected,
            "skipped": self.skipped,
            "reasons": dict(self.reasons),
        }


def tally_objects(
    chosen: Mapping[str, set[str] | frozenset[str]],
    loaded: Mapping[str, set[str]],
    rejects: Sequence[Reject],
    *,
    reader: Sequence[Reject] = (),
    skipped: Mapping[str, int] | None = None,
) -> dict[str, ObjectTally]:
    """Per source object: of the ``chosen`` record ids (the records the reader accepted,
    or a sample's), those ``loaded`` (a row in the tenant) and those rejected (``rejects``
    of the run); the ``reader``'s own rejects count as source records rejected.
    ``skipped``: per object, what the run skipped (from its counts)."""
    rejected: dict[str, dict[str, str]] = defaultdict(dict)
    for r in rejects:
        rejected[r.object].setdefault(str(r.source_id or f"line {r.line}"), r.reason)
    by_reader: dict[str, list[Reject]] = defaultdict(list)
    for r in reader:
        by_reader[r.object].append(r)
    clients_loaded = loaded.get("clients", set())
    clients_rejected = set(rejected.get("clients", {}))
    out: dict[str, ObjectTally] = {}
    for obj, ids in sorted(chosen.items()):
        if obj == PROPERTIES:
            owner = {i: i.partition("/")[0] for i in ids}
            done = {i for i in ids if owner[i] in clients_loaded}
            refused = {
                i: rejected[obj].get(i) or f"client {owner[i]!r} was not loaded"
                for i in ids - done
                if i in rejected.get(obj, {}) or owner[i] in clients_rejected
            }
        else:
            done = loaded.get(obj, set()) & ids
            refused = {i: why for i, why in rejected.get(obj, {}).items() if i in ids - done}
        reasons = Counter(reject_reason(why) for why in refused.values())
        reasons.update(reject_reason(r.reason) for r in by_reader.get(obj, ()))
        out[obj] = ObjectTally(
            source=len(ids) + len(by_reader.get(obj, ())),
            loaded=len(done),
            rejected=len(refused) + len(by_reader.get(obj, ())),
            skipped=(skipped or {}).get(obj, 0),
            reasons=dict(reasons.most_common()),
        )
    return out


def balance_checks(tallies: Mapping[str, ObjectTally]) -> list[CheckRow]:
    """A failed check for every object whose records do not add up."""
    return [
        CheckRow(
            "source records = loaded + rejected + skipped",
            obj,
            "*",
            False,
            f"source {t.source}, loaded {t.loaded}, rejected {t.rejected}, skipped {t.skipped}",
            column="(records)",
        )
        for obj, t in tallies.items()
        if not t.balanced
    ]


def covered_runs(journal: Journal) -> list[RunInfo]:
    """The load runs whose rows are in the tenant as crm-ferry last wrote them (the rows a
    verification compares), oldest first; runs rolled back are not among them."""
    holding = set(journal.runs_in_idmap())
    return [
        r
        for r in journal.runs()
        if r.run_id in holding and r.kind in LOAD_KINDS and r.state != "rolled_back"
    ]


def reference_run(runs: Sequence[RunInfo]) -> RunInfo | None:
    """The run whose rejects and skips describe the source: the latest finished full load
    (migrate or delta), else the latest of ``runs``."""
    done = [r for r in runs if r.kind in ("migrate", "delta") and r.state == "done"]
    if done:
        return done[-1]
    return runs[-1] if runs else None


def run_skipped(run: RunInfo | None) -> dict[str, int]:
    """Per source object, the records ``run`` skipped (from the counts it finished with)."""
    objects = (run.counts.get("objects") or {}) if run is not None else {}
    return {
        str(obj): int(c.get("skipped", 0) or 0)
        for obj, c in objects.items()
        if isinstance(c, Mapping)
    }


def environment_name(client: DataverseClient) -> str:
    """The organization's friendly name, if the client may read it; else the URL's host."""
    try:
        org = next(iter(client.query("organization", select=["name"], top=1)), {})
    except DataverseError:
        org = {}
    name = org.get("name")
    return str(name) if name else (urlsplit(client.url).hostname or client.url)


def _choices(columns: Mapping[str, ColumnInfo]) -> dict[str, dict[int, str]]:
    return {
        name: dict(info.options)
        for name, info in columns.items()
        if info.options and (info.type in CHOICE_TYPES or info.type == "MultiSelectPicklist")
    }


def read_rows(
    client: DataverseClient, table: str, ids: Sequence[str], select: Iterable[str] | None = None
) -> dict[str, dict[str, Any]]:
    """Rows of ``table`` by id (lower case), with the annotations the orphan check needs
    (each lookup's target table)."""
    cols = sorted(set(select)) if select else None
    return client.retrieve_many(table, ids, select=cols, annotations=True, chunk=ID_CHUNK)


def prove(
    journal: Journal,
    client: DataverseClient,
    spec: MappingSpec,
    *,
    records: Mapping[tuple[str, str], Record],
    run_id: str | None = None,
    expected: Sequence[ExpectedRow] | None = None,
    diff_keys: set[tuple[str, str]] | None = None,
    server_totals: bool = False,
    progress: Progress = NO_PROGRESS,
    files: FileReader | None = None,
) -> Proof:
    """Compare what was written with what Dataverse holds; see the module docstring.
    ``files`` reads back the files put in SharePoint (each compared by size and SHA-256).

    ``diff_keys`` limits the field-level diff (and the timestamp checks) to those rows;
    counts, sums, orphans, duplicates and documents always cover every row. ``server_totals`` (when
    ``expected`` is every row crm-ferry wrote) adds Dataverse's own sums of the migrated
    invoices and payments. ``progress`` gets a task per table (``verify contact``), its total
    the rows written, advanced per read."""
    proof = Proof()
    if expected is None:
        expected = expected_rows(journal, run_id=run_id)
    by_table: dict[str, list[ExpectedRow]] = defaultdict(list)
    for row in expected:
        by_table[row.table].append(row)
    if diff_keys is None:
        diff_keys = {(r.table, r.row_id) for r in expected}
    found_ids: dict[str, set[str]] = {}
    actual_all: dict[str, dict[str, dict[str, Any]]] = {}
    for table, rows in sorted(by_table.items()):
        columns = client.metadata.columns(table)
        labels = _choices(columns)
        if labels:
            proof.choices[table] = labels
        navigation = {
            r.navigation_property: r.referencing_attribute
            for r in client.metadata.relationships(table)
        }
        task = f"verify {table}"
        progress.start(task, total=len(rows))
        ids = [r.row_id for r in rows]
        actual: dict[str, dict[str, Any]] = {}
        select = None
        if table in DOCUMENT_COLUMNS:  # the documents are read apart, one by one
            select = select_without_document((r.payload for r in rows), columns, navigation)
        for start in range(0, len(ids), ID_CHUNK):
            page = ids[start : start + ID_CHUNK]
            actual.update(read_rows(client, table, page, select))
            progress.advance(task, len(page))  # a request's rows, read and compared below
        progress.finish(task)
        actual_all[table] = actual
        found_ids[table] = set(actual)
        proof.counts[table] = {"written": len(rows), "found": len(actual)}
        for row in rows:
            if (table, row.row_id) not in diff_keys:
                continue
            record = records.get((row.source_object, row.source_id))
            proof.rows.extend(
                compare_row(
                    table,
                    row.payload,
                    actual.get(row.row_id.lower()),
                    columns=columns,
                    source_values=shown_values(spec, row.role, record),
                    navigation=navigation,
                    implied=implied_values(spec, row.role, record, columns),
                    record_id=row.row_id,
                    source_key=f"{row.source_object}/{row.source_id}",
                )
            )
        proof.rows.extend(
            check_documents(
                client,
                table,
                (
                    (r.row_id, f"{r.source_object}/{r.source_id}", r.document)
                    for r in rows
                    if r.document is not None and r.row_id.lower() in actual
                ),
                progress=progress,
            )
        )
    put = [  # a second pass over the id map only when a run put files in SharePoint
        (e.row_id, f"{e.source_object}/{e.source_id}", e.payload)
        for e in (journal.idmap(run_id=run_id) if journal.has_files() else ())
        if e.kind == "file" and e.payload is not None
    ]
    if put:
        checked = check_files(files, put, progress=progress)
        proof.rows.extend(checked)
        found = sum(1 for r in checked if r.verdict != "missing")
        proof.counts[FILE_TABLE] = {"written": len(put), "found": found}
    _orphans(proof, client, actual_all, found_ids)
    _duplicates(proof, actual_all, spec.publisher_prefix)
    _invoice_sums(proof, expected, actual_all, records)
    if server_totals:
        _server_totals(proof, client, spec.publisher_prefix, expected, actual_all)
    _timestamps(
        proof, [r for r in expected if (r.table, r.row_id) in diff_keys], actual_all, records
    )
    return proof


def pick_rows(
    expected: Sequence[ExpectedRow], fields: int | None, seed: int = 1
) -> set[tuple[str, str]]:
    """The rows whose fields are compared: all, or a seeded random ``fields`` of them."""
    rows = list(expected)
    if fields is not None and fields < len(rows):
        rows = random.Random(seed).sample(rows, fields)
    return {(r.table, r.row_id) for r in rows}


def _orphans(
    proof: Proof,
    client: DataverseClient,
    actual_all: Mapping[str, Mapping[str, Mapping[str, Any]]],
    found: dict[str, set[str]],
) -> None:
    """Every lookup value in a written row points to an existing row of its table."""
    unknown: dict[str, set[str]] = defaultdict(set)
    refs: list[tuple[str, str, str, str, str]] = []
    for table, rows in actual_all.items():
        for rid, row in rows.items():
            for key, value in row.items():
                if not (key.startswith("_") and key.endswith("_value")) or not value:
                    continue
                target = row.get(f"{key}@Microsoft.Dynamics.CRM.lookuplogicalname")
                if not target:
                    continue
                refs.append((table, rid, key[1:-6], str(target), str(value).lower()))
                if str(value).lower() not in found.get(str(target), set()):
                    unknown[str(target)].add(str(value).lower())
    unreadable: set[str] = set()
    for target, ids in sorted(unknown.items()):
        try:
            present = read_rows(client, target, sorted(ids))
        except DataverseError as exc:
            # A check that could not run is no pass: the lookups into this table stay
            # unchecked, and that is a failed check of its own.
            unreadable.add(target)
            proof.checks.append(
                CheckRow(
                    "lookup target table readable",
                    target,
                    "*",
                    False,
                    f"unchecked: {len(ids)} looked-up row(s) could not be read ({exc})",
                    column="(lookups)",
                )
            )
            continue
        found.setdefault(target, set()).update(present)
    orphans = 0
    for table, rid, column, target, value in refs:
        if target in unreadable:
            continue
        if value not in found.get(target, set()):
            orphans += 1
            proof.checks.append(
                CheckRow(
                    "lookup points to an existing row",
                    table,
                    rid,
                    False,
                    f"{column} -> {target}({value}) does not exist",
                    column=column,
                )
            )
    unchecked = sum(1 for ref in refs if ref[3] in unreadable)
    proof.sums["lookups"] = {
        "checked": len(refs) - unchecked,
        "orphans": orphans,
        **({"unchecked": unchecked} if unchecked else {}),
    }


def _duplicates(
    proof: Proof, actual_all: Mapping[str, Mapping[str, Mapping[str, Any]]], prefix: str
) -> None:
    column = f"{prefix}_practiceid"
    duplicates = 0
    for table, rows in actual_all.items():
        seen: dict[str, str] = {}
        for rid, row in rows.items():
            sid = row.get(column)
            if not sid:
                continue
            if sid in seen:
                duplicates += 1
                proof.checks.append(
                    CheckRow(
                        "one row per source record",
                        table,
                        rid,
                        False,
                        f"source id {sid} is also in row {seen[sid]}",
                        column=column,
                    )
                )
            seen[str(sid)] = rid
    proof.sums["duplicates"] = {"rows holding a source id another row holds": duplicates}


def _dec(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    return Decimal(str(value)).quantize(Decimal("0.01"))


def _invoice_sums(
    proof: Proof,
    expected: Sequence[ExpectedRow],
    actual_all: Mapping[str, Mapping[str, Mapping[str, Any]]],
    records: Mapping[tuple[str, str], Record],
) -> None:
    items: dict[str, Decimal] = defaultdict(Decimal)
    for (obj, _), item in records.items():
        if obj == "invoice_items" and isinstance(item, InvoiceItem) and item.invoice_id:
            amount = item.amount
            if amount is None and item.quantity is not None and item.unit_price is not None:
                amount = item.quantity * item.unit_price
            items[item.invoice_id] += amount or Decimal(0)
    payments_of: dict[str, Decimal] = defaultdict(Decimal)
    for (obj, _), pay in records.items():
        if obj == "payments" and isinstance(pay, Payment) and pay.invoice_id:
            payments_of[pay.invoice_id] += pay.amount or Decimal(0)
    total_source = Decimal(0)
    total_target = Decimal(0)
    agreeing = 0
    for row in expected:
        if row.table != "invoice" or row.source_object != "invoices":
            continue
        inv = records.get(("invoices", row.source_id))
        actual = actual_all.get("invoice", {}).get(row.row_id.lower())
        if not isinstance(inv, Invoice) or actual is None:
            continue
        rec = inv
        source_total = _dec(rec.total_amount)
        lines = _dec(items.get(rec.id, Decimal(0)))
        tax = _dec(rec.tax) or Decimal("0.00")
        target_total = _dec(actual.get("totalamount"))
        total_source += source_total or Decimal(0)
        total_target += target_total or Decimal(0)
        if lines is not None and source_total == lines + tax:
            agreeing += 1
            proof.checks.append(
                CheckRow(
                    "invoice total = source total",
                    "invoice",
                    row.row_id,
                    target_total == source_total,
                    f"{rec.number}: Dataverse {target_total}, source {source_total}",
                    column="totalamount",
                )
            )
            if "totaltax" in actual:
                target_tax = _dec(actual.get("totaltax")) or Decimal("0.00")
                proof.checks.append(
                    CheckRow(
                        "invoice tax = source tax",
                        "invoice",
                        row.row_id,
                        target_tax == tax,
                        f"{rec.number}: Dataverse {target_tax}, source {tax}",
                        column="totaltax",
                    )
                )
        else:
            proof.checks.append(
                CheckRow(
                    "invoice total = source total",
                    "invoice",
                    row.row_id,
                    False,
                    f"{rec.number}: the source lines sum to {lines} and the tax is {tax}, but "
                    f"the source total is {source_total}; Dataverse computes {target_total} "
                    "from the lines and the tax "
                    "(a difference in the export, reported, not corrected)",
                    column="totalamount",
                    classification=SOURCE_DEFECT,
                )
            )
        paid = _dec(payments_of.get(rec.id))
        if paid is not None and source_total is not None:
            proof.checks.append(
                CheckRow(
                    "payments within the invoice total",
                    "invoice",
                    row.row_id,
                    paid <= source_total,
                    f"{rec.number}: payments {paid}, source total {source_total}"
                    + (
                        " (a difference in the export, reported, not corrected)"
                        if paid > source_total
                        else ""
                    ),
                    column="(payments)",
                    classification=SOURCE_DEFECT,
                )
            )
    loaded_payments = {r.source_id for r in expected if r.source_object == "payments"}
    payments_source = sum(
        (_dec(r.amount) or Decimal(0))
        for (obj, sid), r in records.items()
        if obj == "payments" and isinstance(r, Payment) and sid in loaded_payments
    ) + Decimal(0)
    payment_rows = actual_all.get(_payment_table(expected), {})
    paid_column = _amount_column(payment_rows)
    payments_target = sum(
        (_dec(row.get(paid_column)) or Decimal(0)) for row in payment_rows.values()
    ) + Decimal(0)
    proof.sums["invoices"] = {
        "source total": total_source,
        "Dataverse total": total_target,
        "invoices whose lines agree with their total": agreeing,
    }
    proof.sums["payments"] = {"source": payments_source, "Dataverse": payments_target}


def _server_totals(
    proof: Proof,
    client: DataverseClient,
    prefix: str,
    expected: Sequence[ExpectedRow],
    actual_all: Mapping[str, Mapping[str, Mapping[str, Any]]],
) -> None:
    """Dataverse's own count and sum of every migrated invoice and payment (an ``$apply``
    aggregate over the rows holding a source id, computed by the service, not added up
    here), checked against the rows read: a row outside what crm-ferry wrote (left by an
    earlier run, or written twice) shows as a difference in count or total."""
    column = f"{prefix}_practiceid"
    payments = _payment_table(expected)
    for label, table, amount in (
        ("invoices", "invoice", "totalamount"),
        ("payments", payments, ""),
    ):
        rows = actual_all.get(table)
        if not table or not rows:
            continue
        amount = amount or _amount_column(rows)
        if not amount or column not in client.metadata.columns(table):
            continue
        try:
            (found,) = client.aggregate(
                table,
                {"total": (amount, "sum"), "rows": ("", "count")},
                filter=f"{column} ne null",
            )
        except (DataverseError, ValueError) as exc:
            proof.checks.append(
                CheckRow(
                    f"Dataverse's own {label} total = the {label} read",
                    table,
                    "*",
                    False,
                    f"the service did not compute the total: {exc}; compare the sums of the "
                    "rows read above by hand, or run verify again",
                    column=amount,
                )
            )
            continue
        read = sum((_dec(r.get(amount)) or Decimal(0) for r in rows.values()), Decimal(0))
        total = _dec(found.get("total")) or Decimal(0)
        count = int(found.get("rows") or 0)
        proof.sums[label]["Dataverse total (computed by Dataverse)"] = total
        proof.checks.append(
            CheckRow(
                f"Dataverse's own {label} total = the {label} read",
                table,
                "*",
                total == read and count == len(rows),
                f"Dataverse counts {count} rows holding a source id summing to {total}; "
                f"{len(rows)} rows were read, summing to {read}",
                column=amount,
            )
        )


def _amount_column(rows: Mapping[str, Mapping[str, Any]]) -> str:
    """The column of payment rows that holds the amount (``<prefix>_amount``), or ``""``."""
    return next((k for row in rows.values() for k in row if k.endswith("_amount")), "")


def _payment_table(expected: Sequence[ExpectedRow]) -> str:
    return next((r.table for r in expected if r.role == "payment"), "")


TIMESTAMP_ROLES = frozenset(
    {"note", "activity_call", "activity_email", "activity_meeting", "session", "attachment"}
)


def _timestamps(
    proof: Proof,
    expected: Sequence[ExpectedRow],
    actual_all: Mapping[str, Mapping[str, Mapping[str, Any]]],
    records: Mapping[tuple[str, str], Record],
) -> None:
    for row in expected:
        if row.role not in TIMESTAMP_ROLES:
            continue
        source = records.get((row.source_object, row.source_id))
        actual = actual_all.get(row.table, {}).get(row.row_id.lower())
        original = getattr(source, "created_at", None) or getattr(source, "uploaded_at", None)
        if source is None or actual is None or not isinstance(original, datetime):
            continue
        created = actual.get("createdon")
        try:
            got = datetime.fromisoformat(str(created).replace("Z", "+00:00"))
        except ValueError:
            got = None
        ok = got is not None and int(got.timestamp()) == int(original.timestamp())
        proof.checks.append(
            CheckRow(
                "original time preserved (createdon)",
                row.table,
                row.row_id,
                ok,
                f"source {original.isoformat()}, Dataverse {created}",
                column="createdon",
            )
        )
