"""What a definition write works with, and the naming rules every new definition obeys.

:class:`Context` carries the schema, the clock, the tenant's publishers and solutions and the
limits; :meth:`Context.publisher_for` enforces that a schema name carries a publisher's
customization prefix (that solution's publisher's, when ``MSCRM.SolutionUniqueName`` names
one). The helpers read the parts of a request body every definition shares.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from crm_ferry.emulator.metadata.errors import DUPLICATE, bad
from crm_ferry.emulator.metadata.shapes import NAMESPACE
from crm_ferry.emulator.schema import RequiredLevel, Schema, new_metadata_id
from crm_ferry.emulator.validation import is_guid

NAME_PATTERN = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
"""What schema names, entity set names and navigation property names must look like."""


@dataclass(frozen=True, slots=True)
class Publisher:
    unique_name: str
    prefix: str
    option_value_prefix: int


@dataclass(slots=True)
class Context:
    """What a metadata write needs besides the schema."""

    schema: Schema
    now: float
    publishers: list[Publisher]
    solutions: dict[str, Publisher]
    """Unique name (lower case) → the solution's publisher."""
    solution: str | None = None
    """``MSCRM.SolutionUniqueName`` of the request, checked to exist."""
    max_name_length: int = 50
    visibility_delay: float = 0.0
    key_delay: float = 0.0
    custom_table_limit: int | None = None
    wall: str | None = None
    """The request's time (UTC, ``YYYY-MM-DDTHH:MM:SSZ``): ``CreatedOn`` / ``ModifiedOn``."""
    merge_labels: bool = False
    """``MSCRM.MergeLabels: true`` on an update: labels keep the languages the body omits."""

    def publisher_for(self, schema_name: Any, kind: str) -> Publisher:
        """The publisher whose prefix ``schema_name`` carries; enforces naming rules."""
        check_name(schema_name, kind, self.max_name_length)
        prefix, sep, rest = schema_name.partition("_")
        if self.solution is not None:
            owner = self.solutions[self.solution.lower()]
            candidates = [owner]
        else:
            candidates = self.publishers
        for pub in candidates:
            if sep and rest and prefix.lower() == pub.prefix.lower():
                return pub
        allowed = ", ".join(sorted(f"'{p.prefix}_'" for p in candidates)) or "(none)"
        raise bad(
            f"The SchemaName '{schema_name}' of the {kind} must start with the customization "
            f"prefix of a publisher followed by an underscore: {allowed}."
        )


def check_name(schema_name: Any, kind: str, max_length: int) -> str:
    if not isinstance(schema_name, str) or not schema_name:
        raise bad(f"The {kind} has no SchemaName.")
    if not NAME_PATTERN.match(schema_name):
        raise bad(
            f"The SchemaName '{schema_name}' of the {kind} is not valid: it must start with a "
            "letter and contain only letters, digits and underscores."
        )
    if len(schema_name) > max_length:
        raise bad(
            f"The SchemaName '{schema_name}' of the {kind} is longer than {max_length} characters."
        )
    return schema_name


def entity_set_name(logical_name: str) -> str:
    """The plural Dataverse generates: ``…y`` after a consonant → ``…ies``, ``…s/x/z/ch/sh`` →
    ``…es``, else ``…s`` (``opportunity`` → ``opportunities``, ``msdyn_smsengagementctx`` →
    ``msdyn_smsengagementctxes``, ``account`` → ``accounts``)."""
    name = logical_name
    if name.endswith("y") and len(name) > 1 and name[-2] not in "aeiou":
        return name[:-1] + "ies"
    if name.endswith(("s", "x", "z", "ch", "sh")):
        return name + "es"
    return name + "s"


def chosen_metadata_id(
    body: dict[str, Any], taken: Iterable[str], what: str = "A definition"
) -> str:
    """The ``MetadataId`` a create asks for (a client may choose it, if no definition in
    ``taken`` has it), else a new one."""
    value = body.get("MetadataId")
    if value is None:
        return new_metadata_id()
    if not is_guid(value):
        raise bad(f"'{value}' is not a valid MetadataId.")
    chosen = str(uuid.UUID(str(value)))
    if any(metadata_id == chosen for metadata_id in taken):
        raise bad(f"{what} with the MetadataId '{chosen}' already exists.", code=DUPLICATE)
    return chosen


def definition_ids(schema: Schema) -> Iterator[str]:
    """The ``MetadataId`` of every table and column (the ids a new table or column may not
    take)."""
    for entity in schema.entities.values():
        yield entity.metadata_id
        for attr in entity.attributes.values():
            yield attr.metadata_id


def required_level(body: dict[str, Any]) -> RequiredLevel:
    value = body.get("RequiredLevel")
    level = value.get("Value") if isinstance(value, dict) else value
    if level in (None, "None"):
        return "None"
    if level in ("SystemRequired", "ApplicationRequired", "Recommended"):
        return level  # type: ignore[no-any-return]
    raise bad(f"'{level}' is not a valid RequiredLevel.")


def odata_type(body: dict[str, Any]) -> str:
    value = body.get("@odata.type")
    if not isinstance(value, str):
        return ""
    return value.removeprefix("#").removeprefix(NAMESPACE)


__all__ = [
    "NAME_PATTERN",
    "Context",
    "Publisher",
    "check_name",
    "chosen_metadata_id",
    "definition_ids",
    "entity_set_name",
    "odata_type",
    "required_level",
]
