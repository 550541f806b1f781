"""The Dataverse Web API client: authenticated, batched, throttle-aware, honest about errors.

It knows nothing about mappings: it writes payloads it is given and reads metadata::

    credential = MsalCredential.client_secret(
        environment_url=url, client_id=client_id, secret=secret, tenant=tenant
    )
    with DataverseClient(url, credential) as client:
        report = client.write_many("contact", rows)       # upsert by contactid
        for row in report.rejected:
            print(row.index, row.error)                   # the row's own DataverseError

Modules: ``client`` (request core, records, queries, actions), ``auth`` (MSAL),
``errors``, ``batch`` ($batch codec), ``bulk`` (write_many), ``metadata``, ``throttle``
(pacing), ``pool`` (several application users), ``doctor``. Clients from a project's
settings are built in :mod:`crm_ferry.commands._project`.
"""

from __future__ import annotations

from crm_ferry.dataverse.auth import (
    Certificate,
    CredentialProvider,
    HttpxForMsal,
    MsalCredential,
    StaticToken,
)
from crm_ferry.dataverse.batch import BatchOperation, ChangeSet, PartResponse
from crm_ferry.dataverse.bulk import RowResult, WriteReport, write_many
from crm_ferry.dataverse.client import ClientOptions, DataverseClient, WhoAmI
from crm_ferry.dataverse.errors import (
    AuthError,
    ConnectionLost,
    DataverseError,
    DuplicateRecord,
    NotFound,
    PreconditionFailed,
    PrivilegeError,
    RequestTimeout,
    ServerError,
    ThrottledError,
    ValidationRejected,
)
from crm_ferry.dataverse.metadata import ColumnInfo, ColumnSpec, KeyInfo, Relationship, TableInfo
from crm_ferry.dataverse.throttle import ConcurrencyController, RetryPolicy

__all__ = [
    "AuthError",
    "BatchOperation",
    "Certificate",
    "ChangeSet",
    "ClientOptions",
    "ColumnInfo",
    "ColumnSpec",
    "ConcurrencyController",
    "ConnectionLost",
    "CredentialProvider",
    "DataverseClient",
    "DataverseError",
    "DuplicateRecord",
    "HttpxForMsal",
    "KeyInfo",
    "MsalCredential",
    "NotFound",
    "PartResponse",
    "PreconditionFailed",
    "PrivilegeError",
    "Relationship",
    "RequestTimeout",
    "RetryPolicy",
    "RowResult",
    "ServerError",
    "StaticToken",
    "TableInfo",
    "ThrottledError",
    "ValidationRejected",
    "WhoAmI",
    "WriteReport",
    "write_many",
]
