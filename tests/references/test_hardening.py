"""What the references must not leak (issue 15): no spreadsheet formula in the data
dictionary (point 16), no credential from the export (point 18), nothing readable by other
users of the machine (point 19)."""

from __future__ import annotations

import csv
import io
import json
import shutil
import stat
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from crm_ferry.cli import cli
from crm_ferry.commands.mapping import init
from crm_ferry.mapping.defaults import default_document
from crm_ferry.mapping.spec import MapDocument, MappingSpec
from crm_ferry.owner_only import FORMULA_STARTS
from crm_ferry.references.credentials import REDACTED, redact, secret_key
from crm_ferry.references.dictionary import DictionaryRow
from crm_ferry.references.writer import _dictionary_csv, write_references
from crm_ferry.settings import Settings
from crm_ferry.sources.bundle import open_bundle
from crm_ferry.sources.generator import generate_bundle

STRIPE = "sk_live_51HxYzAbCdEfGhIjKlMnOpQrStUv"
JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ6YXBpZXIifQ.c2lnbmF0dXJlLXZhbHVlLTEyMzQ1Njc4"
WEBHOOK = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
HMAC = "q8ZxT2vLm9KpR4sWn7YbC3dF6hJ1"


@pytest.fixture(scope="module")
def bundle_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("hardening") / "bundle"
    generate_bundle(out, clients=5, seed=3)
    return out


@pytest.fixture(scope="module")
def spec() -> MappingSpec:
    return MapDocument.from_plain(default_document()).spec()


@pytest.fixture
def leaky_bundle(bundle_dir: Path, tmp_path: Path) -> Path:
    """The bundle with an integration holding a live key, a webhook secret, a password, a
    token in its address and a signing key; and a zap whose settings hold a JWT."""
    out = tmp_path / "leaky"
    shutil.copytree(bundle_dir, out)
    path = out / "integrations.json"
    items = json.loads(path.read_text(encoding="utf-8"))
    items.append(
        {
            "id": "int_90",
            "kind": "payment",
            "name": "Stripe",
            "details": {
                "api_key": STRIPE,
                "webhook": {"url": "https://example.com/hook", "secret": WEBHOOK},
                "password": "hunter2-hunter2",
                "callback": "https://example.com/cb?access_token=abcdef0123456789&x=1",
                "signing": {"hmac": HMAC},
                "currency": "USD",
            },
        }
    )
    items.append(
        {
            "id": "int_91",
            "kind": "zapier",
            "name": "Paid invoice -> Slack",
            "details": {"trigger": "invoice.paid", "action": "slack.post", "auth": JWT},
        }
    )
    path.write_text(json.dumps(items), encoding="utf-8")
    return out


def _everything(folder: Path) -> str:
    return "\n".join(p.read_text(encoding="utf-8") for p in sorted(folder.iterdir()))


def test_credentials_of_integrations_are_redacted_and_listed(
    leaky_bundle: Path, spec: MappingSpec, tmp_path: Path
) -> None:
    out = tmp_path / "refs"
    with open_bundle(leaky_bundle) as b:
        result = write_references(b, spec, out)
    text = _everything(out)
    for secret in (STRIPE, WEBHOOK, "hunter2-hunter2", "abcdef0123456789", HMAC, JWT):
        assert secret not in text, secret
    data = json.loads((out / "integrations.json").read_text(encoding="utf-8"))
    fields = {(r["id"], r["field"]) for r in data["redacted"]["fields"]}
    assert fields == {
        ("int_90", "details.api_key"),
        ("int_90", "details.webhook.secret"),
        ("int_90", "details.password"),
        ("int_90", "details.callback"),
        ("int_90", "details.signing.hmac"),
        ("int_91", "details.auth"),
    }
    assert data["redacted"]["count"] == 6
    stripe = next(i for i in data["integrations"] if i["id"] == "int_90")
    assert stripe["details"]["api_key"] == REDACTED
    assert stripe["details"]["currency"] == "USD"  # the rest is kept
    assert stripe["details"]["callback"] == f"https://example.com/cb?{REDACTED}&x=1"
    md = (out / "integrations.md").read_text(encoding="utf-8")
    assert "6 credential-looking fields were redacted" in md
    assert "`int_90` details.webhook.secret" in md
    assert result.redacted == {"integrations": 6}
    assert result.as_dict()["redacted"] == {"integrations": 6}


def test_the_generated_practice_has_nothing_to_redact(
    bundle_dir: Path, spec: MappingSpec, tmp_path: Path
) -> None:
    """No false alarms on a sound export: zap ids, accounts and triggers stay as they are."""
    with open_bundle(bundle_dir) as b:
        result = write_references(b, spec, tmp_path / "refs")
    assert result.redacted == {}
    assert REDACTED not in _everything(tmp_path / "refs")


_names = st.sampled_from(
    [
        *("api_key", "apiKey", "client_secret", "password", "token", "webhook_secret", "secret"),
        *("access_token", "private_key", "client_credential", "key", "stripe_key", "auth_token"),
    ]
)
_harmless_names = st.sampled_from(
    ["name", "currency", "zap_id", "account", "trigger", "secret_env", "token_url", "sync"]
)
_secret_values = st.text(min_size=1, max_size=20).filter(lambda s: s.strip())


@settings(max_examples=100, deadline=None)
@given(
    name=_names,
    value=_secret_values,
    depth=st.lists(st.sampled_from(["details", "steps", 0, 1]), max_size=3),
    others=st.dictionaries(_harmless_names, st.text(alphabet="abc xyz_.", max_size=10)),
)
def test_a_field_named_like_a_secret_is_redacted_at_any_depth(
    name: str, value: str, depth: list[str | int], others: dict[str, str]
) -> None:
    leaf: dict[str, Any] = {**others, name: value}
    tree: Any = leaf
    path = name
    for step in reversed(depth):
        joint = "" if path.startswith("[") else "."
        if isinstance(step, int):
            tree = [{"n": 1}] * step + [tree]
            path = f"[{step}]{joint}{path}"
        else:
            tree = {step: tree}
            path = f"{step}{joint}{path}"
    clean, found = redact(tree)
    assert found == [path]
    for step in depth:
        clean = clean[step]
    assert clean == {**others, name: REDACTED}
    assert secret_key(name)


def test_every_field_named_like_a_secret_is_caught() -> None:
    for name in ("client_secret", "clientSecret", "api_key", "APIKEY", "webhook_secret"):
        assert secret_key(name), name
    for name in ("client_id", "tenant", "secret_env", "token_url", "key_id", "zap_id", "name"):
        assert not secret_key(name), name


# ---------------------------------------------------------------------------
# point 16: the data dictionary


def test_data_dictionary_csv_neutralises_formulas() -> None:
    row = DictionaryRow(
        role="clients",
        table="contact",
        column="new_tags",
        type="choice",
        source_object="clients",
        source_field="@tags",
        value_map="tags",
        values={"=cmd|' /c calc'!a0": 100000001},
        created=True,
        table_created=False,
        reason="-from the tags",
    )
    back = list(csv.reader(io.StringIO(_dictionary_csv([row]), newline="")))
    assert len(back) == 2
    for cell in back[1]:
        assert not (cell and cell[0] in FORMULA_STARTS), cell
    values = dict(zip(back[0], back[1], strict=True))
    assert values["values"] == "'=cmd|' /c calc'!a0=100000001"
    assert values["source_field"] == "'@tags"
    assert values["reason"] == "'-from the tags"


# ---------------------------------------------------------------------------
# point 19: owner-only


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_references_out_folder_is_owner_only(
    bundle_dir: Path, spec: MappingSpec, tmp_path: Path
) -> None:
    out = tmp_path / "shared" / "refs"
    with open_bundle(bundle_dir) as b:
        result = write_references(b, spec, out)
    assert _mode(out) == 0o700
    assert _mode(out.parent) == 0o700  # made for it
    assert result.files
    for path in result.files:
        assert _mode(path) == 0o600, path


def test_references_files_written_over_become_owner_only(
    bundle_dir: Path, spec: MappingSpec, tmp_path: Path
) -> None:
    out = tmp_path / "refs"
    out.mkdir(mode=0o755)
    (out / "integrations.md").write_text("old")
    (out / "integrations.md").chmod(0o644)
    with open_bundle(bundle_dir) as b:
        write_references(b, spec, out)
    assert _mode(out / "integrations.md") == 0o600
    assert _mode(out) == 0o755  # the user's own folder is left as it was


def test_discover_rejects_file_is_owner_only(bundle_dir: Path, tmp_path: Path) -> None:
    target = tmp_path / "elsewhere" / "rejects.jsonl"
    res = CliRunner().invoke(
        cli,
        ["-C", str(tmp_path), "discover", "--source", str(bundle_dir), "--rejects", str(target)],
    )
    assert res.exit_code == 0, res.output
    assert target.exists()
    assert _mode(target) == 0o600
    assert _mode(target.parent) == 0o700
    existing = tmp_path / "old.jsonl"
    existing.write_text("x")
    existing.chmod(0o644)
    res = CliRunner().invoke(
        cli,
        ["-C", str(tmp_path), "discover", "--source", str(bundle_dir), "--rejects", str(existing)],
    )
    assert res.exit_code == 0, res.output
    assert _mode(existing) == 0o600


def test_init_keeps_references_out_of_git(tmp_path: Path) -> None:
    """The guides hold the practice's settings: the project's .gitignore excludes them."""
    init(Settings.load(tmp_path, env={}), directory=tmp_path / "proj")
    ignored = (tmp_path / "proj" / ".gitignore").read_text(encoding="utf-8").splitlines()
    assert "references/" in ignored
