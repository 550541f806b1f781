"""The source index behind the preview's search: by id or name, any case, every word;
an exact id first; children by reference; a large practice searched whole."""

from __future__ import annotations

from crm_ferry.model import Client, Provenance, RecordKey, Session
from crm_ferry.sources.search import Entry, SourceIndex, display_name, parents_of

HERE = Provenance("clients.csv", 2)


def _index(clients: int) -> SourceIndex:
    index = SourceIndex()
    for n in range(clients):
        cid = f"cli_{n:06d}"
        index.add(Entry(RecordKey("clients", cid), f"Person {n} Nelson" if n % 7 else f"Ada {n}"))
        for s in range(20):
            key = RecordKey("sessions", f"ses_{n:06d}_{s:02d}")
            index.add(Entry(key, "one_on_one 2024-01-01", None, (RecordKey("clients", cid),)))
    return index


def test_search_by_id_name_and_words() -> None:
    index = _index(30)
    assert [e.key.id for e in index.search("CLI_000007")][:1] == ["cli_000007"]
    assert {e.key.id for e in index.search("ada")} == {f"cli_{n:06d}" for n in range(0, 30, 7)}
    assert [e.key.id for e in index.search("nelson 12")] == ["cli_000012"]
    assert index.search("nobody") == []
    assert index.search(" ") == []
    sessions = index.search("ses_000003", objects=["sessions"])
    assert len(sessions) == 20
    assert all(e.key.object == "sessions" for e in sessions)


def test_an_exact_id_comes_first() -> None:
    index = _index(200)
    found = index.search("cli_000001")
    assert found[0].key.id == "cli_000001"
    assert all(e.key.id.startswith("cli_000001") for e in found[1:])


def test_children_and_duplicates() -> None:
    index = _index(3)
    children = index.children_of(RecordKey("clients", "cli_000001"))
    assert len(children) == 20
    assert {c.key.object for c in children} == {"sessions"}
    index.add(Entry(RecordKey("clients", "cli_000001"), "a second row of the same id"))
    assert index.get(RecordKey("clients", "cli_000001")).name == "Person 1 Nelson"  # type: ignore[union-attr]


def test_names_and_references_of_records() -> None:
    org = Client(
        id="c1",
        provenance=HERE,
        type="organization",
        full_name="Grace Nelson",
        organization="Sterling LLC",
        family_id="fam_1",
    )
    assert display_name(org) == "Grace Nelson (Sterling LLC)"
    assert parents_of(org) == (RecordKey("families", "fam_1"),)
    session = Session(id="s1", provenance=HERE, client_id="c1", session_type="intro")
    assert display_name(session) == "intro"
    assert RecordKey("clients", "c1") in parents_of(session)


def test_a_large_practice_is_searched_whole() -> None:
    """105,000 records: a search finds the last client, ranks an exact id first, and caps
    what it returns (the speed is measured in bench/review.py)."""
    index = _index(5000)
    found = index.search("cli_004999")
    assert found
    assert found[0].key.id == "cli_004999"
    assert index.search("no such thing") == []
    assert len(index.search("a")) <= 1000
