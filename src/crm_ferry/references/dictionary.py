"""The data dictionary: every column the migration writes, where its values come from."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Final

from crm_ferry.mapping.spec import MappingSpec

DICTIONARY_COLUMNS: Final = (
    "role",
    "table",
    "column",
    "type",
    "source_object",
    "source_field",
    "value_map",
    "values",
    "created_by_crm_ferry",
    "table_created_by_crm_ferry",
    "max_length",
    "precision",
    "behavior",
    "reason",
)


@dataclass(frozen=True, slots=True)
class DictionaryRow:
    role: str
    table: str
    column: str
    type: str | None
    source_object: str
    source_field: str
    value_map: str | None
    values: dict[str, Any]
    """Source value -> option value (or ``[state, status]``) of the value map."""
    created: bool
    """The column is provisioned by crm-ferry (not part of the standard table)."""
    table_created: bool
    max_length: int | None = None
    precision: int | None = None
    behavior: str | None = None
    reason: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "role": self.role,
            "table": self.table,
            "column": self.column,
            "type": self.type,
            "source_object": self.source_object,
            "source_field": self.source_field,
            "value_map": self.value_map,
            "values": self.values,
            "created_by_crm_ferry": self.created,
            "table_created_by_crm_ferry": self.table_created,
            "max_length": self.max_length,
            "precision": self.precision,
            "behavior": self.behavior,
            "reason": self.reason,
        }

    def values_text(self) -> str:
        return "; ".join(
            f"{k}={json.dumps(v) if not isinstance(v, str) else v}" for k, v in self.values.items()
        )


def data_dictionary(spec: MappingSpec) -> list[DictionaryRow]:
    """One row per mapped field of every enabled target, in the map's order."""
    rows: list[DictionaryRow] = []
    for target in spec.targets.values():
        if not target.enabled:
            continue
        primary = target.create.primary_name.lower() if target.create else None
        for fm in target.mapped():
            assert fm.column is not None
            vm = spec.value_maps.get(fm.value_map) if fm.value_map else None
            create = fm.create
            rows.append(
                DictionaryRow(
                    role=target.role,
                    table=target.table,
                    column=fm.column,
                    type=fm.type or (create.kind if create else None),
                    source_object=target.source,
                    source_field=fm.source,
                    value_map=fm.value_map,
                    values={str(k): v for k, v in vm.values.items()} if vm else {},
                    created=create is not None or fm.column.lower() == primary,
                    table_created=target.create is not None,
                    max_length=create.max_length if create else None,
                    precision=create.precision if create else None,
                    behavior=create.behavior if create else None,
                    reason=fm.reason,
                )
            )
    return rows
