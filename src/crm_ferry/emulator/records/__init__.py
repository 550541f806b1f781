"""Records: create, retrieve, update, upsert, delete and query, as the Web API does them.

Bottom to top (each module imports only those above it in this list):

- :mod:`.context`: the request context (:class:`Ctx`) and the responses handlers answer with;
- :mod:`.rows`: how records are kept (lookups, system columns, virtual tables), and reading
  and writing stored rows without validation;
- :mod:`.privileges`: the privilege an action needs, and the 403 when the caller lacks it;
- :mod:`.files`: File and Image column values kept outside the row, and the checks every
  stored file passes;
- :mod:`.rules`: business rules of particular tables (computed names, money base values,
  invoice totals, state transitions, notes);
- :mod:`.keys`: primary and alternate keys, ``@odata.bind`` references, key uniqueness;
- :mod:`.relations`: navigation properties, the rows they lead to, and the intersect rows of
  many-to-many relationships;
- :mod:`.writes`: the body checked against the metadata, then create / update / upsert /
  delete (deep insert and associations on create included);
- :mod:`.formatting`: formatted values (labels, money with its currency, dates in the user's
  time zone, numbers with digit grouping);
- :mod:`.reads`: a row as the Web API returns it, and ``$filter`` / ``$orderby`` over a table;
- :mod:`.aggregate`: ``$apply`` (groupby and aggregate over the rows a filter matches);
- :mod:`.paging`: the paging cookie of ``$skiptoken``;
- :mod:`.expansion`: ``$expand``, its options, limits and paging;
- :mod:`.handlers`: one function per record request, which the core's router calls;
- :mod:`.navigation`: requests on a record's navigation properties (related rows, ``$ref``,
  associate and disassociate);
- :mod:`.media`: file and image uploads and downloads on a column, and ``$value``.

Everything takes the tenant (:class:`~crm_ferry.emulator.state.TenantState`) as ``em``.
"""

from __future__ import annotations

from crm_ferry.emulator.records.context import (
    Ctx,
    annotate_error,
    error_response,
    json_response,
    make_ctx,
    method_not_allowed,
    no_content,
    odata_fault,
    read_body,
)
from crm_ferry.emulator.records.handlers import (
    count,
    delete_one,
    get_one,
    patch_upsert,
    post_create,
    query_collection,
    single_property,
)
from crm_ferry.emulator.records.keys import parse_reference, resolve_key
from crm_ferry.emulator.records.media import (
    property_request,
    refuse_parameters,
    refuse_transfer_headers,
    split_parameters,
    value_request,
)
from crm_ferry.emulator.records.navigation import handles as navigates
from crm_ferry.emulator.records.navigation import route as navigate
from crm_ferry.emulator.records.privileges import all_privileges, check_privilege, privilege_id
from crm_ferry.emulator.records.reads import represent
from crm_ferry.emulator.records.rows import write_platform_update
from crm_ferry.emulator.records.rules import before_update, check_pair
from crm_ferry.emulator.records.writes import (
    create_record,
    delete_record,
    insert_system_row,
    update_record,
    write_upsert,
)

__all__ = [
    "Ctx",
    "all_privileges",
    "annotate_error",
    "before_update",
    "check_pair",
    "check_privilege",
    "count",
    "create_record",
    "delete_one",
    "delete_record",
    "error_response",
    "get_one",
    "insert_system_row",
    "json_response",
    "make_ctx",
    "method_not_allowed",
    "navigate",
    "navigates",
    "no_content",
    "odata_fault",
    "parse_reference",
    "patch_upsert",
    "post_create",
    "privilege_id",
    "property_request",
    "query_collection",
    "read_body",
    "refuse_parameters",
    "refuse_transfer_headers",
    "represent",
    "resolve_key",
    "single_property",
    "split_parameters",
    "update_record",
    "value_request",
    "write_platform_update",
    "write_upsert",
]
