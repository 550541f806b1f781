"""Fixtures of the transform tests (helpers in transform_support.py)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from transform_support import BundleData, full_document, load_bundle, provision, seed_users, spec_of

from crm_ferry.dataverse.client import DataverseClient
from crm_ferry.transform.schema import OrgSettings, TargetSchema, tables_for


@pytest.fixture(scope="session")
def bundle_data(tmp_path_factory: pytest.TempPathFactory) -> BundleData:
    return load_bundle(tmp_path_factory.mktemp("bundle") / "b")


@pytest.fixture(scope="module")
def emulated() -> Iterator[DataverseClient]:
    from crm_ferry.embedded import embedded_client
    from crm_ferry.emulator import EmulatorApp

    with EmulatorApp() as app, embedded_client(app) as client:
        yield client


@pytest.fixture(scope="session")
def provisioned(bundle_data: BundleData) -> Iterator[tuple[dict[str, Any], TargetSchema]]:
    """The completed default map and a snapshot of a tenant provisioned for it."""
    from crm_ferry.embedded import embedded_client
    from crm_ferry.emulator import EmulatorApp

    doc = full_document(bundle_data, seed_users())
    with EmulatorApp() as app, embedded_client(app) as client:
        provision(client, doc)
        spec = spec_of(doc)
        schema = TargetSchema.from_metadata(
            client.metadata, tables_for(spec), org=OrgSettings.read(client)
        )
    return doc, schema
