"""Transform: canonical records + the confirmed map + a target snapshot → operations.

Pure: no network and no files (attachment bytes come through an injected callable; the
snapshot is read from the tenant by :mod:`crm_ferry.load.snapshot`).

* :mod:`~crm_ferry.transform.engine`: :class:`Transformer`, the entry point: checks the
  map against the snapshot and hands each record to the builder of its role;
* :mod:`~crm_ferry.transform.roles`: one builder per kind of target row (contacts and
  accounts, sessions, opportunities, notes, invoices, activities, ...);
* :mod:`~crm_ferry.transform.build`: the steps the builders share (ids, operations, the
  mapped-field loop, owners, references); :mod:`~crm_ferry.transform.row`: a row being
  built and the exception that rejects its record;
* :mod:`~crm_ferry.transform.convert`: the converter of each column type;
  :mod:`~crm_ferry.transform.values`: parsing and wire forms of single values;
  :mod:`~crm_ferry.transform.html`: note bodies to text and their inline images;
* :mod:`~crm_ferry.transform.schema`: the target snapshot (:class:`TargetSchema`,
  :class:`OrgSettings`); :mod:`~crm_ferry.transform.context`: what a record's transform
  knows about other records (:class:`TransformContext`);
* :mod:`~crm_ferry.transform.ops`: :class:`Operation`, what the load writes.
"""

from __future__ import annotations

from crm_ferry.transform.context import ContextBuilder, TransformContext
from crm_ferry.transform.engine import Transformer
from crm_ferry.transform.ops import Operation, target_id
from crm_ferry.transform.schema import OrgSettings, TableSchema, TargetSchema, tables_for

__all__ = [
    "ContextBuilder",
    "Operation",
    "OrgSettings",
    "TableSchema",
    "TargetSchema",
    "TransformContext",
    "Transformer",
    "tables_for",
    "target_id",
]
