"""Linked files: contracts given by URL, session recordings given by name only, and the
downloads folder holding them (``generate_bundle(..., linked_files=True)``).

The Practice keeps such files out of its export: a ``files`` row without a ``path``. With
``linked_files``, about one client in seven gets a coaching contract (a PDF named only by
its URL, the name URL-encoded in it) and about one in seven with a completed session a
recording of one (an ``.m4a`` named only by its ``filename``); the first client always has a
contract and the first four clients with a completed session a recording, so that a
bundle of any size has each case:

* the files are written to the downloads folder beside the bundle (``<bundle>.downloads/``):
  contracts under ``contracts/`` (every third under its name in lower case: matched
  ignoring case), recordings under ``recordings/``, and the assessment results the planted
  edge cases give by URL under ``assessments/<client id>/`` (two clients of one name make
  two rows of one name and nothing else to tell them apart: both ambiguous);
* all but one: the first contract is *planted missing* (its file is not written);
* the first two recordings are both called ``recording.m4a``, each in its client's folder,
  of different sizes (told apart by size); the next two ``voice memo.m4a``, of one size and
  different content (told apart by their SHA-256).

Their rows have ids of their own (``lnk_000001``) and everything about them comes from a
random stream of its own, so the rest of the bundle is the same bytes with or without them.
The ground truth says how each is matched, and which is missing.
"""

from __future__ import annotations

import hashlib
import random
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

from crm_ferry.sources.generator import _binary as binary
from crm_ferry.sources.generator._state import PracticeState, Session, at

CT_PDF = "application/pdf"
CT_M4A = "audio/mp4"
CONTRACT_SHARE = 0.15
RECORDING_SHARE = 0.15
COLLIDING = ("recording.m4a", "recording.m4a", "voice memo.m4a", "voice memo.m4a")
"""The names of the first four recordings: two pairs that share a name."""


@dataclass(slots=True)
class _Linked:
    """A linked row as planted: its name, where its download is (None: planted missing)."""

    file_id: str
    name: str
    path: str | None
    pair: bool = False
    """One of a planted pair of recordings of one name (:data:`COLLIDING`)."""


class LinkedFiles(PracticeState):
    """Writes the linked rows of a client and their downloads."""

    downloads: Path | None
    """The downloads folder being written (None: no linked files asked for)."""

    def _linked_setup(self, enabled: bool) -> None:
        self.linked_rng = random.Random(f"crm-ferry:{self.seed}:linked")
        self.linked_planted: list[_Linked] = []
        self.contracts = 0
        self.recordings = 0
        self._pair_length = 0
        self.downloads = None
        self.with_linked = enabled

    def _linked_files(
        self, cid: str, sessions: list[Session], label: str, created: datetime
    ) -> None:
        if not self.with_linked:
            return
        rng = self.linked_rng
        if self.contracts == 0 or rng.random() < CONTRACT_SHARE:
            self._contract(cid, label, created)
        done = [s for s in sessions if s.status == "completed"]
        if done and (self.recordings < len(COLLIDING) or rng.random() < RECORDING_SHARE):
            self._recording(cid, rng.choice(done))

    def _contract(self, cid: str, label: str, created: datetime) -> None:
        rng = self.linked_rng
        fid = self.next_id("lnk", 6)
        name = f"Coaching contract - {label} ({cid}).pdf"
        data = binary.pdf(
            f"Coaching contract - {label}",
            [f"Client id: {cid}", "Twelve sessions over six months; 24 hours' notice to move one.",
             f"Signed {created.date().isoformat()}."],
        )  # fmt: skip
        token = hashlib.sha256(f"{self.seed}:{fid}".encode()).hexdigest()[:24]
        self._write_row(
            fid,
            cid,
            None,
            {
                "filename": None,
                "content_type": CT_PDF,
                "size_bytes": len(data),
                "url": f"https://files.practice.example.com/d/{token}/{quote(name)}",
                "sha256": None,
                "uploaded_at": at((created + timedelta(days=rng.randint(0, 3))).date(), rng),
            },
        )
        saved = name.lower() if self.contracts % 3 == 2 else name
        path = None if self.contracts == 0 else self._save(f"contracts/{saved}", data)
        self.linked_planted.append(_Linked(fid, name, path))
        self.contracts += 1

    def _assessment(self, fid: str, cid: str, name: str, label: str) -> None:
        """The download of an assessment the planted edge cases link by URL."""
        if not self.with_linked:
            return
        data = binary.pdf(f"Assessment results - {label}", [f"Client id: {cid}"])
        self.linked_planted.append(
            _Linked(fid, name, self._save(f"assessments/{cid}/{name}", data))
        )

    def _recording(self, cid: str, session: Session) -> None:
        rng = self.linked_rng
        fid = self.next_id("lnk", 6)
        n = self.recordings
        if n < len(COLLIDING):
            name = COLLIDING[n]
            if n < 2:  # told apart by size
                length = 2_000 + 1_000 * n + rng.randint(0, 900)
            else:  # one size, told apart by content
                if n == 2:
                    self._pair_length = rng.randint(3_000, 6_000)
                length = self._pair_length
            folder = f"recordings/{cid}"
        else:
            name = f"{session.start.date().isoformat()} session {session.id}.m4a"
            length = rng.randint(2_000, 8_000)
            folder = "recordings"
        data = binary.m4a(rng.randbytes(length))
        self._write_row(
            fid,
            cid,
            session.id,
            {
                "filename": name,
                "content_type": CT_M4A,
                "size_bytes": len(data),
                "url": None,
                "sha256": binary.sha256_hex(data),
                "uploaded_at": session.start + timedelta(hours=2),
            },
        )
        saved = self._save(f"{folder}/{name}", data)
        self.linked_planted.append(_Linked(fid, name, saved, n < len(COLLIDING)))
        self.recordings += 1

    def _write_row(self, fid: str, cid: str, session_id: str | None, row: dict[str, Any]) -> None:
        self.out["files"].write(
            {"id": fid, "client_id": cid, "session_id": session_id, "path": None, **row}
        )
        self.truth.find("files.linked", fid)

    def _save(self, rel: str, data: bytes) -> str:
        assert self.downloads is not None
        path = self.downloads.joinpath(*rel.split("/"))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        return rel

    def linked_truth(self) -> dict[str, Any]:
        """How each linked row is matched to the downloads folder, which is missing and
        which ambiguous: a planted pair that is whole is told apart by size (the first)
        or by hash (the second); other rows sharing a name give nothing else to tell."""
        names = Counter(p.name.casefold() for p in self.linked_planted)
        matched: dict[str, dict[str, str]] = {}
        ambiguous: list[str] = []
        for p in self.linked_planted:
            if p.path is None:
                continue
            how = "name"
            if names[p.name.casefold()] > 1:
                if not p.pair:
                    ambiguous.append(p.file_id)
                    continue
                how = "size" if p.name == COLLIDING[0] else "hash"
            matched[p.file_id] = {"path": p.path, "how": how}
        return {
            "matched": matched,
            "missing": [p.file_id for p in self.linked_planted if p.path is None],
            "ambiguous": ambiguous,
        }
