"""Attachments: the documents in ``files/`` and their rows in ``files.csv``.

About one client in eight has one or two documents (an intake form and a worksheet as
PDF, a coaching agreement as DOCX, a profile photo as PNG); the planted edge cases add a
file given by URL only and, on request, one attachment over Dataverse's upload limit, and
linked files with their downloads beside the bundle (:mod:`._linked`).
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterator
from datetime import datetime, timedelta

from crm_ferry.sources import discover
from crm_ferry.sources.generator import _binary as binary
from crm_ferry.sources.generator._linked import LinkedFiles
from crm_ferry.sources.generator._state import Session, at, plain_ascii

CT_PDF = "application/pdf"
CT_PNG = "image/png"
CT_DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
LARGE_FILE_BYTES = 5_400_000
"""The planted large attachment: over 5 MB raw, about 7.2 MB once base64-encoded."""
UPLOAD_LIMIT_B64 = discover.UPLOAD_LIMIT
"""Dataverse's default ``maxuploadfilesize``, measured on the base64 text."""


class Attachments(LinkedFiles):
    """Writes a client's files (and the PNGs notes embed)."""

    def _png(self, variant: int) -> bytes:
        if variant not in self.png_cache:
            palette = (
                (52, 120, 200),
                (200, 90, 60),
                (60, 160, 90),
                (150, 80, 170),
                (220, 180, 40),
                (90, 90, 90),
            )
            self.png_cache[variant] = binary.png(
                32 + 8 * variant, 24 + 4 * variant, palette[variant], stripe=7 + variant
            )
        return self.png_cache[variant]

    def _files(
        self, cid: str, sessions: list[Session], full: str, created: datetime, kind: str | None
    ) -> None:
        rng = self.rng
        label = plain_ascii(full).strip() or "Client"
        wanted: list[str] = []
        if rng.random() < 0.12:
            wanted = rng.sample(("intake", "agreement", "photo", "worksheet"), rng.randint(1, 2))
        done = [s for s in sessions if s.status == "completed"]
        for what in wanted:
            session = None
            if what == "worksheet":
                if not done:
                    continue
                session = rng.choice(done)
            fid = self.next_id("file", 6)
            if what == "intake":
                data = binary.pdf(
                    f"Intake form - {label}",
                    [f"Client id: {cid}", f"Received: {created.date().isoformat()}",
                     "Goals, history and preferences as provided by the client."],
                )  # fmt: skip
                name, ctype, ext = f"Intake form - {label}.pdf", CT_PDF, "pdf"
            elif what == "agreement":
                data = binary.docx(
                    "Coaching agreement",
                    [f"Between the practice and {label} ({cid}).",
                     "Sessions are confidential. Cancellations need 24 hours notice.",
                     f"Signed {created.date().isoformat()}."],
                )  # fmt: skip
                name, ctype, ext = f"Coaching agreement - {label}.docx", CT_DOCX, "docx"
            elif what == "photo":
                data = self._png(rng.randint(0, 5))
                name, ctype, ext = "profile-photo.png", CT_PNG, "png"
            else:
                assert session is not None
                day = session.start.date().isoformat()
                data = binary.pdf(
                    f"Worksheet {day}",
                    [f"Session {session.id}", "1. What went well this week?",
                     "2. What will you do differently?", "3. One small next step."],
                )  # fmt: skip
                name, ctype, ext = f"Worksheet {day}.pdf", CT_PDF, "pdf"
            rel = f"files/{fid}.{ext}"
            (self.root / rel).write_bytes(data)
            when = session.start if session is not None else created
            self.out["files"].write(
                {
                    "id": fid,
                    "client_id": cid,
                    "session_id": session.id if session is not None else None,
                    "filename": name,
                    "content_type": ctype,
                    "size_bytes": len(data),
                    "path": rel,
                    "url": None,
                    "sha256": binary.sha256_hex(data),
                    "uploaded_at": at((when + timedelta(days=rng.randint(0, 2))).date(), rng),
                }
            )
        if kind == "linked_file":
            fid = self.next_id("file", 6)
            token = hashlib.sha256(f"{self.seed}:{fid}".encode()).hexdigest()[:28]
            self.out["files"].write(
                {
                    "id": fid,
                    "client_id": cid,
                    "session_id": None,
                    "filename": f"Assessment results - {label}.pdf",
                    "content_type": CT_PDF,
                    "size_bytes": None,
                    "path": None,
                    "url": f"https://drive.example.com/file/d/{token}/view",
                    "sha256": None,
                    "uploaded_at": created + timedelta(days=1),
                }
            )
            self.truth.find("files.linked", fid)
            self._assessment(fid, cid, f"Assessment results - {label}.pdf", label)
        if kind == "large_file":
            self._large_file(cid, label, created)
        self._linked_files(cid, sessions, label, created)

    def _large_file(self, cid: str, label: str, created: datetime) -> None:
        fid = self.next_id("file", 6)
        rel = f"files/{fid}.pdf"
        noise = random.Random(f"crm-ferry:{self.seed}:large")

        def payload() -> Iterator[bytes]:
            left = LARGE_FILE_BYTES
            while left:
                n = min(left, 1 << 16)
                yield noise.randbytes(n)
                left -= n

        digest = hashlib.sha256()
        size = 0
        with (self.root / rel).open("wb") as fh:
            lines = ["Scanned assessment report (high resolution).", f"Client id: {cid}"]
            for chunk in binary.pdf_with_payload(
                f"Assessment scan - {label}", lines, LARGE_FILE_BYTES, payload()
            ):
                fh.write(chunk)
                digest.update(chunk)
                size += len(chunk)
        self.out["files"].write(
            {
                "id": fid,
                "client_id": cid,
                "session_id": None,
                "filename": f"Assessment scan - {label}.pdf",
                "content_type": CT_PDF,
                "size_bytes": size,
                "path": rel,
                "url": None,
                "sha256": digest.hexdigest(),
                "uploaded_at": created + timedelta(days=3),
            }
        )
        if 4 * -(-size // 3) > UPLOAD_LIMIT_B64:
            self.truth.find("files.over_upload_limit", fid)
