"""Fixtures of the transform tests (helpers in ``helpers.transform``)."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest

from crm_ferry.commands.emulator import embedded_client
from crm_ferry.dataverse.client import DataverseClient
from crm_ferry.emulator import EmulatorApp
from crm_ferry.load.snapshot import read_org_settings, read_target_schema
from crm_ferry.transform.schema import TargetSchema, tables_for
from helpers.transform import BundleData, full_document, load_bundle, provision, seed_users, spec_of


@pytest.fixture(scope="session")
def bundle_data(tmp_path_factory: pytest.TempPathFactory) -> BundleData:
    return load_bundle(tmp_path_factory.mktemp("bundle") / "b")


@pytest.fixture(scope="module")
def emulated() -> Iterator[DataverseClient]:
    with EmulatorApp() as app, embedded_client(app) as client:
        yield client


@pytest.fixture(scope="session")
def provisioned(bundle_data: BundleData) -> Iterator[tuple[dict[str, Any], TargetSchema]]:
    """The completed default map and a snapshot of a tenant provisioned for it."""
    doc = full_document(bundle_data, seed_users())
    with EmulatorApp() as app, embedded_client(app) as client:
        provision(client, doc)
        spec = spec_of(doc)
        schema = read_target_schema(
            client.metadata, tables_for(spec), org=read_org_settings(client)
        )
    return doc, schema


@pytest.fixture
def doc(provisioned: tuple[dict[str, Any], TargetSchema]) -> dict[str, Any]:
    """A copy of the completed default map, for a test to change."""
    return copy.deepcopy(provisioned[0])


@pytest.fixture
def schema(provisioned: tuple[dict[str, Any], TargetSchema]) -> TargetSchema:
    """The provisioned tenant's snapshot."""
    return provisioned[1]
