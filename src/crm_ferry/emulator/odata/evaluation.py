"""Evaluation of parsed ``$filter`` trees against rows, and ``$orderby`` sorting.

Semantics are Dataverse's, which translates the filter to SQL Server:

* Rows hold the JSON values the Web API returns: ``str``, ``int``, ``float``, ``Decimal``,
  ``bool``, ``None``; GUIDs as lower-case strings, dates as ``YYYY-MM-DD``, date-times as
  ISO 8601 strings. A literal decides how the row value is read: a GUID literal compares GUIDs
  (so case does not matter), a date/date-time literal compares instants (a date is midnight
  UTC), a number compares numbers.
* String comparison and the string functions ignore case (Dataverse's default collation; "All
  filters using string values are case insensitive",
  https://learn.microsoft.com/power-apps/developer/data-platform/webapi/query/filter-rows).
  ``contains``/``startswith``/``endswith`` become ``LIKE``, so ``%``, ``_`` and ``[...]`` in the
  argument are wildcards, as that page's "Use wildcard characters" section describes.
* ``eq null`` / ``ne null`` test for null. Any other comparison involving a null value is
  unknown (SQL ``NULL``), and unknown is not true: ``name ne 'x'`` does not return rows whose
  name is null, ``gt``/``lt`` against null never match. ``and``/``or``/``not`` are three-valued.
* The comparisons, the wildcards and the Dataverse query functions (``In``, ``LastXDays``,
  ``EqualUserId``...) are :mod:`crm_ferry.emulator.conditions`, which FetchXML's condition
  operators share: each query function is "a corresponding ConditionOperator value"
  (https://learn.microsoft.com/power-apps/developer/data-platform/webapi/use-web-api-functions).
* ``$orderby`` sorts nulls first ascending and last descending, as SQL Server does
  (https://learn.microsoft.com/power-apps/developer/data-platform/webapi/query/order-rows).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from decimal import Decimal
from functools import lru_cache
from typing import Any
from typing import Literal as TypingLiteral

from crm_ferry.emulator.conditions import (
    FUNCTIONS,
    ConditionError,
    Context,
    LikeKind,
    Operator,
    compare_values,
    edm_type_name,
    like_pattern,
)
from crm_ferry.emulator.conditions import is_number as _is_number
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
    Value,
)

Resolver = Callable[[str], Any]


_LIKE_KINDS: dict[str, LikeKind] = {k: k for k in ("contains", "startswith", "endswith")}


def _not_supported(what: str) -> ODataError:
    return ODataError(f"{what} is not supported by the emulator.", status=501)


def _truth(value: object, context: str) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    raise ODataError(
        f"The operand for a {context} is not a single boolean value; found "
        f"'{edm_type_name(value)}'."
    )


class _Evaluator:
    def __init__(
        self, row: Mapping[str, Any], resolve: Resolver | None, context: Context | None
    ) -> None:
        self.row = row
        self.resolve = resolve
        self.context = context
        self.scope: dict[str, Mapping[str, Any]] = {}

    def value(self, expr: Expr) -> Any:
        match expr:
            case Literal(value):
                return value
            case Property(path):
                return self.property(path)
            case Compare(op, left, right):
                return self.compare(op, left, right)
            case Logical("and", left, right):
                a = _truth(self.value(left), "binary operator 'And'")
                b = _truth(self.value(right), "binary operator 'And'")
                if a is False or b is False:
                    return False
                return True if a and b else None
            case Logical(_, left, right):
                a = _truth(self.value(left), "binary operator 'Or'")
                b = _truth(self.value(right), "binary operator 'Or'")
                if a is True or b is True:
                    return True
                return False if a is False and b is False else None
            case Not(operand):
                inner = _truth(self.value(operand), "unary operator 'Not'")
                return None if inner is None else not inner
            case Call(name, args):
                return self.call(name, args)
            case QueryFunction():
                return self.query_function(expr)
            case Lambda():
                return self.lambda_(expr)
        raise TypeError(f"not an expression: {expr!r}")  # pragma: no cover

    def property(self, path: tuple[str, ...]) -> Any:
        if path[0] in self.scope:
            target = self.scope[path[0]]
            if len(path) == 1:
                return target
            if len(path) == 2:
                return target.get(path[1])
            raise _not_supported(f"The property path '{'/'.join(path)}' inside a lambda")
        if len(path) == 1:
            return self.row.get(path[0])
        if self.resolve is None:
            raise _not_supported(f"The navigation property path '{'/'.join(path)}'")
        return self.resolve("/".join(path))

    def compare(self, op: str, left: Expr, right: Expr) -> bool | None:
        a, b = self.value(left), self.value(right)
        null_literal = (isinstance(left, Literal) and left.value is None) or (
            isinstance(right, Literal) and right.value is None
        )
        if null_literal:
            if op == "eq":
                return a is None and b is None
            if op == "ne":
                return not (a is None and b is None)
            return False
        return compare_values(op, a, b)

    def call(self, name: str, args: tuple[Expr, ...]) -> bool | None:
        subject, pattern = (self.value(arg) for arg in args)
        if subject is None or pattern is None:
            return None
        if not isinstance(subject, str) or not isinstance(pattern, str):
            raise ODataError(
                f"No function signature for the function with name '{name}' matches the "
                f"specified arguments. The function signatures considered are: {name}("
                "Edm.String Nullable=true, Edm.String Nullable=true)."
            )
        return like_pattern(_LIKE_KINDS[name], pattern).fullmatch(subject.casefold()) is not None

    def query_function(self, fn: QueryFunction) -> bool | None:
        """A Dataverse query function: the ConditionOperator of the same meaning
        (:mod:`crm_ferry.emulator.conditions`), evaluated at the context's clock and caller."""
        op, operands = _prepared(fn)
        name = fn.property_name
        assert name is not None  # checked by the parser
        if self.context is None:
            self.context = Context.at()
        return op.check(self.property(tuple(name.split("/"))), operands, self.context)

    def lambda_(self, expr: Lambda) -> bool | None:
        path = "/".join(expr.path)
        if expr.path[0] in self.scope:
            raise _not_supported(f"A lambda operator on '{path}' inside another lambda")
        if self.resolve is None:
            raise _not_supported(f"The lambda operator '{expr.op}' on '{path}'")
        items: Iterable[Mapping[str, Any]] = self.resolve(path) or ()
        if expr.body is None or expr.var is None:
            return any(True for _ in items)
        results: list[bool | None] = []
        for item in items:
            self.scope[expr.var] = item
            try:
                results.append(_truth(self.value(expr.body), f"lambda operator '{expr.op}'"))
            finally:
                del self.scope[expr.var]
        if expr.op == "any":
            return True if True in results else (None if None in results else False)
        return False if False in results else (None if None in results else True)


@lru_cache(maxsize=256)
def _prepared(fn: QueryFunction) -> tuple[Operator, tuple[Any, ...]]:
    """The operator of a query function and its operands (worked out once per function)."""
    op = FUNCTIONS.get(fn.name)
    if op is None:
        raise ODataError(
            f"The query function '{DATAVERSE_NAMESPACE}.{fn.name}' is not implemented by the "
            "emulator.",
            status=501,
        )
    if op.operands == "none":
        return op, op.prepare(())
    if op.operands in ("values", "pair"):
        values = fn.param("PropertyValues")
        return op, op.prepare(values if isinstance(values, tuple) else (values,))
    return op, op.prepare((fn.param("PropertyValue"),))


def evaluate(
    expr: Expr,
    row: Mapping[str, Any],
    resolve: Resolver | None = None,
    context: Context | None = None,
) -> bool:
    """Whether ``row`` matches the filter (unknown counts as no match).

    ``resolve(path)`` is called for what the row itself does not hold: a single-valued
    navigation path such as ``"parentcustomerid_account/name"`` (return the value, or None) and
    the collection of a lambda such as ``"contact_customer_accounts"`` (return an iterable of
    row mappings). Without a resolver those forms raise an ODataError with status 501.
    ``context`` is the clock and the caller the Dataverse query functions (``Today``,
    ``EqualUserId``...) are evaluated against; without one, the wall clock and no caller.

    >>> from crm_ferry.emulator.odata import parse_filter
    >>> evaluate(parse_filter("name eq 'CONTOSO'"), {"name": "Contoso"})
    True
    """
    try:
        result = _Evaluator(row, resolve, context).value(expr)
    except ConditionError as exc:
        raise ODataError(exc.message, status=exc.status) from None
    if result is not None and not isinstance(result, bool):
        raise ODataError("The $filter expression must evaluate to a single boolean value.")
    return result is True


def referenced_properties(expr: Expr) -> set[str]:
    """The property paths the expression reads from the row, joined with ``/``.

    Includes the PropertyName of query functions and the collection path of lambdas; paths
    relative to a lambda's range variable are left out (they belong to the related table).

    >>> from crm_ferry.emulator.odata import parse_filter
    >>> sorted(referenced_properties(parse_filter("a eq 1 and contains(b,'x')")))
    ['a', 'b']
    """
    found: set[str] = set()
    _collect(expr, frozenset(), found)
    return found


def condition_count(expr: Expr) -> int:
    """How many conditions a filter holds, as Dataverse counts them against its limit of 500
    (Filter rows, "Condition limits"): each comparison, string function and query function
    is one (``In`` with many values is one), a lambda adds those of its body; ``and``,
    ``or``, ``not`` and grouping add none.

    >>> from crm_ferry.emulator.odata import parse_filter
    >>> condition_count(parse_filter("a eq 1 and (b eq 2 or not contains(c,'x'))"))
    3
    """
    match expr:
        case Compare() | Call() | QueryFunction():
            return 1
        case Logical(_, left, right):
            return condition_count(left) + condition_count(right)
        case Not(operand):
            return condition_count(operand)
        case Lambda(body=body):
            return 1 if body is None else condition_count(body)
        case _:
            return 1 if isinstance(expr, Property) else 0


def _collect(expr: Expr, scope: frozenset[str], found: set[str]) -> None:
    match expr:
        case Property(path):
            if path[0] not in scope:
                found.add("/".join(path))
        case Compare(_, left, right) | Logical(_, left, right):
            _collect(left, scope, found)
            _collect(right, scope, found)
        case Not(operand):
            _collect(operand, scope, found)
        case Call(_, args):
            for arg in args:
                _collect(arg, scope, found)
        case QueryFunction():
            if (name := expr.property_name) is not None:
                found.add(name)
        case Lambda(path, _, var, body):
            if path[0] not in scope:
                found.add("/".join(path))
            if body is not None and var is not None:
                _collect(body, scope | {var}, found)
        case _:
            pass


def narrowing(expr: Expr) -> dict[str, tuple[Value, ...]]:
    """Values a matching row must hold: for each ``name: values``, every row the filter
    matches holds in ``name`` a value that ``eq`` (or ``In``) finds equal to one of
    ``values``. What an index can look rows up by instead of testing every row.

    ``name eq v`` and ``Microsoft.Dynamics.CRM.In(PropertyName='name',...)`` narrow ``name``;
    ``and`` keeps the narrowings of both sides, ``or`` those of properties both sides
    narrow (their values joined); anything else (``ne``, ``not``, functions, lambdas,
    navigation paths, ``eq null``) narrows nothing.

    >>> from crm_ferry.emulator.odata import parse_filter
    >>> narrowing(parse_filter("a eq 'x' or (a eq 'y' and b gt 1)"))
    {'a': ('x', 'y')}
    """
    match expr:
        case Compare("eq", Property((name,)), Literal(value)) if value is not None:
            return {name: (value,)}
        case Compare("eq", Literal(value), Property((name,))) if value is not None:
            return {name: (value,)}
        case QueryFunction("In"):
            values = expr.param("PropertyValues")
            prop = expr.property_name
            if prop is not None and "/" not in prop and isinstance(values, tuple):
                return {prop: values}
        case Logical("and", left, right):
            found = narrowing(left)
            for name, values in narrowing(right).items():
                if name not in found or len(values) < len(found[name]):
                    found[name] = values
            return found
        case Logical("or", left, right):
            a, b = narrowing(left), narrowing(right)
            return {name: a[name] + b[name] for name in a if name in b}
        case _:
            pass
    return {}


Kind = TypingLiteral["guid", "text", "number", "boolean"]
"""What a row holds in a column (or null): a GUID as canonical lower-case text, other text,
a number (``int``/``float``/``Decimal``, never ``bool``), a boolean."""


def raise_free(expr: Expr, kind_of: Callable[[str], Kind | None]) -> bool:
    """Whether evaluating ``expr`` cannot raise on any row whose values have the kinds
    ``kind_of(name)`` says (None: unknown). Only comparisons of a column with a literal of
    its kind (or with null), ``In``/``NotIn`` over such literals, ``Null``/``NotNull`` and
    ``and``/``or``/``not`` of those qualify; everything else answers False.

    An evaluation that cannot raise on any row gives the same answer whether every row is
    tested or only those an index found (see :func:`narrowing`).
    """
    match expr:
        case Logical(_, left, right):
            return raise_free(left, kind_of) and raise_free(right, kind_of)
        case Not(operand):
            return raise_free(operand, kind_of)
        case Compare(_, Property((name,)), Literal(value)) | Compare(
            _, Literal(value), Property((name,))
        ):
            return value is None or _fits(kind_of(name), value)
        case QueryFunction(fn, _) if fn in ("In", "NotIn", "Null", "NotNull"):
            prop = expr.property_name
            if prop is None or "/" in prop:
                return False
            if fn in ("Null", "NotNull"):
                return True
            values = expr.param("PropertyValues")
            kind = kind_of(prop)
            if not isinstance(values, tuple):
                return False
            # text is read as text against a GUID (never a date); other kinds only take
            # values that are not text (text would be parsed, and may not fit)
            return all(
                (kind == "guid" and isinstance(v, str))
                or (not isinstance(v, str) and _fits(kind, v))
                for v in values
            )
        case _:
            pass
    return False


def _fits(kind: Kind | None, value: object) -> bool:
    """Whether comparing a non-null value of ``kind`` with ``value`` cannot raise."""
    if kind == "guid":
        return isinstance(value, str | uuid.UUID)
    if kind == "text":
        return isinstance(value, str)
    if kind == "number":
        return _is_number(value)
    if kind == "boolean":
        return isinstance(value, bool)
    return False


def _sort_key(value: Any) -> tuple[int, Any]:
    if value is None:
        return (0, 0)
    if isinstance(value, str):
        return (1, value.casefold())
    if _is_number(value):
        return (1, Decimal(value))
    return (1, value)


def sort_rows(
    rows: Iterable[Mapping[str, Any]],
    orderby: Sequence[tuple[str, bool]],
    value_of: Callable[[Mapping[str, Any], str], Any] | None = None,
) -> list[Mapping[str, Any]]:
    """Rows sorted by ``[(name, descending), ...]``; stable, case-insensitive, nulls lowest.

    ``value_of(row, name)`` is what a row is sorted by (default: ``row.get(name)``); the
    emulator sorts lookups by the related row's name with it.

    >>> [r["n"] for r in sort_rows([{"n": "b"}, {"n": None}, {"n": "A"}], [("n", False)])]
    [None, 'A', 'b']
    """
    result = list(rows)
    for name, descending in reversed(orderby):
        if value_of is None:
            result.sort(key=lambda row: _sort_key(row.get(name)), reverse=descending)
        else:
            get = value_of
            result.sort(key=lambda row: _sort_key(get(row, name)), reverse=descending)
    return result
