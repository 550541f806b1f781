"""The errors a FetchXML query is refused with: Dataverse's codes and messages (Web service
error codes, https://learn.microsoft.com/power-apps/developer/data-platform/reference/web-service-error-codes,
and the FetchXML articles that quote them), raised as :class:`~crm_ferry.emulator.validation.Fault`.

Where the documentation gives no message for a case (a value that isn't a number, ``top``
with paging) the message says what is wrong and the code is the closest documented one.
"""

from __future__ import annotations

from crm_ferry.emulator.unsupported import not_implemented
from crm_ferry.emulator.validation import INVALID_ARGUMENT, Fault

INVALID_XML = "0x80040201"
"""``InvalidXml``: "Invalid XML." """
EMPTY_XML = "0x80041124"
"""``QueryBuilderDeserializeEmptyXml``: "Xml String can't be null." """
INVALID_NODE = "0x8004111c"
"""``QueryBuilderDeserializeInvalidNode``: "The element node encountered is invalid." """
ELEMENT_NOT_FOUND = "0x80041123"
"""``QueryBuilderElementNotFound``: "A required element was not specified." """
ATTRIBUTE_NOT_FOUND = "0x8004111e"
"""``QueryBuilderAttributeNotFound``: "A required attribute was not specified." """
NO_ENTITY = "0x80041102"
"""``QueryBuilderNoEntity``: "The specified entity was not found." """
NO_ATTRIBUTE = "0x80041103"
"""``QueryBuilderNoAttribute``: "The specified attribute does not exist on this entity." """
ENTITIES_DONT_MATCH = "0x80041128"
"""``QueryBuilderEntitiesDontMatch``."""
ALIAS_DOES_NOT_EXIST = "0x8004110a"
"""``QueryBuilderAlias_Does_Not_Exist``."""
DUPLICATE_ALIAS = "0x80041130"
"""``QueryBuilderDuplicateAlias``: "FetchXML should have unique aliases." """
INVALID_CONDITION_OPERATOR = "0x80041120"
"""``QueryBuilderInvalidConditionOperator``: "Unsupported condition operator." """
INVALID_FILTER_TYPE = "0x80041122"
"""``QueryBuilderInvalidFilterType``."""
INVALID_LINK_TYPE = "0x80041117"
"""``QueryBuilderDeserializeInvalidLinkType``."""
INVALID_MAPPING = "0x80041116"
"""``QueryBuilderDeserializeInvalidMapping``."""
INVALID_UTC_OFFSET = "0x8004111d"
"""``QueryBuilderDeserializeInvalidUtcOffset``."""
BAD_CONDITION = "0x80041106"
"""``QueryBuilderBad_Condition``: "Incorrect filter condition or conditions." """
GREATER_THAN_ZERO = "0x8004110c"
"""``QueryBuilderValue_GreaterThanZero``: "A value greater than zero must be specified." """
INVALID_AGGREGATE = "0x8004111a"
"""``QueryBuilderDeserializeInvalidAggregate``."""
INVALID_AGGREGATE_ATTRIBUTE = "0x8004112f"
"""``QueryBuilderInvalidAggregateAttribute``: "Aggregate {0} is not supported for attribute of
type {1}." """
ATTRIBUTE_WITH_AGGREGATE = "0x80041107"
"""``QueryBuilderAttribute_With_Aggregate``."""
INVALID_ALIAS = "0x80041109"
"""``QueryBuilderInvalid_Alias``: "Invalid alias for aggregate operation." """
GROUPBY_AND_AGGREGATE = "0x80041137"
"""``QueryBuilderAttributeCannotBeGroupByAndAggregate``."""
INVALID_DATE_GROUPING = "0x80041135"
"""``QueryBuilderInvalidDateGrouping``."""
ALIAS_IN_NON_AGGREGATE_ORDER = "0x80041132"
"""``QueryBuilderAliasNotAllowedForNonAggregateOrderBy``."""
ALIAS_REQUIRED_IN_AGGREGATE_ORDER = "0x80041134"
"""``QueryBuilderAliasRequiredForAggregateOrderBy``."""
ATTRIBUTE_IN_AGGREGATE_ORDER = "0x80041131"
"""``QueryBuilderAttributeNotAllowedForAggregateOrderBy``."""
ATTRIBUTE_REQUIRED_IN_ORDER = "0x80041133"
"""``QueryBuilderAttributeRequiredForNonAggregateOrderBy``."""
INVALID_PAGING_COOKIE = "0x8004112a"
"""``QueryBuilderInvalidPagingCookie``: "Invalid page number in paging cookie." """
PAGING_ORDER_BY = "0x80041129"
"""``QueryBuilderPagingOrderBy``: "Order by columns do not match those in paging cookie." """
AGGREGATE_LIMIT = "0x8004E023"
"""``AggregateQueryRecordLimitExceeded`` (Aggregate data using FetchXml, "Limitations")."""
TOO_MANY_CONDITIONS = "0x8004430C"
"""``TooManyConditionsInQuery`` (Filter rows using FetchXml, "Condition limits")."""
TOO_MANY_LINKS = "0x8004430D"
"""Number of link entities exceeded (Join tables using FetchXml, "Limitations")."""

BOOLEAN_CODES = {
    "distinct": "0x80041115",
    "no-lock": "0x80041118",
    "useraworderby": "0x800410fd",
    "descending": "0x80041119",
    "groupby": "0x8004112e",
}
"""The documented codes of a boolean attribute given a value other than true, false, 1, 0."""


def invalid(code: str, message: str) -> Fault:
    """A 400 with ``code``."""
    return Fault(400, code, message)


def argument(message: str) -> Fault:
    """A 400 ``InvalidArgument`` (the case has no documented code of its own)."""
    return Fault(400, INVALID_ARGUMENT, message)


def refused(feature: str) -> Fault:
    """The 501 for a documented FetchXML feature the emulator does not implement."""
    return not_implemented(feature)


__all__ = [
    "AGGREGATE_LIMIT",
    "ALIAS_DOES_NOT_EXIST",
    "ALIAS_IN_NON_AGGREGATE_ORDER",
    "ALIAS_REQUIRED_IN_AGGREGATE_ORDER",
    "ATTRIBUTE_IN_AGGREGATE_ORDER",
    "ATTRIBUTE_NOT_FOUND",
    "ATTRIBUTE_REQUIRED_IN_ORDER",
    "ATTRIBUTE_WITH_AGGREGATE",
    "BAD_CONDITION",
    "BOOLEAN_CODES",
    "DUPLICATE_ALIAS",
    "ELEMENT_NOT_FOUND",
    "EMPTY_XML",
    "ENTITIES_DONT_MATCH",
    "GREATER_THAN_ZERO",
    "GROUPBY_AND_AGGREGATE",
    "INVALID_AGGREGATE",
    "INVALID_AGGREGATE_ATTRIBUTE",
    "INVALID_ALIAS",
    "INVALID_CONDITION_OPERATOR",
    "INVALID_DATE_GROUPING",
    "INVALID_FILTER_TYPE",
    "INVALID_LINK_TYPE",
    "INVALID_MAPPING",
    "INVALID_NODE",
    "INVALID_PAGING_COOKIE",
    "INVALID_UTC_OFFSET",
    "INVALID_XML",
    "NO_ATTRIBUTE",
    "NO_ENTITY",
    "PAGING_ORDER_BY",
    "TOO_MANY_CONDITIONS",
    "TOO_MANY_LINKS",
    "argument",
    "invalid",
    "refused",
]
