"""The map from The Practice's objects and fields to Dataverse tables and columns.

- :mod:`~crm_ferry.mapping.spec`: ``mapping.yaml`` as a round-trip document and the typed
  map it parses into (:class:`MappingSpec`), with problems located by line;
- :mod:`~crm_ferry.mapping.defaults`: the default object map, as data;
- :mod:`~crm_ferry.mapping.profile`: the source profile the proposer and the check read;
- :mod:`~crm_ferry.mapping.matcher`: the proposer (a confidence and a reason per field);
- :mod:`~crm_ferry.mapping.merge`: re-proposing without losing a person's edits;
- :mod:`~crm_ferry.mapping.owners` and :mod:`~crm_ferry.mapping.owners_section`: coaches
  resolved to system users, and the ``owners:`` section of the document;
- :mod:`~crm_ferry.mapping.check`: every problem before a record moves, and the gate of
  every command that writes records;
- :mod:`~crm_ferry.mapping.fingerprint`: what the map was proposed and confirmed against;
- :mod:`~crm_ferry.mapping.names`: Dataverse schema and logical names.
"""

from crm_ferry.mapping.check import check_map, require_loadable_map
from crm_ferry.mapping.fingerprint import map_digest, source_fingerprint, target_fingerprint
from crm_ferry.mapping.spec import MAP_FILE, MapDocument, MappingSpec, Problem

__all__ = [
    "MAP_FILE",
    "MapDocument",
    "MappingSpec",
    "Problem",
    "check_map",
    "map_digest",
    "require_loadable_map",
    "source_fingerprint",
    "target_fingerprint",
]
