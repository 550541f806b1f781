"""``$filter`` over metadata JSON, through the emulator's OData parser and evaluator.

https://learn.microsoft.com/power-apps/developer/data-platform/webapi/query-metadata-web-api
filters definitions by their properties (``LogicalName eq 'contact'``,
``IsCustomEntity eq true``), by properties of complex values (``AttributeTypeName/Value eq
'StringType'``) and by enum values written as
``AttributeType eq Microsoft.Dynamics.CRM.AttributeTypeCode'Picklist'``. Enum literals are
compared by their member name, so they are rewritten as string literals before
:func:`crm_ferry.emulator.odata.parse_filter` reads the text; property paths are walked on the
JSON the API returns, so a filter sees exactly what a client reads.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from crm_ferry.emulator.metadata.errors import ODATA_ERROR
from crm_ferry.emulator.odata import ODataError, evaluate, parse_filter

Predicate = Callable[[dict[str, Any]], bool]

_ENUM = re.compile(r"\bMicrosoft\.Dynamics\.CRM\.[A-Za-z]+('(?:[^']|'')*')")


class FilterError(ValueError):
    """The ``$filter`` text can't be parsed or evaluated."""

    def __init__(self, message: str, code: str = ODATA_ERROR) -> None:
        super().__init__(message)
        self.message = message
        self.code = code if code != "0x0" else ODATA_ERROR  # the OData layer's default


def compile_filter(text: str) -> Predicate:
    """A predicate over one metadata JSON object; :class:`FilterError` on bad syntax."""
    try:
        expr = parse_filter(_ENUM.sub(r"\1", text))
    except ODataError as exc:
        raise FilterError(exc.message, exc.code) from None

    def predicate(row: dict[str, Any]) -> bool:
        try:
            return bool(evaluate(expr, row, lambda path: _walk(row, path.split("/"))))
        except ODataError as exc:
            raise FilterError(exc.message, exc.code) from None

    return predicate


def _walk(row: Any, path: list[str]) -> Any:
    for part in path:
        if not isinstance(row, dict):
            return None
        row = row.get(part)
    return row
