"""The note table (annotation) is user-owned, as its table reference says: it has ``ownerid``
(valid for create and update), ``owninguser``, ``owningteam`` and ``owningbusinessunit``,
and the many-to-one relationships every user-owned table has, so a note can be written
with its owner (``ownerid@odata.bind``) like any other row.

https://learn.microsoft.com/power-apps/developer/data-platform/reference/entities/annotation
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from crm_ferry.commands.emulator import embedded_client
from crm_ferry.dataverse.client import DataverseClient
from crm_ferry.emulator import EmulatorApp


@pytest.fixture(scope="module")
def client() -> Iterator[DataverseClient]:
    with EmulatorApp() as app, embedded_client(app) as c:
        yield c


def test_the_note_table_has_the_owner_columns(client: DataverseClient) -> None:
    columns = client.metadata.columns("annotation")
    owner = columns["ownerid"]
    assert (owner.type, owner.is_valid_for_create, owner.is_valid_for_update) == (
        "Owner",
        True,
        True,
    )
    for name in ("owninguser", "owningteam", "owningbusinessunit"):
        info = columns[name]
        assert (info.type, info.is_valid_for_create, info.is_valid_for_update) == (
            "Lookup",
            False,
            False,
        ), name


def test_the_note_table_has_the_relationships_of_a_user_owned_table(
    client: DataverseClient,
) -> None:
    rels = {
        (r.referencing_attribute, r.referenced_entity): (r.schema_name, r.navigation_property)
        for r in client.metadata.relationships("annotation")
    }
    assert rels[("ownerid", "systemuser")][1] == "ownerid"
    assert rels[("ownerid", "team")][1] == "ownerid"
    # the names of the table reference's many-to-one relationships
    assert rels[("owninguser", "systemuser")] == ("annotation_owning_user", "owninguser")
    assert rels[("owningteam", "team")] == ("team_annotations", "owningteam")
    assert rels[("owningbusinessunit", "businessunit")] == (
        "business_unit_annotations",
        "owningbusinessunit",
    )
    assert rels[("createdby", "systemuser")] == ("lk_annotationbase_createdby", "createdby")
    assert rels[("modifiedby", "systemuser")] == ("lk_annotationbase_modifiedby", "modifiedby")
    assert rels[("objectid", "contact")] == ("Contact_Annotation", "objectid_contact")
    assert rels[("objectid", "phonecall")] == ("PhoneCall_Annotation", "objectid_phonecall")


def test_a_note_is_written_with_its_owner(client: DataverseClient) -> None:
    user = next(
        u
        for u in client.query("systemuser", select=("systemuserid", "internalemailaddress"))
        if u.get("internalemailaddress") == "robin.mentor@crmferry.onmicrosoft.com"
    )
    contact = client.create("contact", {"lastname": "Lovelace"})
    note = client.create(
        "annotation",
        {
            "subject": "2024-03-05 Session Note: Kick-off",
            "objectid_contact@odata.bind": f"/contacts({contact})",
            "ownerid@odata.bind": f"/systemusers({user['systemuserid']})",
        },
    )
    row = client.retrieve(
        "annotation", note, select=("_ownerid_value", "_owninguser_value", "subject")
    )
    assert row["_ownerid_value"] == user["systemuserid"]
    assert row["_owninguser_value"] == user["systemuserid"]
