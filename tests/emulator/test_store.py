"""Storage: persistence across restarts, transactions, key index, dumps."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from crm_ferry.emulator.core import CoreConfig, Emulator
from crm_ferry.emulator.store import Store
from helpers.definitions import add_column, add_key, create_table, string_column

UPSERT = (
    "https://learn.microsoft.com/power-apps/developer/data-platform/use-upsert-insert-update-record"
)
BATCH = "https://learn.microsoft.com/power-apps/developer/data-platform/webapi/execute-batch-operations-using-web-api"
ALT_KEY = (
    "https://learn.microsoft.com/power-apps/developer/data-platform/define-alternate-keys-entity"
)
BASE = "https://contoso.crm.dynamics.com/api/data/v9.2/"


def _client(em: Emulator) -> httpx.Client:
    return httpx.Client(transport=httpx.MockTransport(em.handle), base_url=BASE)


def test_state_survives_a_restart(tmp_path: Path) -> None:
    # UPSERT (a record created once is found again); the store is the tenant's database
    first = Emulator(data_dir=tmp_path)
    with _client(first) as api:
        r = api.post(
            "accounts", json={"name": "Persisted"}, headers={"Prefer": "return=representation"}
        )
        acc = r.json()["accountid"]
        version = int(r.json()["@odata.etag"][3:-1])
    first.schema.entity("account").description = "changed"  # type: ignore[union-attr]
    first.save_schema()
    first.close()
    assert (tmp_path / "emulator.sqlite").exists()
    second = Emulator(data_dir=tmp_path)
    with _client(second) as api:
        assert api.get(f"accounts({acc})").json()["name"] == "Persisted"
        again = api.patch(
            f"accounts({acc})", json={"name": "x"}, headers={"Prefer": "return=representation"}
        )
        assert int(again.json()["@odata.etag"][3:-1]) > version
    assert second.schema.entity("account").description == "changed"  # type: ignore[union-attr]
    second.close()


def test_dump_is_deterministic(tmp_path: Path) -> None:
    # same requests on two fresh tenants → identical dumps (seeded ids are uuid5)
    from datetime import UTC, datetime

    def run() -> dict[str, object]:
        em = Emulator(CoreConfig(wall_clock=lambda: datetime(2026, 1, 1, tzinfo=UTC)))
        with _client(em) as api:
            api.patch(
                "accounts(00000000-0000-0000-0000-0000000000a1)",
                json={"name": "Acme", "industrycode": 7},
            )
        dump = em.dump()
        em.close()
        return dump

    one, two = run(), run()
    assert one == two
    rows = one["records"]["account"]  # type: ignore[index]
    assert rows[0]["accountid"] == "00000000-0000-0000-0000-0000000000a1"
    assert set(one) == {"records", "metadata"}
    ids = [r["systemuserid"] for r in one["records"]["systemuser"]]  # type: ignore[index]
    assert ids == sorted(ids)


def test_dump_of_one_table(core_emulator: Emulator) -> None:
    dump = core_emulator.dump("transactioncurrency")
    assert list(dump["records"]) == ["transactioncurrency"]
    codes = sorted(r["isocurrencycode"] for r in dump["records"]["transactioncurrency"])
    assert codes == ["AUD", "CAD", "EUR", "GBP", "USD"]


def test_transaction_rolls_back_on_error(core_emulator: Emulator) -> None:
    # BATCH (change sets are atomic: a failure rolls back every operation in the set)
    before = core_emulator.store.count_rows("account")

    def work() -> None:
        with core_emulator.transaction():
            r = core_emulator.dispatch(httpx.Request("POST", BASE + "accounts", json={"name": "a"}))
            assert r.status_code == 204
            with core_emulator.transaction():  # a nested savepoint commits into the outer one
                core_emulator.dispatch(httpx.Request("POST", BASE + "accounts", json={"name": "b"}))
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        work()
    assert core_emulator.store.count_rows("account") == before


def test_failed_request_writes_nothing(api: httpx.Client, core_emulator: Emulator) -> None:
    # a deep insert whose child fails leaves no parent behind (one transaction per request)
    r = api.post(
        "phonecalls",
        json={"subject": "s", "phonecall_activity_parties": [{"participationtypemask": 99}]},
    )
    assert r.status_code == 400
    assert core_emulator.store.count_rows("phonecall") == 0


def test_key_index_is_case_insensitive_and_finds_duplicates() -> None:
    # ALT_KEY: the index build fails on duplicate values
    store = Store()
    store.put("contact", "1", {"k": "Abc"})
    store.put("contact", "2", {"k": "aBC"})
    store.put("contact", "3", {"k": None})
    assert store.find_by_key("contact", ("k",), {"k": "ABC"}) == ["1", "2"]
    assert store.has_duplicates("contact", ("k",))
    store.delete("contact", "2")
    assert not store.has_duplicates("contact", ("k",))
    store.put("contact", "4", {"k": "zz"}, [("k",)])
    assert store.find_by_key("contact", ("k",), {"k": "ZZ"}) == ["4"]
    store.drop_column("contact", "k")
    assert store.get("contact", "4") == {}
    store.drop_table("contact")
    assert store.count_rows("contact") == 0
    store.close()


def test_records_extension_on_writes(core_emulator: Emulator) -> None:
    r = core_emulator.handle(httpx.Request("POST", BASE + "accounts", json={"name": "a"}))
    assert r.extensions["crm_ferry.records"] == 1


def test_concurrent_requests_are_serialised(core_emulator: Emulator) -> None:
    # requests from several threads each commit whole, with distinct row versions
    import threading

    def work(n: int) -> None:
        with _client(core_emulator) as api:
            for i in range(20):
                assert api.post("accounts", json={"name": f"T{n}-{i}"}).status_code == 204

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    rows = core_emulator.dump("account")["records"]["account"]
    assert len(rows) == 80
    assert len({r["versionnumber"] for r in rows}) == 80


def test_each_metadata_change_is_saved_before_the_next_restart(tmp_path: Path) -> None:
    """No publish, no other change: a column added to a standard table, a new table with a
    column, and a key are each read back by the next start (each saved as it is made)."""
    first = Emulator(data_dir=tmp_path)
    with _client(first) as api:
        assert add_column(api, "account", string_column("new_Persisted")).status_code == 204
        table = create_table(api, "new_Kept", string_column("new_Code"))
        add_key(api, table, "new_kept_code", "new_code")
    first.close()
    second = Emulator(data_dir=tmp_path)
    account, kept = second.schema.entity("account"), second.schema.entity("new_kept")
    assert account is not None
    assert "new_persisted" in account.attributes
    assert kept is not None
    assert "new_code" in kept.attributes
    assert "new_kept_code" in kept.keys
    second.close()
