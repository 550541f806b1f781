"""Rows found by index give the answers testing every row gives; pages follow the cookie.

A ``$filter`` that names rows by primary id or by a lookup's value (``eq``,
``Microsoft.Dynamics.CRM.In``, ``or``-chains, ``and`` with other conditions) reads only
those rows (records/reads.py ``_candidates``); everything else tests every row. The property
tests below compare the emulator's answers with the answer of testing every row the way the
emulator did before it had indexes (each row represented, then the filter evaluated on it),
errors included; the others check that the index is used, and kept up to date by writes and
deletes. Paging without ``$orderby`` continues after the last row of the page before, as
Dataverse's paging cookie does (records/handlers.py ``query_collection``).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crm_ferry.emulator import odata
from crm_ferry.emulator.conditions import ConditionError
from crm_ferry.emulator.conditions.values import equal_text
from crm_ferry.emulator.core import Emulator
from crm_ferry.emulator.records import make_ctx, represent
from crm_ferry.emulator.records.reads import ReadCache, RowView
from crm_ferry.emulator.store import Store
from helpers.webapi import batch_body, batch_request, change_set

BASE = "https://index.emulator.test/api/data/v9.2/"
FILTER = "https://learn.microsoft.com/power-apps/developer/data-platform/webapi/query/filter-rows"

ACCOUNTS = ["Acme", "Globex", "Initech"]
CONTACTS: list[dict[str, Any]] = [
    {"firstname": "Ada", "jobtitle": "Engineer", "donotemail": True, "gendercode": 2},
    {"firstname": "ada", "jobtitle": "2024-01-05", "creditlimit": 10.5, "gendercode": 1},
    {"firstname": "Alan", "jobtitle": "2024-01-05T10:00:00Z", "importsequencenumber": 3},
    {"firstname": "Grace", "donotemail": False, "creditlimit": 0, "importsequencenumber": 7},
    {"lastname": "Nobody"},
    {"firstname": "Edsger", "jobtitle": "Professor", "gendercode": 1, "creditlimit": 99},
    {"firstname": "Barbara", "importsequencenumber": 3, "donotemail": True},
    {"firstname": "Ken", "jobtitle": "Engineer"},
]


def _id(response: httpx.Response) -> str:
    assert response.status_code == 204, response.text
    url = response.headers["OData-EntityId"]
    return url[url.rindex("(") + 1 : -1]


class Tenant:
    """Accounts and contacts (some pointing at an account or a contact, some closed)."""

    def __init__(self) -> None:
        self.em = Emulator()
        self.http = httpx.Client(transport=httpx.MockTransport(self.em.handle), base_url=BASE)
        self.accounts = [_id(self.http.post("accounts", json={"name": n})) for n in ACCOUNTS]
        self.contacts: list[str] = []
        for i, body in enumerate(CONTACTS):
            body = dict(body)
            if i % 3 == 0:
                body["parentcustomerid_account@odata.bind"] = f"/accounts({self.accounts[i % 2]})"
            elif i % 3 == 1 and self.contacts:
                body["parentcustomerid_contact@odata.bind"] = f"/contacts({self.contacts[0]})"
            self.contacts.append(_id(self.http.post("contacts", json=body)))
        closed = self.http.patch(
            f"contacts({self.contacts[5]})", json={"statecode": 1}, headers={"If-Match": "*"}
        )
        assert closed.status_code == 204, closed.text
        self.entity = self.em.schema.entity("contact")
        assert self.entity is not None

    def ids(self) -> list[str]:
        return self.accounts + self.contacts

    def query(self, flt: str, orderby: str | None) -> tuple[int, Any]:
        params = {"$filter": flt, "$select": "contactid"}
        if orderby:
            params["$orderby"] = orderby
        r = self.http.get("contacts", params=params)
        if r.status_code != 200:
            return r.status_code, r.json()["error"]["message"]
        return 200, [row["contactid"] for row in r.json()["value"]]

    def scan(self, flt: str, orderby: str | None) -> tuple[int, Any]:
        """Every row represented and tested: the emulator's answer before indexes."""
        params = {"$filter": flt}
        if orderby:
            params["$orderby"] = orderby
        try:
            opts = odata.parse_query(params)
            assert opts.filter is not None
            ctx = make_ctx(httpx.Request("GET", BASE + "contacts"))
            reps = [
                represent(self.em, ctx, self.entity, row, None, [])
                for row in self.em.store.rows("contact")
            ]
            found = [rep for rep in reps if odata.evaluate(opts.filter, rep)]
            if opts.orderby:
                found = [dict(r) for r in odata.sort_rows(found, opts.orderby)]
        except odata.ODataError as exc:
            return exc.status, exc.message
        return 200, [rep["contactid"] for rep in found]


@pytest.fixture(scope="module")
def tenant() -> Iterator[Tenant]:
    t = Tenant()
    yield t
    t.http.close()


# -- filters ------------------------------------------------------------------------------


def guid_literals(tenant: Tenant) -> st.SearchStrategy[str]:
    """A GUID as a filter writes it: bare (a GUID literal), quoted, quoted in upper case."""
    known = st.sampled_from(tenant.ids())
    unknown = st.uuids().map(str)
    return st.tuples(st.one_of(known, unknown), st.sampled_from(["bare", "lower", "upper"])).map(
        lambda p: p[0] if p[1] == "bare" else f"'{p[0] if p[1] == 'lower' else p[0].upper()}'"
    )


def leaves(tenant: Tenant) -> st.SearchStrategy[str]:
    guid = guid_literals(tenant)
    by_id = st.sampled_from(["contactid", "_parentcustomerid_value", "_ownerid_value"])
    values = st.lists(guid, max_size=4).map(",".join)
    text = st.sampled_from(["'ada'", "'Engineer'", "'2024-01-05'", "null", "2024-01-05", "3"])
    number = st.sampled_from(["3", "0", "10.5", "null", "'3'", "true"])
    return st.one_of(
        st.tuples(by_id, st.sampled_from(["eq", "ne", "gt"]), guid).map(" ".join),
        st.tuples(by_id, values).map(
            lambda p: f"Microsoft.Dynamics.CRM.In(PropertyName='{p[0]}',PropertyValues=[{p[1]}])"
        ),
        st.tuples(by_id, values).map(
            lambda p: f"Microsoft.Dynamics.CRM.NotIn(PropertyName='{p[0]}',PropertyValues=[{p[1]}])"
        ),
        st.tuples(
            st.sampled_from(["firstname", "jobtitle"]), st.sampled_from(["eq", "ne"]), text
        ).map(" ".join),
        st.tuples(
            st.sampled_from(["importsequencenumber", "creditlimit", "gendercode", "statecode"]),
            st.sampled_from(["eq", "ne", "gt", "le"]),
            number,
        ).map(" ".join),
        st.sampled_from(["true", "false", "null"]).map(lambda v: f"donotemail eq {v}"),
        st.sampled_from(["contains(firstname,'a')", "firstname eq lastname"]),
        st.sampled_from(["contactid", "_parentcustomerid_value"]).map(
            lambda p: f"Microsoft.Dynamics.CRM.Null(PropertyName='{p}')"
        ),
        st.sampled_from(["'ada'", "'Engineer'", "3"]).map(
            lambda v: f"Microsoft.Dynamics.CRM.In(PropertyName='jobtitle',PropertyValues=[{v}])"
        ),
    )


def filters(tenant: Tenant) -> st.SearchStrategy[str]:
    return st.recursive(
        leaves(tenant),
        lambda inner: st.one_of(
            st.tuples(inner, st.sampled_from(["and", "or"]), inner).map(
                lambda p: f"({p[0]}) {p[1]} ({p[2]})"
            ),
            inner.map(lambda f: f"not ({f})"),
        ),
        max_leaves=5,
    )


ORDERBY = st.sampled_from([None, "firstname", "firstname desc,importsequencenumber"])


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_indexed_answers_equal_a_full_scan(tenant: Tenant, data: st.DataObject) -> None:
    flt = data.draw(filters(tenant))
    orderby = data.draw(ORDERBY)
    assert tenant.query(flt, orderby) == tenant.scan(flt, orderby)


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_id_lists_and_or_chains_equal_a_full_scan(tenant: Tenant, data: st.DataObject) -> None:
    """What verify and rollback send: ids in ``In``, or ``or``-chains of ``eq``."""
    guid = guid_literals(tenant)
    prop = data.draw(st.sampled_from(["contactid", "_parentcustomerid_value"]))
    values = data.draw(st.lists(guid, min_size=1, max_size=6))
    chain = " or ".join(f"{prop} eq {v}" for v in values)
    listed = f"Microsoft.Dynamics.CRM.In(PropertyName='{prop}',PropertyValues=[{','.join(values)}])"
    for flt in (chain, listed, f"({chain}) and statecode eq 0"):
        assert tenant.query(flt, None) == tenant.scan(flt, None)


# -- the index is used, and kept up to date --------------------------------------------------


def test_rows_named_by_id_are_read_without_a_scan(
    tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_scan(self: Store, entity: str) -> Iterator[dict[str, Any]]:
        raise AssertionError(f"scanned {entity}")

    monkeypatch.setattr(Store, "rows", no_scan)
    ids = tenant.contacts[:3]
    listed = ",".join(f"'{i.upper()}'" for i in ids)
    status, found = tenant.query(
        f"Microsoft.Dynamics.CRM.In(PropertyName='contactid',PropertyValues=[{listed}])", None
    )
    assert (status, found) == (200, sorted(ids))
    parent = tenant.accounts[0]
    status, found = tenant.query(f"_parentcustomerid_value eq {parent} and statecode eq 0", None)
    assert status == 200
    assert found
    assert all(i in tenant.contacts for i in found)


def test_a_filter_that_may_raise_still_tests_every_row(tenant: Tenant) -> None:
    """``creditlimit eq 'x'`` compares money with text: an error on a row that holds a value,
    so the rows the id names are not enough to answer (Dataverse refuses it outright)."""
    flt = f"contactid eq {tenant.contacts[4]} and creditlimit eq 'x'"
    status, message = tenant.query(flt, None)
    assert status == 400
    assert "incompatible types" in message
    assert (status, message) == tenant.scan(flt, None)


def test_the_lookup_index_follows_writes_and_deletes() -> None:
    t = Tenant()
    try:
        acme, globex = t.accounts[0], t.accounts[1]
        flt = f"_parentcustomerid_value eq {acme}"
        before = t.query(flt, None)
        assert before == t.scan(flt, None)
        moved = t.contacts[0]
        r = t.http.patch(
            f"contacts({moved})",
            json={"parentcustomerid_account@odata.bind": f"/accounts({globex})"},
            headers={"If-Match": "*"},
        )
        assert r.status_code == 204, r.text
        assert moved not in t.query(flt, None)[1]
        assert moved in t.query(f"_parentcustomerid_value eq {globex}", None)[1]
        new = _id(
            t.http.post(
                "contacts",
                json={
                    "lastname": "New",
                    "parentcustomerid_account@odata.bind": f"/accounts({acme})",
                },
            )
        )
        assert new in t.query(flt, None)[1]
        assert t.http.delete(f"contacts({new})").status_code == 204
        assert new not in t.query(flt, None)[1]
        assert t.query(flt, None) == t.scan(flt, None)
        # a failed change set leaves the index as the rows are
        patch = {"Content-Type": "application/json", "If-Match": "*"}
        moved = f'{{"parentcustomerid_account@odata.bind": "/accounts({globex})"}}'
        content_type, batch = batch_body(
            change_set(
                batch_request("PATCH", f"{BASE}contacts({t.contacts[3]})", moved, headers=patch),
                batch_request("PATCH", f"{BASE}contacts({uuid.uuid4()})", "{}", headers=patch),
                boundary="c",
            ),
            boundary="b",
        )
        r = t.http.post("$batch", content=batch, headers={"Content-Type": content_type})
        assert r.status_code == 400
        for parent in (acme, globex):
            f = f"_parentcustomerid_value eq {parent}"
            assert t.query(f, None) == t.scan(f, None)
    finally:
        t.http.close()


def test_deleting_a_row_cascades_through_the_index() -> None:
    """A contact's child contacts keep their rows without the link (parentcustomerid:
    contact_customer_contacts, RemoveLink in the contact table reference), and so does an
    account that names it as primary contact (RemoveLink)."""
    t = Tenant()
    try:
        parent = t.contacts[0]
        children = list(t.query(f"_parentcustomerid_value eq {parent}", None)[1])
        assert children
        holder = t.accounts[2]
        r = t.http.patch(
            f"accounts({holder})",
            json={"primarycontactid@odata.bind": f"/contacts({parent})"},
            headers={"If-Match": "*"},
        )
        assert r.status_code == 204, r.text
        assert t.http.delete(f"contacts({parent})").status_code == 204
        for child in children:
            kept = t.http.get(f"contacts({child})")
            assert kept.status_code == 200
            assert kept.json()["_parentcustomerid_value"] is None
        account = t.http.get(f"accounts({holder})").json()
        assert account["_primarycontactid_value"] is None
        assert t.query(f"_parentcustomerid_value eq {parent}", None) == (200, [])
    finally:
        t.http.close()


# -- In over text, the fast way and the long way ------------------------------------------


@given(
    current=st.one_of(
        st.text(max_size=12),
        st.sampled_from(["2024-01-05", "2024-01-05T10:00:00Z", "ADA", "ß", "straße"]),
    ),
    values=st.lists(
        st.one_of(st.text(max_size=12), st.sampled_from(["ada", "2024-01-05", "STRASSE"])),
        max_size=5,
    ),
)
def test_in_over_text_equals_comparing_each_value(current: str, values: list[str]) -> None:
    fn = odata.QueryFunction("In", (("PropertyName", "p"), ("PropertyValues", tuple(values))))
    try:
        expected: Any = any(equal_text(current, v) for v in values)
    except ConditionError as exc:
        expected = exc.message
    try:
        got: Any = odata.evaluate(fn, {"p": current})
    except odata.ODataError as exc:
        got = exc.message
    assert got == expected


def test_a_row_view_reads_what_the_representation_holds(tenant: Tenant) -> None:
    ctx = make_ctx(httpx.Request("GET", BASE + "contacts"))
    for row in tenant.em.store.rows("contact"):
        rep = represent(tenant.em, ctx, tenant.entity, row, None, [])
        shape = ReadCache().shape(tenant.em, tenant.entity)
        view = RowView(row, shape.by_prop)
        # image columns are read only when selected (the representation leaves them out)
        images = {p for p, a in shape.by_prop.items() if a.type == "Image"}
        assert {k: v for k, v in view.items() if k not in images} == {
            k: v for k, v in rep.items() if not k.startswith("@")
        }


# -- paging ---------------------------------------------------------------------------------

PAGE = "https://learn.microsoft.com/power-apps/developer/data-platform/webapi/query/page-results"


def _pages(t: Tenant, url: str, size: int) -> list[list[dict[str, Any]]]:
    pages = []
    next_url: str | None = url
    while next_url:
        r = t.http.get(next_url, headers={"Prefer": f"odata.maxpagesize={size}"})
        assert r.status_code == 200, r.text
        body = r.json()
        pages.append(body["value"])
        next_url = body.get("@odata.nextLink")
    return pages


@pytest.mark.parametrize("size", [1, 2, 3, 5, 50])
@pytest.mark.parametrize(
    "query",
    [
        "contacts?$select=contactid",
        "contacts?$select=firstname&$filter=statecode eq 0",
        "contacts?$filter=contains(firstname,'a') or firstname eq null",
        "contacts?$select=lastname&$orderby=firstname desc",
        "accounts?$select=name",
    ],
)
def test_pages_hold_every_row_once_in_order(tenant: Tenant, query: str, size: int) -> None:
    # PAGE: follow @odata.nextLink until there is none
    whole = tenant.http.get(query).json()["value"]
    pages = _pages(tenant, query, size)
    assert all(len(p) <= size for p in pages)
    assert [r for p in pages for r in p] == whole
    assert len(pages) == max(1, -(-len(whole) // size))


def test_the_skiptoken_names_the_last_row_as_dataverse_does(tenant: Tenant) -> None:
    # PAGE: the example's nextLink: <cookie pagenumber="2" pagingcookie="<cookie page="1">
    # <contactid last="{...}" first="{...}" /></cookie>" istracking="False" />
    r = tenant.http.get("contacts?$select=contactid", headers={"Prefer": "odata.maxpagesize=2"})
    body = r.json()
    token = parse_qs(urlsplit(body["@odata.nextLink"]).query)["$skiptoken"][0]
    assert token.startswith('<cookie pagenumber="2" pagingcookie="')
    inner = unquote(token.split('pagingcookie="')[1].split('"')[0])
    first, last = (row["contactid"].upper() for row in (body["value"][0], body["value"][-1]))
    assert inner == f'<cookie page="1"><contactid last="{{{last}}}" first="{{{first}}}" /></cookie>'


def test_a_row_written_before_the_cookie_does_not_shift_the_next_page() -> None:
    """The next page starts after the last row returned, whatever was written since
    (a page number alone would skip or repeat rows)."""
    t = Tenant()
    try:
        url = "contacts?$select=contactid"
        first = t.http.get(url, headers={"Prefer": "odata.maxpagesize=3"}).json()
        shown = [r["contactid"] for r in first["value"]]
        # a row whose id sorts first: with page numbers it would push one row onto page 2
        t.http.post("contacts", json={"contactid": "00000000-0000-4000-8000-000000000001"})
        rest = _pages(t, first["@odata.nextLink"], 3)
        after = [r["contactid"] for p in rest for r in p]
        everything = sorted(set(t.contacts))
        assert after == [i for i in everything if i > shown[-1]]
        assert not set(after) & set(shown)
    finally:
        t.http.close()


def test_a_page_number_alone_still_pages(tenant: Tenant) -> None:
    whole = tenant.http.get("contacts?$select=contactid").json()["value"]
    token = '<cookie pagenumber="2" pagingcookie="" istracking="False" />'
    r = tenant.http.get(
        "contacts",
        params={"$select": "contactid", "$skiptoken": token},
        headers={"Prefer": "odata.maxpagesize=3"},
    )
    assert r.status_code == 200, r.text
    assert r.json()["value"] == whole[3:6]


def test_top_and_count_still_cut_from_the_whole_answer(tenant: Tenant) -> None:
    whole = tenant.http.get("contacts?$select=contactid").json()["value"]
    top = tenant.http.get("contacts?$select=contactid&$top=3").json()
    assert top["value"] == whole[:3]
    assert "@odata.nextLink" not in top
    counted = tenant.http.get(
        "contacts?$select=contactid&$count=true", headers={"Prefer": "odata.maxpagesize=2"}
    ).json()
    assert counted["@odata.count"] == len(whole)
    assert counted["value"] == whole[:2]
