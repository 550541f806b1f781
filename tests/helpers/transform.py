"""Helpers of the transform tests: a full map, a generated bundle, a provisioned emulator.

The provisioning here is deliberately small (the real one lives in crm_ferry.provision): it
creates exactly the tables and columns the map's ``create`` blocks describe, so the
end-to-end test can write every operation transform produces.
"""

from __future__ import annotations

import dataclasses
import json
import uuid
from pathlib import Path
from typing import Any

from crm_ferry.dataverse.client import DataverseClient
from crm_ferry.dataverse.metadata import ColumnSpec, column_payload
from crm_ferry.emulator.reference import facts
from crm_ferry.emulator.tenant import SEED_USERS
from crm_ferry.mapping.defaults import FIRST_OPTION_VALUE, default_document
from crm_ferry.mapping.spec import MapDocument, MappingSpec
from crm_ferry.model import Client, ClientProperty, Record, Reject, Session
from crm_ferry.sources.bundle import open_bundle
from crm_ferry.sources.generator import generate_bundle

NAMESPACE = uuid.UUID("0b0e6a4e-5f5c-4a59-9a55-2d3c1f9e7a10")

INDUSTRY_BY_VERTICAL_FALLBACK = 6  # Business Services


@dataclasses.dataclass
class BundleData:
    path: Path
    records: dict[str, list[Record]]
    rejects: list[Reject]
    custom_types: dict[str, str]


def load_bundle(out: Path) -> BundleData:
    result = generate_bundle(out, clients=30, seed=1)
    truth = json.loads(result.ground_truth.read_text()) if result.ground_truth else {}
    records: dict[str, list[Record]] = {}
    rejects: list[Reject] = []
    with open_bundle(out) as bundle:
        for obj in bundle.objects:
            for item in bundle.read(obj):
                if isinstance(item, Reject):
                    rejects.append(item)
                else:
                    records.setdefault(obj, []).append(item)
    # the engine's job: long-form custom properties merged into Client.custom
    props: dict[str, dict[str, str]] = {}
    for p in records.get("client_properties", []):
        assert isinstance(p, ClientProperty)
        if p.value is not None:
            props.setdefault(p.client_id, {})[p.key_name] = p.value
    merged: list[Record] = []
    for c in records.get("clients", []):
        assert isinstance(c, Client)
        extra = props.get(c.id, {})
        merged.append(dataclasses.replace(c, custom={**c.custom, **extra}) if extra else c)
    records["clients"] = merged
    return BundleData(out, records, rejects, dict(truth.get("custom_properties", {})))


def read_attachment_for(path: Path) -> Any:
    def read(relpath: str) -> bytes:
        with open_bundle(path) as bundle, bundle.open_attachment(relpath) as fh:
            return fh.read()

    return read


# ---------------------------------------------------------------------------------------
# The map


def custom_column(key: str) -> str:
    return "new_" + key.replace("_", "")


def full_document(data: BundleData, users: dict[str, str]) -> dict[str, Any]:
    """The default map, completed the way the proposer and a person would complete it."""
    doc = default_document("new")
    clients = [c for c in data.records["clients"] if isinstance(c, Client)]
    verticals = sorted({c.vertical for c in clients if c.vertical})
    tags = sorted({t for c in clients for t in c.tags})
    options = facts("account")["columns"]["industrycode"]["options"]
    industry = {label.lower(): value for value, label in options}
    vm = doc["value_maps"]
    vm["vertical"]["values"] = {
        v.lower(): industry.get(v.lower(), INDUSTRY_BY_VERTICAL_FALLBACK) for v in verticals
    }
    vm["gender"]["values"] = {"male": 1, "m": 1, "female": 2, "f": 2}
    tag_values = {t: FIRST_OPTION_VALUE + i for i, t in enumerate(tags)}
    vm["tags"]["values"] = dict(tag_values)
    tag_options = {v: t for t, v in tag_values.items()}
    for role in ("contact", "account"):
        doc["targets"][role]["fields"]["tags"]["create"]["options"] = tag_options
    # free-text session types get options of their own (what a person confirms)
    session_types = sorted(
        {
            s.session_type
            for s in data.records["sessions"]
            if isinstance(s, Session) and s.session_type
        }
    )
    st_values = vm["session_type"]["values"]
    st_field = doc["targets"]["session"]["fields"]["session_type"]["create"]
    for st in session_types:
        if st.lower() not in st_values:
            value = max(st_field["options"]) + 1
            st_values[st.lower()] = value
            st_field["options"][value] = st
    # custom properties of every inferable type, on the contact
    values: dict[str, set[str]] = {}
    for c in clients:
        for k, v in c.custom.items():
            if v:
                values.setdefault(k, set()).add(v)
    fields = doc["targets"]["contact"]["fields"]
    for key, kind in sorted(data.custom_types.items()):
        col = custom_column(key)
        schema = "new_" + "".join(w.title() for w in key.split("_"))
        create: dict[str, Any]
        if kind == "date":
            create = {"kind": "DateTime", "behavior": "DateOnly"}
            ftype = "DateTime"
        elif kind == "number":
            create = {"kind": "Decimal", "precision": 2}
            ftype = "Decimal"
        elif kind == "boolean":
            create = {"kind": "Boolean"}
            ftype = "Boolean"
        elif kind == "choice":
            opts = sorted(values.get(key, set()))
            create = {
                "kind": "Picklist",
                "options": {FIRST_OPTION_VALUE + i: o for i, o in enumerate(opts)},
            }
            ftype = "Picklist"
        else:
            longest = max((len(v) for v in values.get(key, {""})), default=1)
            create = {"kind": "Memo" if longest > 400 else "String", "max_length": 4000}
            ftype = create["kind"]
        create["schema_name"] = schema
        create["label"] = key
        fields[f"custom:{key}"] = {
            "column": col,
            "type": ftype,
            "confidence": 0.9,
            "reason": "custom property",
            "create": create,
        }
    doc["owners"] = {
        "fallback": "alex.admin@crmferry.onmicrosoft.com",
        "fallback_id": users["admin"],
        "coaches": {
            "usr_0001": {"user": "casey", "systemuserid": users["coach1"], "status": "matched"},
            "usr_0002": {"user": "robin", "systemuserid": users["coach2"], "status": "matched"},
            "usr_0003": {"user": "former", "systemuserid": users["former"], "status": "disabled"},
        },
    }
    doc["status"] = "confirmed"
    return doc


def spec_of(doc: dict[str, Any]) -> MappingSpec:
    return MapDocument.from_plain(doc).spec()


def seed_users() -> dict[str, str]:
    return {u.key: u.id for u in SEED_USERS}


# ---------------------------------------------------------------------------------------
# Provisioning (just enough for the test)


def _column_spec(create: dict[str, Any]) -> ColumnSpec:
    kind = create["kind"]
    kw: dict[str, Any] = {"kind": kind, "schema_name": create["schema_name"]}
    kw["label"] = create.get("label") or create["schema_name"]
    if kind in ("String", "Memo"):
        kw["max_length"] = create.get("max_length")
    if kind == "Decimal":
        kw["precision"] = create.get("precision", 2)
    if kind == "DateTime":
        if create.get("behavior") == "DateOnly":
            kw["format"], kw["datetime_behavior"] = "DateOnly", "DateOnly"
        else:
            kw["format"], kw["datetime_behavior"] = "DateAndTime", "UserLocal"
    if kind in ("Picklist", "MultiSelectPicklist"):
        kw["options"] = [(int(v), str(t)) for v, t in (create.get("options") or {}).items()]
    return ColumnSpec(**kw)


def _create_multiselect(client: DataverseClient, table: str, spec: ColumnSpec) -> None:
    """Work-around: ``Metadata.create_column`` sends AttributeType "Virtual" for a
    multi-select choice (what the service reports for it), and the emulator refuses that
    (it wants "MultiSelectPicklist"); send the body without AttributeType."""
    body = column_payload(spec)
    body.pop("AttributeType", None)
    client.request(
        "POST",
        f"EntityDefinitions(LogicalName='{table}')/Attributes",
        json=body,
        idempotent=False,
    )
    client.metadata.forget(table)


def provision(client: DataverseClient, doc: dict[str, Any]) -> None:
    md = client.metadata
    targets = doc["targets"]
    for role in ("service_type", "session", "payment"):
        t = targets[role]
        if not md.has_table(t["table"]):
            c = t["create"]
            md.create_table(
                c["schema_name"],
                display_name=c["display_name"],
                plural_name=c["plural_name"],
                primary_name=c["primary_name"],
                has_notes=True,
            )
    lookups: list[tuple[str, dict[str, Any]]] = []
    money_first: list[tuple[str, dict[str, Any]]] = []
    rest: list[tuple[str, dict[str, Any]]] = []
    seen: set[tuple[str, str]] = set()
    for t in targets.values():
        for f in t["fields"].values():
            create = f.get("create")
            if not create or not f.get("column"):
                continue
            key = (t["table"], f["column"])
            if key in seen:
                continue
            seen.add(key)
            if create["kind"] == "Lookup":
                lookups.append((t["table"], {**create, "column": f["column"]}))
            elif create["kind"] == "Money":
                money_first.append((t["table"], create))
            else:
                rest.append((t["table"], create))
    existing: dict[str, set[str]] = {}
    for table, create in [*money_first, *rest]:
        cols = existing.setdefault(table, set(md.columns(table)))
        if create["schema_name"].lower() in cols:
            continue
        spec = _column_spec(create)
        if spec.kind == "MultiSelectPicklist":
            _create_multiselect(client, table, spec)
        else:
            md.create_column(table, spec)
        cols.add(create["schema_name"].lower())
    for table, create in lookups:
        if create["column"] in md.columns(table):
            continue
        md.create_lookup(
            table,
            create["schema_name"],
            target_table=create["target_table"],
            label_text=create.get("label") or create["schema_name"],
        )
    # text columns of value maps (source status, gender kept as text)
    for vm in doc["value_maps"].values():
        text = vm.get("text_column")
        if not text:
            continue
        table, _, column = text.partition(".")
        if column not in md.columns(table):
            schema = "new_" + column[len("new_") :].title()
            md.create_column(
                table, ColumnSpec(kind="String", schema_name=schema, label=column, max_length=100)
            )
    md.forget()
