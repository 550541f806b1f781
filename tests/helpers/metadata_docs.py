"""Helpers for the documented metadata examples (tables, columns, choices, relationships)
under tests/emulator/docs: the labels, the solution the examples name, the bank account
table."""

from __future__ import annotations

from typing import Any

import httpx

NS = "Microsoft.Dynamics.CRM."
SOLUTION = "examplesolution"


def label(text: str) -> dict[str, Any]:
    """A ``Label`` as the examples send it (one 1033 localized label, typed)."""
    return {
        "@odata.type": NS + "Label",
        "LocalizedLabels": [
            {"@odata.type": NS + "LocalizedLabel", "Label": text, "LanguageCode": 1033}
        ],
    }


def options(*pairs: tuple[int, str]) -> list[dict[str, Any]]:
    """Options as the choice examples send them: (value, label) pairs."""
    return [{"Value": value, "Label": label(text)} for value, text in pairs]


def relationship_label(text: str) -> dict[str, Any]:
    """A ``Label`` as the relationship and multi-table lookup examples send it: typed, its
    1033 localized label also as ``UserLocalizedLabel``."""
    localized = {"@odata.type": NS + "LocalizedLabel", "Label": text, "LanguageCode": 1033}
    return {
        "@odata.type": NS + "Label",
        "LocalizedLabels": [localized],
        "UserLocalizedLabel": localized,
    }


def texts(read: dict[str, Any]) -> dict[int, str]:
    """The language → text pairs of a Label read back."""
    return {x["LanguageCode"]: x["Label"] for x in read["LocalizedLabels"]}


def add_solution(api: httpx.Client, prefix: str, unique_name: str = SOLUTION) -> None:
    """The examples' solution (``MSCRM.SolutionUniqueName: examplesolution``), its publisher
    using ``prefix`` and the option value prefix 72700 the examples' values start with."""
    publisher = api.post(
        "publishers",
        json={
            "uniquename": f"{prefix}publisher",
            "friendlyname": f"{prefix} publisher",
            "customizationprefix": prefix,
            "customizationoptionvalueprefix": 72700,
        },
    )
    assert publisher.status_code == 204, publisher.text
    publisher_url = publisher.headers["OData-EntityId"]
    solution = api.post(
        "solutions",
        json={
            "uniquename": unique_name,
            "friendlyname": "Example solution",
            "version": "1.0.0.0",
            "publisherid@odata.bind": publisher_url[publisher_url.index("/publishers(") :],
        },
    )
    assert solution.status_code == 204, solution.text


def bank_account_table(schema_name: str, primary: str) -> dict[str, Any]:
    """The table of "Create table definitions" (create-update-entity-definitions-using-web-api),
    named ``schema_name`` with the primary name column ``primary``."""
    return {
        "@odata.type": NS + "EntityMetadata",
        "Attributes": [
            {
                "AttributeType": "String",
                "AttributeTypeName": {"Value": "StringType"},
                "Description": label("Type the name of the bank account"),
                "DisplayName": label("Account Name"),
                "IsPrimaryName": True,
                "RequiredLevel": {
                    "Value": "None",
                    "CanBeChanged": True,
                    "ManagedPropertyLogicalName": "canmodifyrequirementlevelsettings",
                },
                "SchemaName": primary,
                "@odata.type": NS + "StringAttributeMetadata",
                "FormatName": {"Value": "Text"},
                "MaxLength": 100,
            }
        ],
        "Description": label("An entity to store information about customer bank accounts"),
        "DisplayCollectionName": label("Bank Accounts"),
        "DisplayName": label("Bank Account"),
        "HasActivities": False,
        "HasNotes": False,
        "IsActivity": False,
        "OwnershipType": "UserOwned",
        "SchemaName": schema_name,
    }


def add_bank_accounts(api: httpx.Client) -> None:
    """The tables the column and choice examples add to: the examples' solution (publisher
    prefix ``sample``) with ``sample_bankaccount`` in it, and ``new_bankaccount`` made without
    the solution (the default publisher's prefix)."""
    add_solution(api, "sample")
    for schema_name, primary, headers in (
        ("sample_BankAccount", "sample_Name", {"MSCRM.SolutionUniqueName": SOLUTION}),
        ("new_BankAccount", "new_Name", {}),
    ):
        made = api.post(
            "EntityDefinitions", json=bank_account_table(schema_name, primary), headers=headers
        )
        assert made.status_code == 204, made.text


def required_level(value: str, can_be_changed: bool) -> dict[str, Any]:
    return {
        "Value": value,
        "CanBeChanged": can_be_changed,
        "ManagedPropertyLogicalName": "canmodifyrequirementlevelsettings",
    }


__all__ = [
    "NS",
    "SOLUTION",
    "add_bank_accounts",
    "add_solution",
    "bank_account_table",
    "label",
    "options",
    "relationship_label",
    "required_level",
    "texts",
]
