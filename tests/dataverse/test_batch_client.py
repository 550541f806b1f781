"""execute_batch against the fake: change sets, continue-on-error, stop-on-error."""

from __future__ import annotations

import pytest

from crm_ferry.dataverse import BatchOperation, ChangeSet, DataverseClient, ValidationRejected
from helpers.dataverse_fakes import FakeDataverse

A = "00000000-0000-0000-0000-0000000000a1"
B = "00000000-0000-0000-0000-0000000000b2"
C = "00000000-0000-0000-0000-0000000000c3"


def test_change_set_is_atomic_and_other_parts_continue(
    client: DataverseClient, fake: FakeDataverse
) -> None:
    items = [
        ChangeSet(
            (
                BatchOperation("PATCH", f"contacts({A})", {"lastname": "A"}, content_id="1"),
                BatchOperation("PATCH", f"contacts({B})", {"lastname": "BAD"}, content_id="2"),
            )
        ),
        BatchOperation("PATCH", f"contacts({C})", {"lastname": "C"}),
        BatchOperation("GET", f"contacts({C})"),
    ]
    responses = client.execute_batch(items, continue_on_error=True)
    statuses = [r.status if r else None for r in responses]
    assert statuses == [400, 400, 204, 200]
    err = responses[0].error() if responses[0] else None
    assert isinstance(err, ValidationRejected)
    assert set(fake.rows["contact"]) == {C}  # the change set rolled back entirely
    assert responses[3] is not None
    assert responses[3].json()["lastname"] == "C"


def test_without_continue_on_error_the_batch_stops_at_the_first_failure(
    client: DataverseClient, fake: FakeDataverse
) -> None:
    items = [
        BatchOperation("PATCH", f"contacts({A})", {"lastname": "A"}),
        BatchOperation("PATCH", f"contacts({B})", {"lastname": "BAD"}),
        BatchOperation("PATCH", f"contacts({C})", {"lastname": "C"}),
    ]
    # The outer status is 400 with only the failing part: which one is unknown.
    with pytest.raises(ValidationRejected, match="stopped at a failing operation") as info:
        client.execute_batch(items, continue_on_error=False)
    assert info.value.code == "0x80044331"
    assert set(fake.rows["contact"]) == {A}
