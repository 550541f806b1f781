"""A FetchXML filter and the equivalent OData ``$filter`` return the same rows.

Both are translated by Dataverse to the same SQL (FetchXML's condition operators and the Web
API's comparisons and query functions are one set of ConditionOperators, Use Web API
functions, https://learn.microsoft.com/power-apps/developer/data-platform/webapi/use-web-api-functions),
so for any filter built from ``eq ne gt ge lt le``, ``like`` / ``begins-with`` /
``ends-with`` (``contains`` / ``startswith`` / ``endswith``), ``null`` / ``not-null``
(``eq null`` / ``ne null``), ``in`` / ``not-in`` and ``between`` / ``not-between`` (the query
functions), nested ``and`` / ``or``, the two answers must be the same rows in the same order
(both order by the primary key when no order is given).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote
from xml.sax.saxutils import quoteattr

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crm_ferry.emulator.core import Emulator

BASE = "https://equivalence.emulator.test/api/data/v9.2/"

ROWS: list[dict[str, Any]] = [
    {"name": "Alpha", "numberofemployees": 10, "address1_city": "Redmond", "industrycode": 1},
    {"name": "alpha two", "numberofemployees": 3, "address1_city": "redmond"},
    {"name": "Beta's", "numberofemployees": 20, "address1_city": "Seattle", "industrycode": 2},
    {"name": "b_ta", "address1_city": "Paris & Co"},
    {"name": "100% real", "numberofemployees": 0, "industrycode": 3},
    {"name": "Gamma", "numberofemployees": 7, "industrycode": 1},
    {"numberofemployees": 10, "address1_city": "Seattle"},
    {"name": "delta", "numberofemployees": 15, "address1_city": "Oslo", "industrycode": 2},
]

TEXTS = st.sampled_from(["alpha", "Alpha", "b", "a", "_", "%", "beta's", "Paris & Co", "x", "ta"])
NUMBERS = st.integers(-1, 21)


@dataclass(frozen=True)
class Leaf:
    fetch: str
    odata: str


def _text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _condition(attribute: str, operator: str, values: list[Any] | None = None) -> str:
    if values is None:
        return f"<condition attribute='{attribute}' operator='{operator}'/>"
    if len(values) == 1 and operator not in ("in", "not-in"):
        return (
            f"<condition attribute='{attribute}' operator='{operator}' "
            f"value={quoteattr(str(values[0]))}/>"
        )
    inner = "".join(f"<value>{_escape(str(v))}</value>" for v in values)
    return f"<condition attribute='{attribute}' operator='{operator}'>{inner}</condition>"


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;")


def _function(name: str, attribute: str, values: list[Any]) -> str:
    items = ",".join('"' + str(v).replace('"', '\\"') + '"' for v in values)
    return f"Microsoft.Dynamics.CRM.{name}(PropertyName='{attribute}',PropertyValues=[{items}])"


def _leaves() -> st.SearchStrategy[Leaf]:
    text_column = st.sampled_from(["name", "address1_city"])
    comparisons = st.sampled_from(["eq", "ne", "gt", "ge", "lt", "le"])
    likes = st.sampled_from(
        [
            ("like", "contains", True),
            ("begins-with", "startswith", False),
            ("ends-with", "endswith", False),
            ("not-like", "contains", True),
        ]
    )

    def compare_text(a: str, op: str, v: str) -> Leaf:
        return Leaf(_condition(a, op, [v]), f"{a} {op} {_text(v)}")

    def compare_number(op: str, v: int) -> Leaf:
        return Leaf(_condition("numberofemployees", op, [v]), f"numberofemployees {op} {v}")

    def like(a: str, kind: tuple[str, str, bool], v: str) -> Leaf:
        operator, function, wrapped = kind
        pattern = f"%{v}%" if wrapped else v
        odata = f"{function}({a},{_text(v)})"
        return Leaf(
            _condition(a, operator, [pattern]),
            f"not {odata}" if operator == "not-like" else odata,
        )

    def null(a: str, negate: bool) -> Leaf:
        return Leaf(
            _condition(a, "not-null" if negate else "null"), f"{a} {'ne' if negate else 'eq'} null"
        )

    def member(a: str, negate: bool, values: list[str]) -> Leaf:
        operator, function = ("not-in", "NotIn") if negate else ("in", "In")
        return Leaf(_condition(a, operator, values), _function(function, a, values))

    def between(negate: bool, low: int, high: int) -> Leaf:
        operator, function = ("not-between", "NotBetween") if negate else ("between", "Between")
        values = [low, high]
        return Leaf(
            _condition("numberofemployees", operator, values),
            _function(function, "numberofemployees", values),
        )

    def choice(op: str, v: int) -> Leaf:
        return Leaf(_condition("industrycode", op, [v]), f"industrycode {op} {v}")

    return st.one_of(
        st.builds(compare_text, text_column, st.sampled_from(["eq", "ne"]), TEXTS),
        st.builds(compare_number, comparisons, NUMBERS),
        st.builds(like, text_column, likes, TEXTS),
        st.builds(
            null,
            st.sampled_from(["name", "address1_city", "numberofemployees", "industrycode"]),
            st.booleans(),
        ),
        st.builds(member, text_column, st.booleans(), st.lists(TEXTS, min_size=1, max_size=3)),
        st.builds(between, st.booleans(), NUMBERS, NUMBERS),
        st.builds(choice, st.sampled_from(["eq", "ne"]), st.integers(1, 3)),
    )


def _combine(kind: str, parts: list[Leaf]) -> Leaf:
    fetch = f"<filter type='{kind}'>" + "".join(p.fetch for p in parts) + "</filter>"
    odata = f" {kind} ".join(f"({p.odata})" for p in parts)
    return Leaf(fetch, odata)


FILTERS: st.SearchStrategy[Leaf] = st.recursive(
    _leaves().map(lambda leaf: _combine("and", [leaf])),
    lambda inner: st.builds(
        _combine, st.sampled_from(["and", "or"]), st.lists(inner, min_size=1, max_size=3)
    ),
    max_leaves=6,
)


@pytest.fixture(scope="module")
def http() -> Iterator[httpx.Client]:
    em = Emulator()
    client = httpx.Client(transport=httpx.MockTransport(em.handle), base_url=BASE)
    for row in ROWS:
        assert client.post("accounts", json=row).status_code == 204
    yield client
    client.close()
    em.close()


def _answer(response: httpx.Response) -> Any:
    if response.status_code != 200:
        return response.status_code, response.json()["error"]["code"]
    return [row["accountid"] for row in response.json()["value"]]


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(FILTERS)
def test_a_fetchxml_filter_and_its_odata_filter_return_the_same_rows(
    http: httpx.Client, flt: Leaf
) -> None:
    xml = f"<fetch><entity name='account'><attribute name='name'/>{flt.fetch}</entity></fetch>"
    by_fetch = http.get(f"accounts?fetchXml={quote(xml)}")
    by_odata = http.get(f"accounts?$select=name&$filter={quote(flt.odata)}")
    assert by_fetch.status_code == 200, (xml, by_fetch.text)
    assert _answer(by_fetch) == _answer(by_odata), (xml, flt.odata)


def test_the_property_sees_rows_on_both_sides(http: httpx.Client) -> None:
    """The rows above make the filters tell apart: a filter keeps some and drops others."""
    flt = _combine("or", [Leaf(_condition("name", "like", ["%a%"]), "contains(name,'a')")])
    xml = f"<fetch><entity name='account'>{flt.fetch}</entity></fetch>"
    kept = _answer(http.get(f"accounts?fetchXml={quote(xml)}"))
    assert 0 < len(kept) < len(ROWS)
