"""``client.dataframe`` of Microsoft's Python SDK against the emulator.

The pandas wrappers over the record operations: ``create`` (``CreateMultiple``, the ids as a
Series aligned with the frame), ``get`` of one row and of many (deprecated; pages collected
into one frame), ``update`` (one row: ``PATCH``; several: ``UpdateMultiple``; missing values
skipped, or sent as null with ``clear_nulls``), ``delete`` (one row, several through a
``BulkDelete`` job, several one by one) and ``sql`` (``?sql=``, refused with 501). The SDK's
side: ``operations/dataframe.py`` and ``utils/_pandas.py``.
"""

from __future__ import annotations

import pandas as pd
import pytest
from PowerPlatform.Dataverse.client import DataverseClient
from PowerPlatform.Dataverse.core.errors import HttpError


def _frame(unique: str, count: int) -> pd.DataFrame:
    return pd.DataFrame(
        [{"name": f"{unique} {i}", "numberofemployees": i} for i in range(count)],
        index=[f"row{i}" for i in range(count)],
    )


def test_create_returns_the_ids_aligned_with_the_frame(
    client: DataverseClient, unique: str
) -> None:
    frame = _frame(unique, 3)
    ids = client.dataframe.create("account", frame)
    assert list(ids.index) == ["row0", "row1", "row2"]
    for label, row_id in ids.items():
        record = client.records.retrieve("account", row_id, select=["name"])
        assert record is not None
        assert record["name"] == frame.loc[label, "name"]


def test_get_one_row(client: DataverseClient, unique: str) -> None:
    [row_id] = client.dataframe.create("account", _frame(unique, 1))
    with pytest.warns(DeprecationWarning, match="deprecated"):
        frame = client.dataframe.get("account", record_id=row_id, select=["name"])
    assert frame.shape[0] == 1
    assert frame.loc[0, "name"] == f"{unique} 0"
    assert frame.loc[0, "accountid"] == row_id


def test_get_many_rows_collects_the_pages(client: DataverseClient, unique: str) -> None:
    client.dataframe.create("account", _frame(unique, 5))
    with pytest.warns(DeprecationWarning, match="deprecated"):
        frame = client.dataframe.get(
            "account",
            select=["name", "numberofemployees"],
            filter=f"startswith(name, '{unique}')",
            orderby=["numberofemployees desc"],
            page_size=2,
        )
    assert list(frame["numberofemployees"]) == [4, 3, 2, 1, 0]
    assert set(frame.columns) == {"name", "numberofemployees", "accountid"}


def test_get_of_nothing_is_an_empty_frame_with_the_columns(
    client: DataverseClient, unique: str
) -> None:
    with pytest.warns(DeprecationWarning, match="deprecated"):
        frame = client.dataframe.get("account", select=["name"], filter=f"name eq '{unique}'")
    assert frame.empty
    assert list(frame.columns) == ["name"]


def test_update_one_row(client: DataverseClient, unique: str) -> None:
    [row_id] = client.dataframe.create("account", _frame(unique, 1))
    changes = pd.DataFrame([{"accountid": row_id, "telephone1": "555-0100"}])
    client.dataframe.update("account", changes, id_column="accountid")
    record = client.records.retrieve("account", row_id, select=["telephone1"])
    assert record is not None
    assert record["telephone1"] == "555-0100"


def test_update_many_rows_skips_missing_values(client: DataverseClient, unique: str) -> None:
    ids = list(client.dataframe.create("account", _frame(unique, 3)))
    client.records.update("account", ids, {"telephone1": "old"})
    changes = pd.DataFrame({"accountid": ids, "telephone1": ["a", None, "c"]})
    client.dataframe.update("account", changes, id_column="accountid")
    phones = [client.records.retrieve("account", i, select=["telephone1"]) for i in ids]
    assert [p["telephone1"] for p in phones if p is not None] == ["a", "old", "c"]


def test_update_with_clear_nulls_clears_the_column(client: DataverseClient, unique: str) -> None:
    ids = list(client.dataframe.create("account", _frame(unique, 2)))
    client.records.update("account", ids, {"telephone1": "old"})
    changes = pd.DataFrame({"accountid": ids, "telephone1": ["new", None]})
    client.dataframe.update("account", changes, id_column="accountid", clear_nulls=True)
    phones = [client.records.retrieve("account", i, select=["telephone1"]) for i in ids]
    assert [p["telephone1"] for p in phones if p is not None] == ["new", None]


def test_delete_one_row(client: DataverseClient, unique: str) -> None:
    ids = client.dataframe.create("account", _frame(unique, 1))
    assert client.dataframe.delete("account", ids) is None
    assert client.records.retrieve("account", ids.iloc[0]) is None


def test_delete_many_rows_through_a_bulk_delete_job(client: DataverseClient, unique: str) -> None:
    ids = client.dataframe.create("account", _frame(unique, 3))
    job_id = client.dataframe.delete("account", ids)
    assert isinstance(job_id, str)
    job = client.records.retrieve("asyncoperation", job_id, select=["statecode", "statuscode"])
    assert job is not None
    assert (job["statecode"], job["statuscode"]) == (3, 30)
    assert all(client.records.retrieve("account", i) is None for i in ids)


def test_delete_many_rows_one_by_one(client: DataverseClient, unique: str) -> None:
    ids = client.dataframe.create("account", _frame(unique, 2))
    assert client.dataframe.delete("account", ids, use_bulk_delete=False) is None
    assert all(client.records.retrieve("account", i) is None for i in ids)


def test_sql_is_refused(client: DataverseClient) -> None:
    with pytest.raises(HttpError) as raised:
        client.dataframe.sql("SELECT TOP 5 name FROM account")
    assert raised.value.status_code == 501
    assert raised.value.details["service_error_code"] == "0x80040219"
