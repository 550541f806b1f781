"""FetchXML: Dataverse's XML query language, answered on ``GET <set>?fetchXml=...``.

Use FetchXml with Web API
(https://learn.microsoft.com/power-apps/developer/data-platform/webapi/use-fetchxml-web-api) and
the FetchXML articles and reference
(https://learn.microsoft.com/power-apps/developer/data-platform/fetchxml/overview). A query
goes through, in order (each module imports only those before it):

- :mod:`.errors`: the documented codes and messages it may be refused with;
- :mod:`.model` and :mod:`.parser`: the XML read (safely: no document type declarations)
  into a :class:`~.model.Fetch`, every element and attribute read, accepted or refused;
- :mod:`.plan`: names resolved against the tables, values read as their columns' kinds,
  output columns named, sort keys ordered;
- :mod:`.engine`: rows joined, filtered (the condition operators of
  :mod:`crm_ferry.emulator.conditions`, shared with ``$filter``'s query functions) and sorted;
- :mod:`.aggregate`: grouping and the aggregate functions;
- :mod:`.paging`: ``top``, ``count``/``page`` and the paging cookie;
- :mod:`.respond` and :mod:`.handler`: the Web API's answer.

The core routes ``GET <set>?fetchXml=`` (with ``$count=true`` at most beside it) to
:func:`query`; ``fetchXml`` anywhere else is refused.
"""

from __future__ import annotations

from crm_ferry.emulator.fetchxml.handler import query
from crm_ferry.emulator.fetchxml.model import Fetch
from crm_ferry.emulator.fetchxml.parser import parse_fetch

__all__ = ["Fetch", "parse_fetch", "query"]
