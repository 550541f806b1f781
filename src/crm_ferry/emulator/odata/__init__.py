"""The Dataverse Web API's URL syntax: resource paths, query options and ``$filter``.

A pure package: no I/O and no knowledge of tables. The emulator parses a request with it, then
checks names against its schema itself (:func:`referenced_properties` lists what a filter
reads, so the caller can answer "Could not find a property named 'x' on type
'Microsoft.Dynamics.CRM.contact'.").

- :mod:`.paths`: resource paths (:func:`parse_resource_path` and its segment types);
- :mod:`.query`: query options (:func:`parse_query`, :func:`parse_query_string`);
- :mod:`.apply`: the ``$apply`` option (:func:`parse_apply`: filter, groupby, aggregate);
- :mod:`.syntax`: tokens, literal values and the ``$filter`` expression tree, its parser and
  formatter;
- :mod:`.evaluation`: ``$filter`` evaluation against rows and ``$orderby`` sorting, and what
  a filter narrows a table to (:func:`narrowing`, :func:`raise_free`: what an index may use).

Sources (Microsoft Learn, Power Apps developer documentation, Dataverse Web API):

* query-data-web-api: https://learn.microsoft.com/power-apps/developer/data-platform/webapi/query-data-web-api
* select-columns: https://learn.microsoft.com/power-apps/developer/data-platform/webapi/query/select-columns
* filter-rows: https://learn.microsoft.com/power-apps/developer/data-platform/webapi/query/filter-rows
  (operators, grouping, string functions, Dataverse query functions, lambdas, case-insensitive
  string filters, URL-encoding special characters, wildcards)
* order-rows: https://learn.microsoft.com/power-apps/developer/data-platform/webapi/query/order-rows
* page-results: https://learn.microsoft.com/power-apps/developer/data-platform/webapi/query/page-results
  (``$skiptoken`` is an opaque paging cookie; there is no ``$skip``)
* aggregate-data: https://learn.microsoft.com/power-apps/developer/data-platform/webapi/query/aggregate-data
* alternate keys in URLs: https://learn.microsoft.com/power-apps/developer/data-platform/define-alternate-keys-entity
* query functions: https://learn.microsoft.com/power-apps/developer/data-platform/webapi/reference/in
  (``In``, ``Between``, ``Null``, ``NotNull`` ... take ``PropertyName`` and ``PropertyValues``)

Example::

    segments = parse_resource_path("contacts(firstname='Joe',emailaddress1='a@b.c')/fullname")
    # [EntitySetSegment('contacts', Key(named=(('firstname', 'Joe'), ('emailaddress1', 'a@b.c')))),
    #  PropertySegment('fullname')]
    options = parse_query({"$select": "fullname", "$filter": "lastname eq @p1", "@p1": "'Ng'"})
    matching = [row for row in rows if evaluate(options.filter, row)] if options.filter else rows
"""

from __future__ import annotations

from crm_ferry.emulator.conditions import compare_values, edm_type_name
from crm_ferry.emulator.odata.apply import AggregateItem, Apply, parse_apply
from crm_ferry.emulator.odata.evaluation import (
    Kind,
    condition_count,
    evaluate,
    narrowing,
    raise_free,
    referenced_properties,
    sort_rows,
)
from crm_ferry.emulator.odata.paths import (
    DEFAULT_UNBOUND_OPERATIONS,
    Alias,
    CastSegment,
    EntitySetSegment,
    Key,
    OperationSegment,
    PropertySegment,
    Segment,
    SystemSegment,
    parse_resource_path,
)
from crm_ferry.emulator.odata.query import (
    ExpandSpec,
    QueryOptions,
    parse_query,
    parse_query_string,
)
from crm_ferry.emulator.odata.syntax import (
    DATAVERSE_NAMESPACE,
    Call,
    Compare,
    Expr,
    Lambda,
    Literal,
    Logical,
    Not,
    ODataError,
    Property,
    QueryFunction,
    Token,
    Value,
    format_filter,
    format_value,
    parse_filter,
    parse_value_text,
    tokenize,
)

__all__ = [
    "DATAVERSE_NAMESPACE",
    "DEFAULT_UNBOUND_OPERATIONS",
    "AggregateItem",
    "Alias",
    "Apply",
    "Call",
    "CastSegment",
    "Compare",
    "EntitySetSegment",
    "ExpandSpec",
    "Expr",
    "Key",
    "Kind",
    "Lambda",
    "Literal",
    "Logical",
    "Not",
    "ODataError",
    "OperationSegment",
    "Property",
    "PropertySegment",
    "QueryFunction",
    "QueryOptions",
    "Segment",
    "SystemSegment",
    "Token",
    "Value",
    "compare_values",
    "condition_count",
    "edm_type_name",
    "evaluate",
    "format_filter",
    "format_value",
    "narrowing",
    "parse_apply",
    "parse_filter",
    "parse_query",
    "parse_query_string",
    "parse_resource_path",
    "parse_value_text",
    "raise_free",
    "referenced_properties",
    "sort_rows",
    "tokenize",
]
