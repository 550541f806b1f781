"""The source side of the diff: the source value shown is the one the transform read (a
long-form custom property merged into its client, a value map's kept text), and a transform
that writes another value than its source says is a mismatch even though what was sent is
what Dataverse holds."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crm_ferry.commands.sample import sample as run_sample
from crm_ferry.commands.verify import verify as run_verify
from crm_ferry.dataverse.metadata import ColumnInfo
from crm_ferry.errors import CheckFailed
from crm_ferry.mapping.spec import FieldMap, MappingSpec, Target
from crm_ferry.model import Client, ClientProperty, Provenance
from crm_ferry.reconcile.diff import compare_row
from crm_ferry.reconcile.source_values import (
    add_property,
    implied_values,
    shown_values,
    with_properties,
)
from crm_ferry.sources.bundle import open_bundle
from crm_ferry.transform.convert import ValueConverter
from helpers.reconcile import ReconProject, recon_project, recon_template

__all__ = ["recon_project", "recon_template"]  # fixtures, used by name

WRONG = " [written wrong]"
COLUMN = "new_backgroundnotes"
"""The column of the long-form custom property ``background_notes``."""


def _long_form(project: ReconProject, key: str) -> dict[str, str]:
    """client id → the value of long-form property ``key`` in the bundle."""
    with open_bundle(project.bundle) as b:
        return {
            p.client_id: p.value
            for p in b.read("client_properties")
            if isinstance(p, ClientProperty) and p.key_name == key and p.value is not None
        }


def _wrong_transform(monkeypatch: pytest.MonkeyPatch) -> None:
    """The transform writes every value of :data:`COLUMN` with :data:`WRONG` appended."""
    convert = ValueConverter.convert

    def wrong(self: ValueConverter, fm: Any, col: Any, value: Any, table: str, row: Any = None):
        wire = convert(self, fm, col, value, table, row)
        return wire + WRONG if fm.column == COLUMN and isinstance(wire, str) else wire

    monkeypatch.setattr(ValueConverter, "convert", wrong)


def test_a_long_form_property_written_wrong_is_a_sample_difference(
    recon_project: Callable[..., ReconProject], monkeypatch: pytest.MonkeyPatch
) -> None:
    project = recon_project()
    long_form = _long_form(project, "background_notes")
    assert long_form
    _wrong_transform(monkeypatch)
    result = run_sample(project.settings, client=project.client)
    rows = [r for r in result.proof.rows if r.table == "contact" and r.field == COLUMN]
    assert rows, "the sample holds no contact with background notes"
    for r in rows:
        client_id = r.source_key.split("/")[1]
        assert r.expected == r.actual  # what was sent is what is there ...
        assert r.verdict == "mismatch", r  # ... but not what the source says
        if client_id in long_form:
            assert r.source_value == long_form[client_id]
            assert r.expected == long_form[client_id] + WRONG
    assert any(r.source_key.split("/")[1] in long_form for r in rows)
    migration = {
        (d.table, d.column) for d in result.recon.differences if d.classification.startswith("mig")
    }
    assert ("contact", COLUMN) in migration


def test_verify_shows_the_source_read_and_catches_a_wrong_transform(
    recon_project: Callable[..., ReconProject], monkeypatch: pytest.MonkeyPatch
) -> None:
    from crm_ferry.commands.migrate import run_load

    project = recon_project()
    long_form = _long_form(project, "background_notes")
    genders = {}
    with open_bundle(project.bundle) as b:
        for c in b.read("clients"):
            if isinstance(c, Client) and c.gender:
                genders[c.id] = c.gender.strip()
    _wrong_transform(monkeypatch)
    run_load(project.settings, client=project.client, skip_sample_gate=True)
    with pytest.raises(CheckFailed):
        run_verify(project.settings, client=project.client, check=True)
    report = run_verify(project.settings, client=project.client)
    rows = report.proof.rows
    notes = [r for r in rows if r.table == "contact" and r.field == COLUMN]
    long_rows = [r for r in notes if r.source_key.split("/")[1] in long_form]
    assert long_rows
    assert all(r.verdict == "mismatch" for r in notes)
    assert all(r.source_value == long_form[r.source_key.split("/")[1]] for r in long_rows)
    # the value map's kept text: its source is the gender read, and it matches
    kept = [r for r in rows if r.table == "contact" and r.field == "new_gender"]
    assert kept
    for r in kept:
        assert r.source_value == genders[r.source_key.split("/")[1]]
        assert r.verdict == "match"


# -- the rule, over any text ----------------------------------------------------------------

TEXT = ColumnInfo(COLUMN, "Memo", max_length=40)
SPEC = MappingSpec(
    status="confirmed",
    targets={
        "contact": Target(
            "contact",
            "clients",
            "contact",
            fields={
                "custom:background_notes": FieldMap(
                    "custom:background_notes", COLUMN, "Memo", truncate=True
                )
            },
        )
    },
)
HERE = Provenance("clients.csv", 2)


@settings(max_examples=80, deadline=None)
@given(
    long=st.text(min_size=1, max_size=60).filter(lambda s: s.strip() != ""),
    wide=st.one_of(st.none(), st.text(min_size=1, max_size=60)),
    wrong=st.text(max_size=60),
)
def test_the_source_of_a_long_form_property_decides_the_verdict(
    long: str, wide: str | None, wrong: str
) -> None:
    props: dict[str, dict[str, str]] = {}
    add_property(
        props,
        ClientProperty(
            id="c1/background_notes",
            provenance=HERE,
            client_id="c1",
            key_name="background_notes",
            value=long,
        ),
    )
    custom = {} if wide is None else {"background_notes": wide}
    record = with_properties(
        Client(id="c1", provenance=HERE, type="individual", custom=custom), props
    )
    read = long if wide is None else wide  # a wide-form value wins, as in the load
    assert shown_values(SPEC, "contact", record) == {COLUMN: read}
    implied = implied_values(SPEC, "contact", record, {COLUMN: TEXT})
    assert implied == {COLUMN: read[:40]}

    def verdict(written: str) -> str:
        (row,) = compare_row(
            "contact",
            {COLUMN: written},
            {COLUMN: written},
            columns={COLUMN: TEXT},
            source_values={COLUMN: read},
            implied=implied,
        )
        return row.verdict

    assert verdict(read[:40]) == "match"
    if (wrong or None) != (read[:40] or None):
        assert verdict(wrong) == "mismatch"
