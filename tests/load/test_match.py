"""Clients already in the tenant are updated, not duplicated; rollback gives them back."""

from __future__ import annotations

from crm_ferry import commands
from crm_ferry.commands.migrate import run_load
from crm_ferry.model import Client
from crm_ferry.sources.bundle import open_bundle
from helpers.load import Project


def _first_individual(project: Project) -> Client:
    with open_bundle(project.bundle) as b:
        return next(
            c
            for c in b.read("clients")
            if isinstance(c, Client) and c.type == "individual" and c.email and c.last_name
        )


def test_an_existing_contact_is_updated_and_restored(project: Project) -> None:
    source = _first_individual(project)
    assert source.email
    existing = project.client.create(
        "contact",
        {"firstname": "Typed", "lastname": "By Hand", "emailaddress1": source.email.upper()},
    )
    before = project.client.retrieve("contact", existing, select=["lastname", "emailaddress1"])
    result = run_load(project.settings, client=project.client, skip_sample_gate=True)
    assert result.ok
    same = [
        r
        for r in project.client.query("contact", select=["contactid", "lastname", "emailaddress1"])
        if (r.get("emailaddress1") or "").lower() == source.email.lower()
    ]
    assert [r["contactid"] for r in same] == [existing]  # no duplicate
    assert same[0]["lastname"] == source.last_name
    again = run_load(project.settings, client=project.client, skip_sample_gate=True)
    assert again.requests == 0  # the matched row is the client's row from now on
    report = commands.rollback(project.settings, all_runs=True, client=project.client)
    assert all(r.ok for r in report.results)
    assert sum(r.restored for r in report.results) >= 1
    after = project.client.retrieve("contact", existing, select=["lastname", "emailaddress1"])
    assert after["lastname"] == before["lastname"]
    assert after["emailaddress1"] == before["emailaddress1"]
