"""The metadata Web API of the emulator: EntityDefinitions, RelationshipDefinitions,
GlobalOptionSetDefinitions — read, create, delete.

Written from
https://learn.microsoft.com/power-apps/developer/data-platform/webapi/query-metadata-web-api,
https://learn.microsoft.com/power-apps/developer/data-platform/webapi/create-update-entity-definitions-using-web-api,
https://learn.microsoft.com/power-apps/developer/data-platform/webapi/create-update-column-definitions-using-web-api,
https://learn.microsoft.com/power-apps/developer/data-platform/webapi/create-update-entity-relationships-using-web-api,
https://learn.microsoft.com/power-apps/developer/data-platform/webapi/create-update-optionsets and
https://learn.microsoft.com/power-apps/developer/data-platform/define-alternate-keys-entity.

- :mod:`.api`: the entry point :func:`handle_metadata` (by HTTP method) and :func:`settle`;
- :mod:`.paths`: how a URL addresses definitions;
- :mod:`.reads`: GET, with ``$select``, ``$filter`` (:mod:`.filters`) and ``$expand``;
- :mod:`.changes`: POST and DELETE requests, and :class:`MetaEmulator`, what the API needs
  from the emulator core;
- :mod:`.tables`, :mod:`.columns`, :mod:`.relationships` (with :mod:`.many_to_many`),
  :mod:`.keys`, :mod:`.choices`:
  validating a new definition and adding it to the schema, in the :mod:`.write_context` of
  the request (publishers, solution, limits, naming rules);
- :mod:`.shapes`: the JSON shapes of definitions; :mod:`.errors`: how a request is refused.

The actions ``CreateCustomerRelationships`` and ``CreatePolymorphicLookupAttribute``
(:data:`METADATA_ACTIONS`) make lookups to several tables.

Updates of definitions (``PUT``) are not emulated (``501``).

Eventual consistency: a new column is usable only ``visible_at`` (``CoreConfig``'s visibility
delay after its creation; the core's validation reads it); a new key is ``Pending`` until
:func:`settle` finds its time has come, then ``Active`` — or ``Failed`` when existing rows
have duplicate values for it (Dataverse's asynchronous index build).
"""

from __future__ import annotations

from crm_ferry.emulator.metadata.api import (
    METADATA_ACTIONS,
    MetaEmulator,
    handle_metadata,
    handle_metadata_action,
    settle,
)
from crm_ferry.emulator.metadata.paths import METADATA_SETS
from crm_ferry.emulator.metadata.shapes import label_text

__all__ = [
    "METADATA_ACTIONS",
    "METADATA_SETS",
    "MetaEmulator",
    "handle_metadata",
    "handle_metadata_action",
    "label_text",
    "settle",
]
