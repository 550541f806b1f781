"""Three-way merge of a new proposal into a mapping.yaml a person edited."""

from __future__ import annotations

import copy
import stat
from pathlib import Path
from typing import Any

from crm_ferry.mapping.defaults import default_document
from crm_ferry.mapping.merge import (
    last_proposal_path,
    load_last_proposal,
    merge_proposal,
    save_last_proposal,
)
from crm_ferry.mapping.spec import MapDocument


def saved(plain: dict[str, Any]) -> str:
    return MapDocument.from_plain(plain).dumps()


def replace_in(text: str, old: str, new: str, *, after: str = "") -> str:
    at = text.index(old, text.index(after) if after else 0)
    return text[:at] + new + text[at + len(old) :]


CONTACT = "\n  contact:\n"


def edited_map(base: dict[str, Any]) -> MapDocument:
    """The person's mapping.yaml: a changed column with a comment, a changed confidence,
    comments around a field the source will lose, and a confirmation."""
    text = saved(base)
    text = replace_in(
        text,
        "      email: {column: emailaddress1,",
        "      # email: we keep the work address in emailaddress2\n"
        "      email: {column: emailaddress2,",
        after=CONTACT,
    )
    text = replace_in(
        text,
        "      phone: {column: telephone1, type: String, confidence: 1.0,",
        "      phone: {column: telephone1, type: String, confidence: 0.5,",
        after=CONTACT,
    )
    text = replace_in(
        text,
        "      mobile: {column: mobilephone, type: String, confidence: 1.0, reason: default map}\n",
        "      mobile: {column: mobilephone, type: String, confidence: 1.0, reason: default map}"
        "  # mobile end\n      # address: checked with the practice owner\n",
        after=CONTACT,
    )
    doc = MapDocument.loads(text)
    doc.set_status("confirmed", by="Pat", at="2026-01-02T03:04:05Z")
    return doc


def new_proposal(base: dict[str, Any]) -> dict[str, Any]:
    new = copy.deepcopy(base)
    fields = new["targets"]["contact"]["fields"]
    del fields["mobile"]
    items = list(fields.items())
    pos = [k for k, _ in items].index("phone") + 1
    items.insert(
        pos,
        (
            "custom:color",
            {"column": "new_color", "type": "String", "confidence": 0.6, "reason": "custom"},
        ),
    )
    new["targets"]["contact"]["fields"] = dict(items)
    fields = new["targets"]["contact"]["fields"]
    fields["email"]["reason"] = "email by pattern"
    fields["email"]["confidence"] = 0.9
    fields["phone"]["confidence"] = 0.9
    fields["first_name"]["confidence"] = 0.7
    new["value_maps"]["session_status"]["values"]["rescheduled"] = 100000004
    new["fingerprint"] = {"source": "s2", "target": "t2"}
    return new


def test_an_identical_proposal_changes_nothing() -> None:
    base = default_document()
    doc = MapDocument.loads(saved(base))
    doc.set_status("confirmed", by="Pat", at="2026-01-02T03:04:05Z")
    before = doc.dumps()
    result = merge_proposal(doc, copy.deepcopy(base), base)
    assert result.diff == []
    assert not result.changed
    assert doc.dumps() == before
    assert doc.data["status"] == "confirmed"


def test_edits_and_comments_are_kept_and_changes_arrive() -> None:
    base = default_document()
    doc = edited_map(base)
    result = merge_proposal(doc, new_proposal(base), base)

    fields = doc.data["targets"]["contact"]["fields"]
    # The person's decisions stay whole.
    assert fields["email"]["column"] == "emailaddress2"
    assert fields["email"]["reason"] == "default map"
    assert fields["phone"]["confidence"] == 0.5
    # The tool's untouched values follow the proposal.
    assert fields["first_name"]["confidence"] == 0.7
    # New and removed fields.
    assert "mobile" not in fields
    assert list(fields).index("custom:color") == list(fields).index("phone") + 1
    assert doc.data["value_maps"]["session_status"]["values"]["rescheduled"] == 100000004
    # Status back to proposed, confirmation cleared.
    assert doc.data["status"] == "proposed"
    assert doc.data["confirmed_by"] is None
    assert doc.data["confirmed_at"] is None
    assert doc.data["fingerprint"]["source"] == "s2"

    text = doc.dumps()
    assert "# email: we keep the work address in emailaddress2" in text
    assert "# address: checked with the practice owner" in text
    assert "# mobile end" not in text  # the removed line's own comment goes with it
    assert MapDocument.loads(text).parse()[0] is not None

    diff = result.diff
    assert "~ targets.contact.fields.first_name.confidence: 1.0 → 0.7" in diff
    assert "- targets.contact.fields.mobile: → mobilephone (String)" in diff
    assert "+ targets.contact.fields.custom:color: → new_color (String)" in diff
    assert "+ value_maps.session_status.values.rescheduled: 100000004" in diff
    assert any(line.startswith("~ fingerprint:") for line in diff)
    assert diff[-1] == "~ status: confirmed → proposed"
    assert not any("fields.email" in line or "fields.phone" in line for line in diff)
    assert any(k.startswith("targets.contact.fields.email: your column") for k in result.kept)
    assert any(k.startswith("targets.contact.fields.phone.confidence") for k in result.kept)


def test_what_the_person_added_or_deleted_stays_so() -> None:
    base = default_document()
    doc = MapDocument.loads(saved(base))
    fields = doc.data["targets"]["contact"]["fields"]
    fields["extra:Nickname"] = "nickname"  # added by hand
    del fields["time_zone"]  # deleted by hand
    new = copy.deepcopy(base)
    new["targets"]["contact"]["fields"]["time_zone"]["reason"] = "changed reason"
    result = merge_proposal(doc, new, base)
    assert fields["extra:Nickname"] == "nickname"
    assert "time_zone" not in fields
    assert result.diff == []


def test_without_a_last_proposal_differing_values_are_kept() -> None:
    base = default_document()
    doc = edited_map(base)
    result = merge_proposal(doc, new_proposal(base), None)
    fields = doc.data["targets"]["contact"]["fields"]
    assert result.had_base is False
    assert fields["first_name"]["confidence"] == 1.0  # unknown who set it: kept
    assert "mobile" not in fields  # the source lost it
    assert "custom:color" in fields
    assert any(k.startswith("targets.contact.fields.first_name.confidence") for k in result.kept)


def test_fingerprint_of_the_merged_document() -> None:
    base = default_document()
    doc = edited_map(base)
    seen: list[str] = []

    def fingerprint(d: MapDocument) -> dict[str, str]:
        seen.append(str(d.data["targets"]["contact"]["fields"]["email"]["column"]))
        return {"source": "src", "target": "computed"}

    merge_proposal(doc, new_proposal(base), base, fingerprint=fingerprint)
    assert seen == ["emailaddress2"]  # computed on the merged map, with the person's column
    assert doc.data["fingerprint"]["target"] == "computed"


def test_the_last_proposal_is_private_and_round_trips(tmp_path: Path) -> None:
    base = default_document()
    path = save_last_proposal(tmp_path, base)
    assert path == last_proposal_path(tmp_path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    loaded = load_last_proposal(tmp_path)
    assert loaded is not None
    # Option values are integer keys in YAML and text keys in JSON: still the same proposal.
    doc = MapDocument.loads(saved(base))
    assert merge_proposal(doc, copy.deepcopy(base), loaded).diff == []
    assert load_last_proposal(tmp_path / "nowhere") is None
