"""The service's documents: the service document and the CSDL ``$metadata``, made from the
live schema.

https://learn.microsoft.com/power-apps/developer/data-platform/webapi/web-api-service-documents

- :mod:`.document`: the answers to ``GET /api/data/<version>/`` and ``.../$metadata``, and the
  document's assembly (schema, container);
- :mod:`.entities`: the tables' entity types, properties and navigation properties;
- :mod:`.definitions`: the metadata API's entity, complex and enumeration types;
- :mod:`.operations`: the functions and actions the emulator answers.
"""

from __future__ import annotations

from crm_ferry.emulator.csdl.document import (
    NAMESPACE,
    SERVICE_PATHS,
    entity_sets,
    handle_service,
    metadata_document,
    service_document,
)
from crm_ferry.emulator.csdl.operations import OPERATIONS, Operation

__all__ = [
    "NAMESPACE",
    "OPERATIONS",
    "SERVICE_PATHS",
    "Operation",
    "entity_sets",
    "handle_service",
    "metadata_document",
    "service_document",
]
