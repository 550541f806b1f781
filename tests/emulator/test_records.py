"""Create, retrieve, update, upsert and delete through raw Web API requests."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from crm_ferry.emulator import tenant
from crm_ferry.emulator.core import Emulator
from crm_ferry.emulator.schema import KeyDef

CREATE = (
    "https://learn.microsoft.com/power-apps/developer/data-platform/webapi/create-entity-web-api"
)
UPDATE = "https://learn.microsoft.com/power-apps/developer/data-platform/webapi/update-delete-entities-using-web-api"
UPSERT = (
    "https://learn.microsoft.com/power-apps/developer/data-platform/use-upsert-insert-update-record"
)
CONDITIONAL = "https://learn.microsoft.com/power-apps/developer/data-platform/webapi/perform-conditional-operations-using-web-api"
ALT_KEY = "https://learn.microsoft.com/power-apps/developer/data-platform/use-alternate-key-reference-record"
ASSOCIATE = "https://learn.microsoft.com/power-apps/developer/data-platform/webapi/associate-disassociate-entities-using-web-api"
CASCADE = "https://learn.microsoft.com/power-apps/developer/data-platform/configure-entity-relationship-cascading-behavior"
PARTY = "https://learn.microsoft.com/power-apps/developer/data-platform/activityparty-entity"
RETRIEVE = "https://learn.microsoft.com/power-apps/developer/data-platform/webapi/retrieve-entity-using-web-api"

REP = {"Prefer": "return=representation"}
USD = f"/transactioncurrencies({tenant.BASE_CURRENCY_ID})"


def _id_from(response: httpx.Response) -> str:
    url = response.headers["OData-EntityId"]
    return url[url.rindex("(") + 1 : -1]


def add_key(em: Emulator, table: str, *columns: str, status: str = "Active") -> None:
    """An alternate key, as the metadata API would leave it once its index is built."""
    entity = em.schema.entity(table)
    assert entity is not None
    if any(c not in entity.attributes for c in columns):
        from crm_ferry.emulator.schema import AttributeDef

        for c in columns:
            entity.attributes.setdefault(
                c, AttributeDef(c, c, "String", max_length=100, is_custom=True)
            )
    name = f"{table}_{'_'.join(columns)}_key"
    key = KeyDef(name, name, table, tuple(columns), status=status)  # type: ignore[arg-type]
    key.active_at = float("inf")  # a Pending key stays pending
    entity.keys[name] = key


def account(api: httpx.Client, **body: Any) -> str:
    r = api.post("accounts", json={"name": "Acme Coaching", **body})
    assert r.status_code == 204, r.text
    return _id_from(r)


# -- create --------------------------------------------------------------------------


def test_create_answers_204_with_odata_entity_id(api: httpx.Client) -> None:
    # CREATE: "If the entity is created, you'll receive HTTP status 204 ... OData-EntityId"
    r = api.post("accounts", json={"name": "Acme"})
    assert r.status_code == 204
    assert r.headers["OData-EntityId"].startswith(
        "https://contoso.crm.dynamics.com/api/data/v9.2/accounts("
    )
    assert not r.content


def test_create_with_representation_answers_201_without_entity_id(api: httpx.Client) -> None:
    # CREATE: "Create with data returned": 201, body, no OData-EntityId header
    r = api.post("accounts?$select=name", json={"name": "Acme"}, headers=REP)
    assert r.status_code == 201
    assert "OData-EntityId" not in r.headers
    body = r.json()
    assert body["@odata.context"].endswith("$metadata#accounts(name)/$entity")
    assert body["name"] == "Acme"
    assert body["@odata.etag"].startswith('W/"')
    assert uuid.UUID(body["accountid"])


def test_create_with_client_supplied_id_and_duplicate_is_412(api: httpx.Client) -> None:
    # CREATE; duplicate key → 412 DuplicateRecord (compose-http-requests-handle-errors)
    row_id = str(uuid.uuid4())
    r = api.post("contacts", json={"contactid": row_id, "lastname": "Ng"})
    assert _id_from(r) == row_id
    again = api.post("contacts", json={"contactid": row_id, "lastname": "Ng"})
    assert again.status_code == 412
    assert again.json()["error"] == {
        "code": "0x80040237",
        "message": "Cannot insert duplicate key.",
    }


def test_system_columns_on_create(api: httpx.Client, core_emulator: Emulator) -> None:
    # RETRIEVE: createdon/modifiedon/createdby and ownerid default to the caller
    r = api.post("contacts", json={"firstname": "Ada", "lastname": "Lovelace"}, headers=REP)
    body = r.json()
    assert body["fullname"] == "Ada Lovelace"
    assert body["createdon"] == "2026-01-02T03:04:05Z"
    assert body["modifiedon"] == "2026-01-02T03:04:05Z"
    assert body["_createdby_value"] == tenant.DEFAULT_APP_USER_ID
    assert body["_ownerid_value"] == tenant.DEFAULT_APP_USER_ID
    assert body["statecode"] == 0
    assert body["statuscode"] == 1


def test_caller_extension_sets_createdby(core_emulator: Emulator) -> None:
    # CREATE: createdby is the calling user
    user = tenant.SEED_USERS[1].id
    request = httpx.Request(
        "POST",
        "https://x.example/api/data/v9.2/contacts",
        json={"lastname": "Ng"},
        headers=REP,
        extensions={"crm_ferry.caller": user},
    )
    response = core_emulator.handle(request)
    assert response.status_code == 201
    assert response.json()["_createdby_value"] == user
    assert response.extensions["crm_ferry.records"] == 1


def test_overriddencreatedon_sets_createdon_on_create(api: httpx.Client) -> None:
    # reference §7.6 (overriddencreatedon "Date and time that the record was migrated")
    r = api.post(
        "contacts",
        json={"lastname": "Ng", "overriddencreatedon": "2019-05-06T07:08:09Z"},
        headers=REP,
    )
    assert r.json()["createdon"] == "2019-05-06T07:08:09Z"
    row_id = r.json()["contactid"]
    # not valid for update
    upd = api.patch(f"contacts({row_id})", json={"overriddencreatedon": "2020-01-01T00:00:00Z"})
    assert upd.status_code == 400


def test_etag_version_increases_per_write(api: httpx.Client) -> None:
    # CONDITIONAL: "@odata.etag" is the record's versionnumber
    first = api.post("contacts", json={"lastname": "A"}, headers=REP).json()
    row_id = first["contactid"]
    second = api.patch(f"contacts({row_id})", json={"lastname": "B"}, headers=REP).json()
    v1 = int(first["@odata.etag"][3:-1])
    v2 = int(second["@odata.etag"][3:-1])
    assert v2 > v1


# -- lookups -------------------------------------------------------------------------


def test_bind_forms_and_lookup_read_back(api: httpx.Client) -> None:
    # CREATE "Associate table rows on create"; lookup properties read as _x_value
    acc = account(api)
    forms = [
        f"/accounts({acc})",
        f"accounts({acc})",
        f"https://contoso.crm.dynamics.com/api/data/v9.2/accounts({acc})",
    ]
    for form in forms:
        r = api.post(
            "contacts",
            json={"lastname": "Ng", "parentcustomerid_account@odata.bind": form},
            headers={**REP, "Prefer": 'return=representation,odata.include-annotations="*"'},
        )
        assert r.status_code == 201, r.text
        body = r.json()
        assert body["_parentcustomerid_value"] == acc
        assert body["_parentcustomerid_value@Microsoft.Dynamics.CRM.lookuplogicalname"] == "account"
        assert (
            body["_parentcustomerid_value@Microsoft.Dynamics.CRM.associatednavigationproperty"]
            == "parentcustomerid_account"
        )


def test_bind_by_alternate_key(api: httpx.Client, core_emulator: Emulator) -> None:
    # ALT_KEY: "/accounts(accountnumber='ABC123')"
    add_key(core_emulator, "account", "accountnumber")
    acc = account(api, accountnumber="ABC123")
    r = api.post(
        "contacts",
        json={
            "lastname": "Ng",
            "parentcustomerid_account@odata.bind": "/accounts(accountnumber='ABC123')",
        },
        headers=REP,
    )
    assert r.json()["_parentcustomerid_value"] == acc


def test_owner_bind_to_team(api: httpx.Client) -> None:
    # CREATE: ownerid@odata.bind to /systemusers(...) or /teams(...)
    r = api.post(
        "contacts",
        json={"lastname": "Ng", "ownerid@odata.bind": f"/teams({tenant.DEFAULT_TEAM_ID})"},
        headers={"Prefer": 'return=representation,odata.include-annotations="*"'},
    )
    assert r.status_code == 201, r.text
    assert r.json()["_ownerid_value@Microsoft.Dynamics.CRM.lookuplogicalname"] == "team"


def test_expand_single_valued_navigation(api: httpx.Client) -> None:
    # RETRIEVE "Retrieve related table records by expanding single-valued navigation properties"
    acc = account(api)
    cid = _id_from(
        api.post(
            "contacts",
            json={"lastname": "Ng", "parentcustomerid_account@odata.bind": f"/accounts({acc})"},
        )
    )
    r = api.get(f"contacts({cid})?$select=lastname&$expand=parentcustomerid_account($select=name)")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["parentcustomerid_account"]["name"] == "Acme Coaching"
    assert body["parentcustomerid_account"]["accountid"] == acc
    assert set(body) >= {"lastname", "contactid", "@odata.etag"}
    other = api.get(f"contacts({cid})?$expand=parentcustomerid_contact").json()
    assert other["parentcustomerid_contact"] is None


def test_deep_insert_through_single_valued_navigation(api: httpx.Client) -> None:
    # CREATE "Create related table rows in one operation" (deep insert)
    r = api.post(
        "accounts",
        json={"name": "Parent", "primarycontactid": {"firstname": "Deep", "lastname": "Insert"}},
        headers=REP,
    )
    assert r.status_code == 201, r.text
    contact = r.json()["_primarycontactid_value"]
    assert api.get(f"contacts({contact})").json()["fullname"] == "Deep Insert"


def test_deep_insert_of_activity_parties(api: httpx.Client) -> None:
    # PARTY: "phonecall_activity_parties" with partyid_<table>@odata.bind and participationtypemask
    cid = _id_from(api.post("contacts", json={"lastname": "Ng"}))
    me = tenant.DEFAULT_APP_USER_ID
    r = api.post(
        "phonecalls",
        json={
            "subject": "Intro call",
            "regardingobjectid_contact_phonecall@odata.bind": f"/contacts({cid})",
            "phonecall_activity_parties": [
                {
                    "partyid_systemuser@odata.bind": f"/systemusers({me})",
                    "participationtypemask": 1,
                },
                {"partyid_contact@odata.bind": f"/contacts({cid})", "participationtypemask": 2},
            ],
        },
    )
    assert r.status_code == 204, r.text
    call = _id_from(r)
    parties = api.get(f"phonecalls({call})?$expand=phonecall_activity_parties").json()
    masks = sorted(p["participationtypemask"] for p in parties["phonecall_activity_parties"])
    assert masks == [1, 2]
    assert parties["_regardingobjectid_value"] == cid
    assert parties["activitytypecode"] == "phonecall"


# -- read ----------------------------------------------------------------------------


def test_get_missing_is_404(api: httpx.Client) -> None:
    # RETRIEVE; ObjectDoesNotExist → 404
    missing = str(uuid.uuid4())
    r = api.get(f"contacts({missing})")
    assert r.status_code == 404
    assert r.json()["error"] == {
        "code": "0x80040217",
        "message": f"contact With Id = {missing} Does Not Exist",
    }


def test_get_by_alternate_key_and_multipart_key(api: httpx.Client, core_emulator: Emulator) -> None:
    # ALT_KEY: "/contacts(firstname='Joe',emailaddress1='abc@example.com')"
    add_key(core_emulator, "contact", "new_practiceid")
    add_key(core_emulator, "contact", "firstname", "emailaddress1")
    cid = _id_from(
        api.post(
            "contacts",
            json={"firstname": "Joe", "emailaddress1": "abc@example.com", "new_practiceid": "C-1"},
        )
    )
    assert api.get("contacts(new_practiceid='C-1')").json()["contactid"] == cid
    both = api.get("contacts(firstname='Joe',emailaddress1='abc@example.com')")
    assert both.json()["contactid"] == cid
    missing = api.get("contacts(new_practiceid='C-404')")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "0x80060891"


def test_non_key_column_in_url_is_rejected(api: httpx.Client) -> None:
    # ALT_KEY: "The key in the request URI is not valid for resource ..."
    r = api.get("contacts(lastname='Ng')")
    assert r.status_code == 400
    assert r.json()["error"]["message"].startswith(
        "The key in the request URI is not valid for resource 'Microsoft.Dynamics.CRM.contact'."
    )


def test_pending_key_cannot_be_used(api: httpx.Client, core_emulator: Emulator) -> None:
    # https://learn.microsoft.com/power-apps/developer/data-platform/define-alternate-keys-entity
    # (the index is built asynchronously; EntityKeyIndexStatus Pending → Active)
    add_key(core_emulator, "contact", "new_practiceid", status="Pending")
    r = api.get("contacts(new_practiceid='C-1')")
    assert r.status_code == 400
    assert r.json()["error"]["code"] == "0x8006088F"


def test_conditional_get_304(api: httpx.Client) -> None:
    # CONDITIONAL "Conditional retrievals": If-None-Match with the current ETag → 304
    body = api.post("contacts", json={"lastname": "Ng"}, headers=REP).json()
    r = api.get(f"contacts({body['contactid']})", headers={"If-None-Match": body["@odata.etag"]})
    assert r.status_code == 304


# -- update / upsert -------------------------------------------------------------------


def test_patch_upsert_creates_then_updates(api: httpx.Client) -> None:
    # UPSERT: 204 either way; with return=representation 201 created / 200 updated
    row_id = str(uuid.uuid4())
    created = api.patch(f"contacts({row_id})", json={"lastname": "Ng"}, headers=REP)
    assert created.status_code == 201
    assert created.json()["contactid"] == row_id
    updated = api.patch(f"contacts({row_id})", json={"firstname": "Ana"}, headers=REP)
    assert updated.status_code == 200
    assert updated.json()["fullname"] == "Ana Ng"
    plain = api.patch(f"contacts({row_id})", json={"firstname": "Anna"})
    assert plain.status_code == 204
    assert plain.headers["OData-EntityId"].endswith(f"contacts({row_id})")


def test_upsert_by_alternate_key_copies_key_on_create(
    api: httpx.Client, core_emulator: Emulator
) -> None:
    # UPSERT: key values from the URL are copied into the created record
    add_key(core_emulator, "contact", "new_practiceid")
    r = api.patch("contacts(new_practiceid='P-42')", json={"lastname": "Ng"}, headers=REP)
    assert r.status_code == 201
    assert r.json()["new_practiceid"] == "P-42"
    again = api.patch("contacts(new_practiceid='P-42')", json={"firstname": "Ada"}, headers=REP)
    assert again.status_code == 200
    assert again.json()["contactid"] == r.json()["contactid"]


def test_alternate_key_uniqueness_is_case_insensitive(
    api: httpx.Client, core_emulator: Emulator
) -> None:
    # ALT_KEY (DuplicateRecordEntityKey, 412)
    add_key(core_emulator, "contact", "new_practiceid")
    api.post("contacts", json={"lastname": "A", "new_practiceid": "c-1"})
    r = api.post("contacts", json={"lastname": "B", "new_practiceid": "C-1"})
    assert r.status_code == 412
    assert r.json()["error"]["code"] == "0x80060892"


def test_if_match_star_prevents_create(api: httpx.Client) -> None:
    # UPDATE "Prevent create in upsert": If-Match: * → 404 when missing
    missing = str(uuid.uuid4())
    r = api.patch(f"accounts({missing})", json={"name": "x"}, headers={"If-Match": "*"})
    assert r.status_code == 404
    assert r.json()["error"]["message"] == f"account With Id = {missing} Does Not Exist"


def test_if_none_match_star_prevents_update(api: httpx.Client) -> None:
    # UPSERT "Prevent update in upsert": If-None-Match: * → 412 when present
    acc = account(api)
    r = api.patch(f"accounts({acc})", json={"name": "x"}, headers={"If-None-Match": "*"})
    assert r.status_code == 412
    assert r.json()["error"]["message"] == "A record with matching key values already exists."


def test_optimistic_concurrency(api: httpx.Client) -> None:
    # CONDITIONAL "Apply optimistic concurrency": stale W/"n" → 412
    body = api.post("accounts", json={"name": "a"}, headers=REP).json()
    acc, tag = body["accountid"], body["@odata.etag"]
    assert (
        api.patch(f"accounts({acc})", json={"name": "b"}, headers={"If-Match": tag}).status_code
        == 204
    )
    stale = api.patch(f"accounts({acc})", json={"name": "c"}, headers={"If-Match": tag})
    assert stale.status_code == 412
    assert stale.json()["error"]["message"] == (
        "The version of the existing record doesn't match the RowVersion property provided."
    )
    assert api.delete(f"accounts({acc})", headers={"If-Match": tag}).status_code == 412


def test_single_property_put_and_delete(api: httpx.Client) -> None:
    # UPDATE "Update a single property value" / "Delete a single property value"
    acc = account(api)
    assert api.put(f"accounts({acc})/name", json={"value": "Renamed"}).status_code == 204
    assert api.get(f"accounts({acc})/name").json()["value"] == "Renamed"
    assert api.delete(f"accounts({acc})/telephone1").status_code == 204


def test_clear_lookup_with_null_bind(api: httpx.Client) -> None:
    # ASSOCIATE (disassociate on update)
    acc = account(api)
    cid = _id_from(
        api.post(
            "contacts",
            json={"lastname": "N", "parentcustomerid_account@odata.bind": f"/accounts({acc})"},
        )
    )
    api.patch(f"contacts({cid})", json={"parentcustomerid_account@odata.bind": None})
    assert api.get(f"contacts({cid})").json()["_parentcustomerid_value"] is None


# -- delete ----------------------------------------------------------------------------


def test_delete_and_delete_missing(api: httpx.Client) -> None:
    # UPDATE "Basic delete": 204; missing → 404
    acc = account(api)
    assert api.delete(f"accounts({acc})").status_code == 204
    assert api.get(f"accounts({acc})").status_code == 404
    assert api.delete(f"accounts({acc})").status_code == 404


def test_delete_cascades_removes_links_and_restricts(api: httpx.Client) -> None:
    # CASCADE: parental relationships cascade, others remove the link; price lists restrict
    acc = account(api)
    child = _id_from(
        api.post(
            "contacts",
            json={"lastname": "Kid", "parentcustomerid_account@odata.bind": f"/accounts({acc})"},
        )
    )
    primary = _id_from(api.post("contacts", json={"lastname": "Boss"}))
    api.patch(f"accounts({acc})", json={"primarycontactid@odata.bind": f"/contacts({primary})"})
    note = _id_from(
        api.post(
            "annotations",
            json={"subject": "n", "objectid_contact@odata.bind": f"/contacts({child})"},
        )
    )
    assert api.delete(f"contacts({primary})").status_code == 204
    assert api.get(f"accounts({acc})").json()["_primarycontactid_value"] is None
    assert api.delete(f"accounts({acc})").status_code == 204
    assert api.get(f"contacts({child})").status_code == 404
    assert api.get(f"annotations({note})").status_code == 404

    r = api.delete(f"pricelevels({tenant.DEFAULT_PRICE_LEVEL_ID})")
    assert r.status_code == 204  # unused price list
    price = _id_from(
        api.post(
            "pricelevels",
            json={
                "name": "P",
                "transactioncurrencyid@odata.bind": USD,
            },
        )
    )
    customer = _id_from(api.post("contacts", json={"lastname": "C"}))
    api.post(
        "invoices",
        json={
            "name": "INV",
            "customerid_contact@odata.bind": f"/contacts({customer})",
            "pricelevelid@odata.bind": f"/pricelevels({price})",
            "transactioncurrencyid@odata.bind": USD,
        },
    )
    blocked = api.delete(f"pricelevels({price})")
    assert blocked.status_code == 405
    assert blocked.json()["error"]["code"] == "0x80040227"


def test_associate_and_disassociate_with_ref(api: httpx.Client) -> None:
    # ASSOCIATE: PUT <nav>/$ref {"@odata.id": uri}; DELETE <nav>/$ref
    acc = account(api)
    cid = _id_from(api.post("contacts", json={"lastname": "N"}))
    uri = f"https://contoso.crm.dynamics.com/api/data/v9.2/accounts({acc})"
    put = api.put(f"contacts({cid})/parentcustomerid_account/$ref", json={"@odata.id": uri})
    assert put.status_code == 204, put.text
    assert api.get(f"contacts({cid})").json()["_parentcustomerid_value"] == acc
    assert api.delete(f"contacts({cid})/parentcustomerid_account/$ref").status_code == 204
    assert api.get(f"contacts({cid})").json()["_parentcustomerid_value"] is None
    assert api.delete(f"contacts({cid})/ParentCustomerId_Account/$ref").status_code == 400


def test_upsert_create_path_body_key_wins(api: httpx.Client, core_emulator: Emulator) -> None:
    # UPSERT: on the create path the body's key values win over the URL's
    add_key(core_emulator, "contact", "new_practiceid")
    r = api.patch(
        "contacts(new_practiceid='URL-1')",
        json={"lastname": "Ng", "new_practiceid": "BODY-1"},
        headers=REP,
    )
    assert r.status_code == 201
    assert r.json()["new_practiceid"] == "BODY-1"


def test_if_match_with_current_etag_updates(api: httpx.Client) -> None:
    # CONDITIONAL: a matching W/"version" lets the update through
    body = api.post("accounts", json={"name": "a"}, headers=REP).json()
    r = api.patch(
        f"accounts({body['accountid']})",
        json={"name": "b"},
        headers={"If-Match": body["@odata.etag"], **REP},
    )
    assert r.status_code == 200
    assert r.json()["name"] == "b"
