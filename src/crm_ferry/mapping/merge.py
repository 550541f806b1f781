"""Re-proposing: merge a new proposal into the ``mapping.yaml`` a person has edited.

Three versions meet (like a three-way merge in version control):

* **base** — the last proposal the tool wrote, kept in ``.crm-ferry/mapping.proposed.json``
  (owner-only), so the tool knows what the person changed;
* **current** — ``mapping.yaml`` as it is now, in round-trip form (comments included);
* **new** — the proposal for the source and tenant as they are now.

Per value: unchanged by the person (current == base) → the new proposal wins; changed by
the person → the person's value stays. A field whose ``column`` the person changed is
kept whole (its type, reason and confidence belong to the person's decision). Keys the new
proposal adds (new fields, targets, value-map entries, coaches) are added where the
proposal has them; keys the last proposal had and the new one lacks (a field whose source
disappeared) are removed, with the comments that stood before the next key kept; keys the
person added by hand stay. The fingerprint is the tool's and always takes the new value.

Every change is one line of the returned diff (``+`` added, ``-`` removed, ``~`` changed,
``old → new``). When there is any, the map goes back to ``status: proposed`` and its
confirmation is cleared: the person reviews and confirms again.
"""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml.comments import CommentedMap
from ruamel.yaml.error import CommentMark
from ruamel.yaml.tokens import CommentToken

from crm_ferry.mapping.spec import MapDocument

STATE_DIR = ".crm-ferry"
LAST_PROPOSAL = "mapping.proposed.json"
_STATUS_KEYS = ("status", "confirmed_by", "confirmed_at")
_TOOL_KEYS = ("fingerprint",)
_MISSING: Any = object()


# ---------------------------------------------------------------------------
# The last proposal


def last_proposal_path(project_dir: Path) -> Path:
    return project_dir / STATE_DIR / LAST_PROPOSAL


def save_last_proposal(project_dir: Path, proposal: Mapping[str, Any]) -> Path:
    """Keep ``proposal`` as the base of the next merge (folder 0700, file 0600)."""
    folder = project_dir / STATE_DIR
    folder.mkdir(mode=0o700, exist_ok=True)
    os.chmod(folder, 0o700)
    path = folder / LAST_PROPOSAL
    tmp = folder / f".{LAST_PROPOSAL}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(_norm(proposal), fh, indent=1, sort_keys=False, default=str)
    os.chmod(tmp, 0o600)
    tmp.replace(path)
    return path


def load_last_proposal(project_dir: Path) -> dict[str, Any] | None:
    path = last_proposal_path(project_dir)
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


# ---------------------------------------------------------------------------
# Merging


@dataclass(slots=True)
class MergeResult:
    document: MapDocument
    diff: list[str] = field(default_factory=list)
    """One line per change: ``+ path: value``, ``- path: value``, ``~ path: old → new``."""
    kept: list[str] = field(default_factory=list)
    """The person's edits that stayed although the new proposal differs there."""
    had_base: bool = True

    @property
    def changed(self) -> bool:
        return bool(self.diff)


def merge_proposal(
    current: MapDocument,
    new: Mapping[str, Any],
    base: Mapping[str, Any] | None,
    *,
    fingerprint: Callable[[MapDocument], Mapping[str, Any]] | None = None,
) -> MergeResult:
    """Merge the proposal ``new`` into ``current`` (in place) against the last proposal.

    ``fingerprint``, when given, computes the fingerprint of the merged document (the
    target fingerprint depends on the columns the person kept); otherwise ``new``'s is used.
    """
    styled = MapDocument.from_plain(new).data
    result = MergeResult(current, had_base=base is not None)
    merger = _Merger(result, base is not None)
    data = current.data
    base_n = _norm(base) if base is not None else None
    for key in list(styled):
        if key in _STATUS_KEYS:
            continue
        if key in _TOOL_KEYS:
            continue
        merger.merge_key(data, key, styled, base_n, [str(key)])
    for key in list(data):
        if key not in styled and key not in _STATUS_KEYS and key not in _TOOL_KEYS:
            merger.maybe_remove(data, key, base_n, [str(key)])
    fp = fingerprint(current) if fingerprint is not None else new.get("fingerprint")
    if fp is not None:
        fp_node = MapDocument.from_plain({"fingerprint": dict(fp)}).data["fingerprint"]
        if "fingerprint" not in data:
            _insert_like(data, "fingerprint", fp_node, styled)
            result.diff.append(f"+ fingerprint: {_show(fp_node)}")
        merger.leaf(data, "fingerprint", None, fp_node, ["fingerprint"], force=True)
    if result.diff:
        old_status = data.get("status")
        if old_status != "proposed":
            result.diff.append(f"~ status: {old_status} → proposed")
        current.set_status("proposed")
    return result


class _Merger:
    def __init__(self, result: MergeResult, has_base: bool) -> None:
        self.result = result
        self.has_base = has_base

    # -- keys -------------------------------------------------------------------

    def merge_key(
        self,
        cur: CommentedMap,
        key: Any,
        new: CommentedMap,
        base: Any,
        path: list[str],
    ) -> None:
        bval = _get(base, key)
        nval = new[key]
        if key not in cur:
            if bval is not _MISSING and self.has_base:
                return  # the person deleted what the tool proposed: respect it
            _insert_like(cur, key, copy.deepcopy(nval), new)
            self.result.diff.append(f"+ {_dotted(path)}: {_show(nval)}")
            return
        cval = cur[key]
        if isinstance(cval, CommentedMap) and isinstance(nval, CommentedMap):
            mine = plain_value(cval.get("column"))
            if (
                _is_field(path)
                and isinstance(bval, Mapping)
                and mine != bval.get("column", _MISSING)
            ):
                # The person changed the decision: the whole entry is theirs.
                if mine != plain_value(nval.get("column")):
                    self.result.kept.append(
                        f"{_dotted(path)}: your column {mine} "
                        f"(proposal: {plain_value(nval.get('column'))})"
                    )
                return
            sub_base = bval if isinstance(bval, Mapping) else None
            for k in list(nval):
                self.merge_key(cval, k, nval, sub_base, [*path, str(k)])
            for k in list(cval):
                if k not in nval:
                    self.maybe_remove(cval, k, sub_base, [*path, str(k)])
            return
        self.leaf(cur, key, bval, nval, path)

    def leaf(
        self,
        cur: CommentedMap,
        key: Any,
        bval: Any,
        nval: Any,
        path: list[str],
        *,
        force: bool = False,
    ) -> None:
        cval = cur.get(key, _MISSING)
        c, n = _norm(plain_value(cval)), _norm(plain_value(nval))
        if c == n:
            return
        untouched = force or (self.has_base and bval is not _MISSING and c == _norm(bval))
        if not untouched:
            self.result.kept.append(
                f"{_dotted(path)}: yours {_show(cval)} (proposal: {_show(nval)})"
            )
            return
        cur[key] = copy.deepcopy(nval)
        self.result.diff.append(f"~ {_dotted(path)}: {_show(cval)} → {_show(nval)}")

    def maybe_remove(self, cur: CommentedMap, key: Any, base: Any, path: list[str]) -> None:
        """``key`` is in the file but not in the new proposal."""
        bval = _get(base, key)
        if self.has_base and bval is _MISSING:
            return  # the person added it
        if not self.has_base and not _removable_without_base(path):
            return
        removed = cur[key]
        _delete_keeping_comments(cur, key)
        self.result.diff.append(f"- {_dotted(path)}: {_show(removed)}")


def _removable_without_base(path: Sequence[str]) -> bool:
    """Without a last proposal, only fields and value-map values the source lost go."""
    return (
        (len(path) == 4 and path[0] == "targets" and path[2] == "fields")
        or (len(path) == 4 and path[0] == "value_maps" and path[2] == "values")
        or (len(path) == 3 and path[:2] == ["owners", "coaches"])
    )


def _is_field(path: Sequence[str]) -> bool:
    return len(path) == 4 and path[0] == "targets" and path[2] == "fields"


def _get(base: Any, key: Any) -> Any:
    if not isinstance(base, Mapping):
        return _MISSING
    return base.get(str(key), _MISSING)


# ---------------------------------------------------------------------------
# Round-trip edits


def _insert_like(cur: CommentedMap, key: Any, value: Any, order: Mapping[Any, Any]) -> None:
    """Insert ``key`` after the key that precedes it in ``order`` (the new proposal)."""
    keys = list(order)
    pos = len(cur)
    present = list(cur)
    for prev in reversed(keys[: keys.index(key)]):
        if prev in cur:
            pos = present.index(prev) + 1
            break
    else:
        if keys.index(key) == 0 and present:
            pos = 0
    cur.insert(pos, key, value)


def _delete_keeping_comments(cur: CommentedMap, key: Any) -> None:
    """Delete ``key``, moving the full-line comments around it to the key that follows.

    ruamel keeps comment lines that stand before a key either on that key (``items[k][1]``)
    or after the previous key's end-of-line comment (``items[prev][2]``); deleting an entry
    would lose the person's comments about the next entry.
    """
    keys = list(cur)
    idx = keys.index(key)
    lines: list[str] = []
    item = cur.ca.items.get(key)
    if item:
        if len(item) > 1 and isinstance(item[1], list):
            lines.extend(t.value for t in item[1] if t is not None)
        if len(item) > 2 and item[2] is not None:
            lines.extend(_after_first_line(item[2].value))
    value = cur[key]
    if isinstance(value, CommentedMap) and not value.fa.flow_style() and len(value):
        last = value.ca.items.get(list(value)[-1])
        if last and len(last) > 2 and last[2] is not None:
            lines.extend(_after_first_line(last[2].value))
    del cur[key]
    cur.ca.items.pop(key, None)
    comment_lines = [ln for ln in "".join(lines).splitlines() if ln.strip().startswith("#")]
    if not comment_lines or idx >= len(keys) - 1:
        return
    nxt = keys[idx + 1]
    col = _column_of(cur, nxt)
    text = "".join(f"{ln.strip()}\n" for ln in comment_lines)
    token = CommentToken(text, CommentMark(col), None)
    item = cur.ca.items.setdefault(nxt, [None, None, None, None])
    if item[1] is None:
        item[1] = []
    item[1].insert(0, token)


def _after_first_line(text: str) -> list[str]:
    _, _, rest = text.partition("\n")
    return [rest] if rest.strip() else []


def _column_of(cur: CommentedMap, key: Any) -> int:
    try:
        return int(cur.lc.key(key)[1])
    except (KeyError, TypeError, AttributeError):
        return 0


# ---------------------------------------------------------------------------
# Plain values


def plain_value(value: Any) -> Any:
    """Round-trip nodes → dicts, lists and builtin scalars."""
    if value is _MISSING:
        return _MISSING
    if isinstance(value, Mapping):
        return {k: plain_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain_value(v) for v in value]
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, str):
        return str(value)
    return value


def _norm(value: Any) -> Any:
    """Comparable form: mapping keys as text (as JSON stores them)."""
    if isinstance(value, Mapping):
        return {str(k): _norm(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_norm(v) for v in value]
    return value


def _dotted(path: Sequence[str]) -> str:
    return ".".join(path)


def _show(value: Any, limit: int = 120) -> str:
    value = plain_value(value)
    if value is _MISSING:
        return "(none)"
    if isinstance(value, Mapping):
        if "column" in value and len(value) > 1:
            text = f"→ {value['column']}" + (f" ({value['type']})" if value.get("type") else "")
        else:
            text = "{" + ", ".join(f"{k}: {_show(v, 40)}" for k, v in value.items()) + "}"
    elif isinstance(value, list):
        text = "[" + ", ".join(_show(v, 40) for v in value) + "]"
    elif value is None:
        text = "null"
    else:
        text = str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"
