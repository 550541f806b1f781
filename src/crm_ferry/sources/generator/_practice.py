"""The practice simulation behind :func:`crm_ferry.sources.generator.generate_bundle`.

One pass over the clients: each client's dependent rows (properties, package, sessions,
notes, invoices, items, payments, activities, files) are written as soon as the client is,
to files that stay open together, so memory does not grow with the practice. Everything
derives from the seed through :class:`random.Random`; nothing reads the clock.

Edge cases are planted on a fixed schedule (one slot per kind in every block of up to 100
clients, so even a 50-client bundle has each), and every planted row is recorded in the
ground truth with the vocabulary discovery uses.
"""

from __future__ import annotations

import random
from datetime import timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from crm_ferry.sources.generator import _config as config
from crm_ferry.sources.generator import _text as text
from crm_ferry.sources.generator._clients import Clients
from crm_ferry.sources.generator._io import write_json
from crm_ferry.sources.generator._outputs import OBJECT_FILES, Outputs, Planted
from crm_ferry.sources.generator._state import CURRENCY, TIMEZONE, User, at
from crm_ferry.sources.generator._workbook import Books


class Practice(Clients):
    """Writes one bundle for ``n_clients`` clients from ``seed`` (with ``linked_files``,
    their downloads too: :mod:`._linked`; with ``groups``, client groups: :mod:`._groups`)."""

    def __init__(
        self,
        n_clients: int,
        seed: int,
        *,
        with_large_files: bool = False,
        documents: bool = False,
        linked_files: bool = False,
        groups: bool = False,
    ) -> None:
        super().__init__(n_clients, seed, with_large_files=with_large_files, documents=documents)
        self._linked_setup(linked_files)
        self._groups_setup(groups)

    # -- the whole bundle -----------------------------------------------------------------

    def write(
        self,
        root: Path,
        books: Books | None = None,
        *,
        bad_rows: bool = False,
        downloads: Path | None = None,
    ) -> None:
        """Write the bundle into the new folder ``root``; ``books`` takes the objects it
        holds (the workbook variant); ``bad_rows`` plants rows the reader must reject
        (:class:`~._outputs.Planted`, counted in :attr:`planted`); the linked files'
        downloads go into ``downloads`` (which linked files need)."""
        root.mkdir(parents=True)
        (root / "files").mkdir()
        self.root = root
        self.planted: dict[str, int] = {}
        if self.with_linked:
            assert downloads is not None, "linked files need a downloads folder"
            downloads.mkdir(parents=True)
            self.downloads = downloads
        rng = self.rng
        manifest = {
            "platform": "practice.do",
            "exported_at": self.export.replace(tzinfo=ZoneInfo(TIMEZONE)).isoformat(),
            "timezone": TIMEZONE,
            "currency": CURRENCY,
            "date_format": "iso",
        }

        def whole(obj: str, rows: list[dict[str, Any]], name: str) -> None:
            if books is not None and books.holds(obj):
                books.rows(obj, rows)
            else:
                write_json(root / name, rows if obj != "manifest" else rows[0])

        whole("manifest", [manifest], "manifest.json")
        services = config.service_type_rows()
        whole("service_types", services, OBJECT_FILES["service_types"])
        self.counts["service_types"] = len(services)
        templates = config.email_templates(rng)
        configs: dict[str, list[dict[str, Any]]] = {
            "email_templates": templates,
            "automations": config.automations(rng, [t["id"] for t in templates]),
            "integrations": config.integrations(rng),
            "reports": config.reports(rng),
        }
        for name, rows in configs.items():
            whole(name, rows, OBJECT_FILES[name])
            self.counts[name] = len(rows)

        self.users = self._users()
        with Outputs(root, books, bad_rows=bad_rows) as out:
            for u in self.users:
                out["users"].write(
                    {
                        "id": u.id,
                        "email": u.email,
                        "first_name": u.first_name,
                        "last_name": u.last_name,
                        "role": u.role,
                        "active": u.active,
                        "time_zone": TIMEZONE,
                        "created_at": at(
                            (self.start - timedelta(days=rng.randint(10, 400))).date(), rng
                        ),
                    }
                )
            self.out = out
            for i in range(self.n):
                self._client(i)
            self._close_duplicate_group()
            for name, w in out.items():
                self.counts[name] = w.count
                if isinstance(w, Planted):
                    self.planted[name] = w.planted
        if books is not None:
            books.close()
        self._write_groups()
        for u in self.users:
            if not u.active and u.id in self.coached:
                self.truth.find("users.inactive_with_clients", u.id)

    # -- users ----------------------------------------------------------------------------

    def _users(self) -> list[User]:
        rng = random.Random(f"crm-ferry:{self.seed}:users")
        n_coaches = max(2, round(self.n / 40))
        n_inactive = max(1, n_coaches // 12)
        n_assistants = max(1, n_coaches // 8)
        roles = ["owner"]
        roles += ["coach"] * n_coaches
        roles += ["assistant"] * n_assistants
        roles += ["admin"] * (1 if n_coaches >= 5 else 0)
        roles.append("former_assistant")
        users: list[User] = []
        width = max(4, len(str(len(roles))))
        for k, role in enumerate(roles, start=1):
            first, last = rng.choice(text.FIRST_NAMES), rng.choice(text.LAST_NAMES)
            uid = f"usr_{k:0{width}d}"
            active = True
            if role == "coach" and k > 1 + n_coaches - n_inactive:
                active = False
            if role == "former_assistant":
                role, active = "assistant", False
            users.append(
                User(
                    id=uid,
                    email=f"{first}.{last}.{k}@practice.example.com".lower(),
                    first_name=first,
                    last_name=last,
                    role=role,
                    active=active,
                )
            )
        coaching = [u for u in users if u.role in {"owner", "coach"}]
        self.coaching = coaching
        self.owner = users[0]
        weights = [0.6 if u.role == "owner" else (1.0 if u.active else 0.25) for u in coaching]
        total = 0.0
        self.coach_cum = []
        for w in weights:
            total += w
            self.coach_cum.append(total)
        return users
