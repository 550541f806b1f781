"""Record operations, paging, actions, and the retry core against the hand-written fake."""

from __future__ import annotations

import httpx
import pytest

from crm_ferry.dataverse import (
    AuthError,
    ConnectionLost,
    DataverseClient,
    DuplicateRecord,
    NotFound,
    RequestTimeout,
    ServerError,
    ValidationRejected,
)
from helpers.dataverse_fakes import FakeClock, FakeDataverse, Fault, make_client

ADA = "00000000-0000-0000-0000-0000000000a1"


def test_create_update_upsert_retrieve_delete(client: DataverseClient, fake: FakeDataverse) -> None:
    new_id = client.create("contact", {"lastname": "Lovelace"})
    assert fake.rows["contact"][new_id]["lastname"] == "Lovelace"
    client.update("contact", new_id, {"firstname": "Ada"})
    assert client.retrieve("contact", new_id)["firstname"] == "Ada"
    with pytest.raises(NotFound):
        client.update("contact", ADA, {"firstname": "x"})  # If-Match: * forbids create
    assert client.upsert("contact", ADA, {"lastname": "Byron"}) == ADA
    with pytest.raises(DuplicateRecord):
        client.insert("contact", ADA, {"lastname": "again"})  # If-None-Match: *
    client.delete("contact", ADA)
    with pytest.raises(NotFound):
        client.retrieve("contact", ADA)
    methods = [m for m, p in fake.log if "contacts" in p]
    assert methods == ["POST", "PATCH", "GET", "PATCH", "PATCH", "PATCH", "DELETE", "GET"]


def test_upsert_by_alternate_key_keeps_key_out_of_the_body(
    client: DataverseClient, fake: FakeDataverse
) -> None:
    client.upsert("contact", {"new_practiceid": "C-1"}, {"new_practiceid": "C-1", "lastname": "A"})
    (row,) = fake.rows["contact"].values()
    assert row["new_practiceid"] == "C-1"
    assert row["lastname"] == "A"
    assert fake.log[-1][1].endswith("contacts(new_practiceid='C-1')")


def test_query_follows_next_links(client: DataverseClient, fake: FakeDataverse) -> None:
    for i in range(7):
        client.upsert("contact", f"00000000-0000-0000-0000-00000000000{i}", {"lastname": f"L{i}"})
    rows = list(client.query("contact", select=["lastname"], page_size=3))
    assert sorted(r["lastname"] for r in rows) == [f"L{i}" for i in range(7)]
    assert sum(1 for m, p in fake.log if m == "GET" and p.endswith("/contacts")) == 3


def test_who_am_i_reads_the_dop_hint(client: DataverseClient, fake: FakeDataverse) -> None:
    me = client.who_am_i()
    assert (me.user_id, me.business_unit_id, me.organization_id) == ("u-1", "bu-1", "org-1")
    assert me.dop_hint == 6
    assert client.controller.limit == 6


def test_bind_uses_the_navigation_property_from_metadata(client: DataverseClient) -> None:
    assert client.metadata.bind("contact", "parentcustomerid", "account", ADA) == (
        "parentcustomerid_account@odata.bind",
        f"/accounts({ADA})",
    )
    with pytest.raises(NotFound):
        client.metadata.bind("contact", "parentcustomerid", "contact", ADA)


def test_429_pauses_for_retry_after_then_succeeds(
    client: DataverseClient, fake: FakeDataverse, clock: FakeClock
) -> None:
    fake.faults = [Fault(429, "0x80072322", "Number of requests exceeded", retry_after=37)]
    client.upsert("contact", ADA, {"lastname": "x"})
    assert 37.0 in clock.sleeps
    assert client.stats.throttled == 1
    assert client.controller.throttled == 1
    assert ADA in fake.rows["contact"]


def test_429_without_retry_after_uses_the_default(
    client: DataverseClient, fake: FakeDataverse, clock: FakeClock
) -> None:
    fake.faults = [Fault(429, "0x80072326", "concurrent")]
    client.who_am_i()
    assert client.options.retry.default_retry_after in clock.sleeps


def test_503_and_deadlock_are_retried_with_growing_backoff(
    client: DataverseClient, fake: FakeDataverse, clock: FakeClock
) -> None:
    fake.faults = [Fault(503), Fault(500, "0x80044150", "Generic SQL error ... 1205")]
    client.upsert("contact", ADA, {"lastname": "x"})
    assert len(clock.sleeps) == 2
    assert 0.25 <= clock.sleeps[0] <= 0.5
    assert 0.5 <= clock.sleeps[1] <= 1.0
    assert client.stats.retries == 2


def test_transient_errors_give_up_after_max_attempts(
    client: DataverseClient, fake: FakeDataverse
) -> None:
    fake.faults = [Fault(503)] * 10
    with pytest.raises(ServerError):
        client.who_am_i()
    assert client.stats.requests == 4  # max_attempts in the fixture


def test_dropped_connection_and_timeout_are_retried_for_idempotent_requests(
    client: DataverseClient, fake: FakeDataverse
) -> None:
    fake.faults = [Fault(raise_=httpx.ReadError), Fault(raise_=httpx.ReadTimeout)]
    client.upsert("contact", ADA, {"lastname": "x"})
    assert client.stats.retries == 2


def test_create_without_client_id_is_not_resent_after_a_lost_answer(
    client: DataverseClient, fake: FakeDataverse
) -> None:
    fake.fault_paths = "/contacts"
    fake.faults = [Fault(raise_=httpx.ReadTimeout)]
    with pytest.raises(RequestTimeout):
        client.create("contact", {"lastname": "maybe written"})
    fake.faults = [Fault(raise_=httpx.RemoteProtocolError)]
    with pytest.raises(ConnectionLost):
        client.create("contact", {"lastname": "maybe written"})
    # With its own id the create is safe to resend.
    fake.faults = [Fault(raise_=httpx.ReadTimeout)]
    assert client.create("contact", {"contactid": ADA, "lastname": "x"}) == ADA


def test_connect_errors_are_always_retried(client: DataverseClient, fake: FakeDataverse) -> None:
    fake.fault_paths = "/contacts"
    fake.faults = [Fault(raise_=httpx.ConnectError)]
    assert client.create("contact", {"lastname": "never sent the first time"})


def test_terminal_errors_are_not_retried(client: DataverseClient, fake: FakeDataverse) -> None:
    with pytest.raises(ValidationRejected) as info:
        client.upsert("contact", ADA, {"lastname": "BAD"})
    assert info.value.code == "0x80044331"
    assert client.stats.requests == 2  # metadata + the one PATCH


def test_401_refreshes_the_token_once(client: DataverseClient, fake: FakeDataverse) -> None:
    fake.unauthorized_once = True
    client.who_am_i()
    assert client.stats.auth_refreshes == 1


def test_repeated_401_is_an_auth_error(fake: FakeDataverse, clock: FakeClock) -> None:
    def always_401(request: httpx.Request) -> httpx.Response:
        return httpx.Response(401, json={"error": {"code": "", "message": "no"}})

    c = make_client(fake, clock)
    c._http._transport = httpx.MockTransport(always_401)
    with pytest.raises(AuthError):
        c.who_am_i()
    assert c.stats.requests == 2


def test_actions_send_the_documented_payloads(client: DataverseClient) -> None:
    sent: list[tuple[str, dict[str, object]]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        import json

        sent.append((request.url.path, json.loads(request.content)))
        return httpx.Response(204)

    client._http._transport = httpx.MockTransport(handler)
    client.win_opportunity(ADA, close={"actualrevenue": 12000})
    client.lose_opportunity(ADA)
    client.publish(["new_session"])
    assert sent[0][0].endswith("/WinOpportunity")
    assert sent[0][1] == {
        "Status": 3,
        "OpportunityClose": {
            "subject": "Won",
            "actualrevenue": 12000,
            "opportunityid@odata.bind": f"/opportunities({ADA})",
        },
    }
    assert sent[1][1]["Status"] == 4
    assert sent[2][1] == {
        "ParameterXml": "<importexportxml><entities><entity>new_session</entity>"
        "</entities></importexportxml>"
    }


def test_affinity_cookie_is_not_kept(fake: FakeDataverse, clock: FakeClock) -> None:
    seen: list[str | None] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers.get("cookie"))
        return httpx.Response(
            200, json={"UserId": "u"}, headers={"Set-Cookie": "ARRAffinity=abc; Path=/"}
        )

    c = make_client(fake, clock)
    c._http._transport._inner = httpx.MockTransport(handler)  # type: ignore[attr-defined]
    c.who_am_i()
    c.who_am_i()
    assert seen == [None, None]


def test_unreachable_sign_in_is_retried_like_a_connect_error(
    fake: FakeDataverse, clock: FakeClock
) -> None:
    from crm_ferry.dataverse import StaticToken

    class Flaky(StaticToken):
        calls = 0

        def token(self, *, force_refresh: bool = False) -> str:
            Flaky.calls += 1
            if Flaky.calls == 2:  # the POST, after the metadata read
                raise ConnectionLost("cannot reach the sign-in endpoint")
            return super().token(force_refresh=force_refresh)

    c = make_client(fake, clock)
    c.credential = Flaky("t")
    assert c.create("contact", {"lastname": "x"})  # a POST: safe, nothing was sent
    assert c.stats.retries == 1
