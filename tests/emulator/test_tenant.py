"""The default Sales tenant: tables, columns, choices, navigation properties, seed rows."""

from __future__ import annotations

import httpx
import pytest

from crm_ferry.emulator import tenant
from crm_ferry.emulator.core import CoreConfig, Emulator
from crm_ferry.emulator.schema import Schema

ACCOUNT = (
    "https://learn.microsoft.com/power-apps/developer/data-platform/reference/entities/account"
)
CONTACT = (
    "https://learn.microsoft.com/power-apps/developer/data-platform/reference/entities/contact"
)
ANNOTATION = (
    "https://learn.microsoft.com/power-apps/developer/data-platform/reference/entities/annotation"
)
PARTY = "https://learn.microsoft.com/power-apps/developer/data-platform/activityparty-entity"
OPPORTUNITY = "https://learn.microsoft.com/dynamics365/sales/developer/entities/opportunity"
INVOICE = "https://learn.microsoft.com/dynamics365/sales/developer/entities/invoice"
ORG = (
    "https://learn.microsoft.com/power-apps/developer/data-platform/reference/entities/organization"
)
PUBLISHER = (
    "https://learn.microsoft.com/power-apps/developer/data-platform/reference/entities/publisher"
)
BULK = "https://learn.microsoft.com/power-apps/developer/data-platform/bulk-operations"


@pytest.fixture(scope="module")
def schema() -> Schema:
    return tenant.build_schema()


def test_tables_have_real_names(schema: Schema) -> None:
    expected = {
        "contact": ("contacts", "contactid", "fullname"),
        "account": ("accounts", "accountid", "name"),
        "opportunity": ("opportunities", "opportunityid", "name"),
        "invoice": ("invoices", "invoiceid", "name"),
        "invoicedetail": ("invoicedetails", "invoicedetailid", "invoicedetailname"),
        "transactioncurrency": ("transactioncurrencies", "transactioncurrencyid", "currencyname"),
        "phonecall": ("phonecalls", "activityid", "subject"),
        "opportunityclose": ("opportunitycloses", "activityid", "subject"),
        "annotation": ("annotations", "annotationid", "subject"),
    }
    for name, (set_name, pk, primary) in expected.items():
        entity = schema.entity(name)
        assert entity is not None, name
        assert (entity.entity_set_name, entity.primary_id, entity.primary_name) == (
            set_name,
            pk,
            primary,
        )
        assert schema.by_entity_set(set_name) is entity


def test_option_values(schema: Schema) -> None:
    # ACCOUNT industrycode 1–33; CONTACT gendercode 1 Male 2 Female; PARTY masks 1–12
    industry = schema.entities["account"].attributes["industrycode"].option_set
    assert industry is not None
    assert industry.values() == list(range(1, 34))
    assert industry.option(7).label == "Consulting"  # type: ignore[union-attr]
    gender = schema.entities["contact"].attributes["gendercode"].option_set
    assert [(o.value, o.label) for o in gender.options] == [(1, "Male"), (2, "Female")]  # type: ignore[union-attr]
    masks = schema.entities["activityparty"].attributes["participationtypemask"].option_set
    assert masks.values() == list(range(1, 13))  # type: ignore[union-attr]


def test_state_and_status_pairs(schema: Schema) -> None:
    # OPPORTUNITY / INVOICE statuscode metadata
    status = schema.entities["opportunity"].attributes["statuscode"].option_set
    assert {o.value: o.state for o in status.options} == {1: 0, 2: 0, 3: 1, 4: 2, 5: 2}  # type: ignore[union-attr]
    invoice = schema.entities["invoice"].attributes["statuscode"].option_set
    pairs = {o.value: o.state for o in invoice.options}  # type: ignore[union-attr]
    assert pairs[100001] == 2
    assert pairs[100002] == 2
    assert pairs[100003] == 3


def test_column_details(schema: Schema) -> None:
    # CONTACT birthdate DateOnly; overriddencreatedon create-only where the page says so;
    # required levels as the Sales reference gives them
    birth = schema.entities["contact"].attributes["birthdate"]
    assert (birth.type, birth.datetime_behavior, birth.format) == (
        "DateTime",
        "DateOnly",
        "DateOnly",
    )
    for name in ("contact", "account", "phonecall", "annotation", "email", "task"):
        over = schema.entities[name].attributes["overriddencreatedon"]
        assert over.valid_for_create, name
        assert not over.valid_for_update, name
    inv = schema.entities["invoice"].attributes
    assert {n for n, a in inv.items() if a.required == "ApplicationRequired"} >= {
        "customerid",
        "pricelevelid",
    }
    assert schema.entities["invoicedetail"].attributes["quantity"].required == "ApplicationRequired"
    assert schema.entities["contact"].attributes["firstname"].max_length == 50


@pytest.mark.parametrize(
    ("table", "nav", "target"),
    [
        ("contact", "parentcustomerid_account", "account"),
        ("contact", "parentcustomerid_contact", "contact"),
        ("opportunity", "customerid_contact", "contact"),
        ("invoice", "customerid_account", "account"),
        ("invoice", "pricelevelid", "pricelevel"),
        ("invoice", "transactioncurrencyid", "transactioncurrency"),
        ("invoicedetail", "invoiceid", "invoice"),
        ("opportunityclose", "opportunityid", "opportunity"),
        ("account", "primarycontactid", "contact"),
        ("annotation", "objectid_contact", "contact"),
        ("annotation", "objectid_invoice", "invoice"),
        ("annotation", "objectid_phonecall", "phonecall"),
        ("phonecall", "regardingobjectid_contact_phonecall", "contact"),
        ("email", "regardingobjectid_account_email", "account"),
        ("appointment", "regardingobjectid_opportunity_appointment", "opportunity"),
        ("activityparty", "partyid_systemuser", "systemuser"),
        ("activityparty", "partyid_contact", "contact"),
        ("contact", "ownerid", "systemuser"),
    ],
)
def test_navigation_properties(schema: Schema, table: str, nav: str, target: str) -> None:
    # ANNOTATION / PARTY / CONTACT: single-valued navigation property names
    rel = schema.navigation(table, nav)
    assert rel is not None
    assert rel.referenced_entity in (target, "systemuser")


def test_activity_party_collections(schema: Schema) -> None:
    # PARTY: "<activity>_activity_parties" collection-valued navigation
    for activity in ("phonecall", "email", "appointment"):
        navs = {r.referenced_nav for r in schema.one_to_many(activity)}
        assert f"{activity}_activity_parties" in navs


def test_seed_rows(core_emulator: Emulator) -> None:
    # ORG maxuploadfilesize; PUBLISHER default publisher; currencies; users
    org = core_emulator.store.get("organization", tenant.ORGANIZATION_ID)
    assert org is not None
    assert org["maxuploadfilesize"] == 5_242_880
    assert org["basecurrencyid"] == tenant.BASE_CURRENCY_ID
    publisher = core_emulator.store.get("publisher", tenant.DEFAULT_PUBLISHER_ID)
    assert publisher is not None
    assert publisher["uniquename"] == f"DefaultPublisher{tenant.ORGANIZATION_NAME}"
    assert (publisher["customizationprefix"], publisher["customizationoptionvalueprefix"]) == (
        "new",
        10000,
    )
    usd = core_emulator.store.get("transactioncurrency", tenant.BASE_CURRENCY_ID)
    assert usd is not None
    assert (usd["isocurrencycode"], usd["exchangerate"]) == ("USD", 1.0)
    users = list(core_emulator.store.rows("systemuser"))
    assert any(u["isdisabled"] for u in users)
    assert all("@" in u["domainname"] for u in users)


def test_application_users(core_emulator: Emulator) -> None:
    assert core_emulator.application_user(tenant.DEFAULT_APP_CLIENT_ID) == (
        tenant.DEFAULT_APP_USER_ID,
        False,
    )
    assert core_emulator.application_user("unknown") is None
    first = core_emulator.register_application_user("ABC", "Loader")
    assert core_emulator.register_application_user("abc", "Loader") == first
    row = core_emulator.store.get("systemuser", first)
    assert row is not None
    assert row["applicationid"] == "abc"


def test_disabled_application_user() -> None:
    em = Emulator(CoreConfig(disabled_client_ids=frozenset({"off"})))
    user = em.register_application_user("off", "Disabled")
    assert em.application_user("off") == (user, True)
    em.close()


def test_bulk_capable_tables_are_configurable() -> None:
    # BULK: all custom tables; "many common standard tables, but not all" → configurable
    assert "CreateMultiple" in tenant.build_schema({"contact"}).entities["contact"].bulk_messages
    assert not tenant.build_schema(()).entities["contact"].bulk_messages
    em = Emulator(CoreConfig(bulk_standard_tables=frozenset()))
    r = em.handle(
        httpx.Request(
            "GET", "https://x.example/api/data/v9.2/WhoAmI", extensions={"crm_ferry.caller": None}
        )
    )
    assert r.json()["UserId"] == tenant.DEFAULT_APP_USER_ID
    em.close()


def test_bulk_support_can_be_probed_through_sdkmessagefilters() -> None:
    # BULK: "GET sdkmessagefilters?$filter=sdkmessageid/name eq @message and
    # primaryobjecttypecode eq @table" is non-empty when the table supports the message
    em = Emulator(CoreConfig(bulk_standard_tables=frozenset({"account"})))
    with httpx.Client(
        transport=httpx.MockTransport(em.handle), base_url="https://x.example/api/data/v9.2/"
    ) as api:
        found = {}
        for table in ("account", "contact"):
            r = api.get(
                "sdkmessagefilters",
                params={
                    "$select": "sdkmessagefilterid",
                    "$filter": "sdkmessageid/name eq @message and primaryobjecttypecode eq @table",
                    "@message": "'CreateMultiple'",
                    "@table": f"'{table}'",
                },
            )
            assert r.status_code == 200, r.text
            found[table] = len(r.json()["value"])
        assert found == {"account": 1, "contact": 0}
        assert api.post("sdkmessages", json={}).status_code == 405
    em.close()
