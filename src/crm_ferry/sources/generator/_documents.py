"""Documents of every size, planted on request (``generate --documents``).

Four files, each on the next client that has a completed session: a 6 MB assessment scan
(PDF) and a 40 MB session recording (M4A) — both over Dataverse's default upload limit, under
its largest — a 150 MB workshop video (MP4), over even the largest limit Dataverse allows
(128 MB), and an internet shortcut (``.url``), a file type Dataverse blocks by default. Their
bytes come from their own random streams, so planting them leaves every other value of the
bundle as it was; they are written piece by piece, never held whole.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from crm_ferry.sources.generator import _binary as binary
from crm_ferry.sources.generator._state import PracticeState, Session, plain_ascii

MB = 1_000_000


@dataclass(frozen=True, slots=True)
class Planted:
    kind: str
    size: int
    """Raw bytes (for the PDF: its payload; the file is a little larger)."""
    content_type: str
    extension: str
    on_session: bool
    truth: tuple[str, ...]
    """The ground-truth findings it is recorded under."""


SHORTCUT = "application/internet-shortcut"
OVER_ALL = ("files.over_upload_limit", "files.over_largest_upload_limit")
DOCUMENTS: dict[str, Planted] = {
    p.kind: p
    for p in (
        Planted("scan", 6 * MB, "application/pdf", "pdf", False, ("files.over_upload_limit",)),
        Planted("recording", 40 * MB, "audio/mp4", "m4a", True, ("files.over_upload_limit",)),
        Planted("video", 150 * MB, "video/mp4", "mp4", False, OVER_ALL),
        Planted(
            "shortcut", 0, "application/internet-shortcut", "url", False, ("files.blocked_type",)
        ),
    )
}
CHUNK = 1 << 20


class Documents(PracticeState):
    """Writes the planted documents, one per client with a completed session."""

    def _document(self, cid: str, full: str, sessions: list[Session], created: datetime) -> None:
        if not self.documents_left:
            return
        label = plain_ascii(full).strip() or "Client"
        done = [s for s in sessions if s.status == "completed"]
        if not done:
            return
        spec = DOCUMENTS[self.documents_left.pop(0)]
        noise = random.Random(f"crm-ferry:{self.seed}:document:{spec.kind}")
        session = noise.choice(done) if spec.on_session else None
        fid = self.next_id("file", 6)
        rel = f"files/{fid}.{spec.extension}"
        day = (session.start if session is not None else created).date().isoformat()
        names = {
            "scan": f"Assessment scan - {label}.pdf",
            "recording": f"Session recording {day}.m4a",
            "video": f"Workshop video - {label}.mp4",
            "shortcut": "Booking page.url",
        }
        digest = hashlib.sha256()
        size = 0
        with (self.root / rel).open("wb") as fh:
            for chunk in _content(spec, noise, cid, label):
                fh.write(chunk)
                digest.update(chunk)
                size += len(chunk)
        self.out["files"].write(
            {
                "id": fid,
                "client_id": cid,
                "session_id": session.id if session is not None else None,
                "filename": names[spec.kind],
                "content_type": spec.content_type,
                "size_bytes": size,
                "path": rel,
                "url": None,
                "sha256": digest.hexdigest(),
                "uploaded_at": (session.start if session is not None else created)
                + timedelta(days=1),
            }
        )
        for kind in spec.truth:
            self.truth.find(kind, fid)


def _content(spec: Planted, noise: random.Random, cid: str, label: str) -> Iterator[bytes]:
    if spec.kind == "shortcut":
        yield b"[InternetShortcut]\r\nURL=https://practice.example.com/book\r\n"
        return

    def payload(n: int) -> Iterator[bytes]:
        while n:
            k = min(n, CHUNK)
            yield noise.randbytes(k)
            n -= k

    if spec.kind == "scan":
        lines = ["Scanned assessment (high resolution).", f"Client id: {cid}"]
        yield from binary.pdf_with_payload(
            f"Assessment scan - {label}", lines, spec.size, payload(spec.size)
        )
        return
    # an ISO base media file: an ftyp box, then the media data as one mdat box
    brand = b"M4A " if spec.kind == "recording" else b"isom"
    yield (20).to_bytes(4, "big") + b"ftyp" + brand + (0).to_bytes(4, "big") + brand
    body = spec.size - 20 - 8
    yield (body + 8).to_bytes(4, "big") + b"mdat"
    yield from payload(body)
