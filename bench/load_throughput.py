"""Load throughput of the Dataverse client against the emulator served over loopback HTTP.

    .venv/bin/python bench/load_throughput.py [--records 20000] [--baseline-slice 200]

The emulator runs in this process on a real socket with simulated server time (50 ms per
request, 0.5 ms per record). Three measurements, each on a fresh emulator:

1. **Naive baseline**: one ``POST /contacts`` per record, sequential, one user. Timed on a
   slice (``--baseline-slice`` records) and extrapolated linearly: every request costs the
   same, so the rate on a slice is the rate on the whole.
2. **crm-ferry, one user**, Microsoft's default limits (6,000 requests and 1,200 s of
   execution per 300 s): ``write_many("contact", rows)`` with bulk messages of 1,000 rows.
3. **Limits as the bottleneck**, one user then two: the limits scaled to the run (a 10 s
   window, 200 requests and 20 s of execution per window, i.e. half of Microsoft's
   per-second execution budget, so that one user's limit, not the emulator's own
   processing, is what binds), so one user is throttled; two users each get their own.

Prints the figures and the machine; paste them into bench/RESULTS.md ("Load throughput").

``--data-plane stand-in`` keeps the emulator's sign-in, service protection and latency
layers but answers the few calls this bench makes from a dict (no validation, no SQLite):
the figures are then the client's and the simulated server's, without the emulator's own
processing time. The default is the emulator's data plane.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import threading
import time
import uuid
from typing import Any

import httpx

from crm_ferry.dataverse import ClientOptions, DataverseClient, MsalCredential, write_many
from crm_ferry.emulator import EmulatorApp
from crm_ferry.emulator.app import emulator_config
from crm_ferry.emulator.auth import AuthConfig, ClientApp
from crm_ferry.emulator.server import serve
from machine import machine

USERS = (
    ClientApp("b1e0c7a2-0000-4000-8000-000000000001", "bench-secret-one", "bench loader 1"),
    ClientApp("b1e0c7a2-0000-4000-8000-000000000002", "bench-secret-two", "bench loader 2"),
)
NAMESPACE = uuid.UUID("6f1c2d3e-4b5a-4c6d-8e7f-8091a2b3c4d5")


def contacts(n: int) -> list[dict[str, Any]]:
    return [
        {
            "contactid": str(uuid.uuid5(NAMESPACE, f"client/{i}")),
            "firstname": f"Client{i}",
            "lastname": f"Bench{i % 997}",
            "emailaddress1": f"client{i}@example.com",
        }
        for i in range(n)
    ]


class StandIn:
    """A minimal data plane: contact metadata, the bulk probe, UpsertMultiple, POST, WhoAmI."""

    def __init__(self) -> None:
        self.rows: dict[str, dict[str, Any]] = {}
        self.users: dict[str, tuple[str, bool]] = {}
        self._lock = threading.Lock()

    def handle(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path.split("/api/data/v9.2/", 1)[1]
        records = 0
        if path.startswith("EntityDefinitions(LogicalName='contact')"):
            resp = httpx.Response(200, json=_CONTACT)
        elif path == "sdkmessagefilters":
            resp = httpx.Response(200, json={"value": [{"sdkmessagefilterid": "x"}]})
        elif path == "WhoAmI":
            resp = httpx.Response(200, json={"UserId": request.extensions.get("crm_ferry.caller")})
        elif path == "contacts/Microsoft.Dynamics.CRM.UpsertMultiple":
            targets = json.loads(request.content)["Targets"]
            with self._lock:
                for t in targets:
                    self.rows[t["contactid"]] = t
            records = len(targets)
            resp = httpx.Response(204)
        elif path == "contacts" and request.method == "POST":
            row = json.loads(request.content)
            with self._lock:
                self.rows[row["contactid"]] = row
            records = 1
            resp = httpx.Response(204)
        else:
            resp = httpx.Response(404, json={"error": {"code": "", "message": path}})
        resp.extensions["crm_ferry.records"] = records
        return resp

    def application_user(self, client_id: str) -> tuple[str, bool] | None:
        return self.users.get(client_id)

    def register_application_user(self, client_id: str, name: str) -> str:
        uid = str(uuid.uuid5(NAMESPACE, client_id))
        self.users.setdefault(client_id, (uid, False))
        return uid

    def dump(self, table: str | None = None) -> dict[str, Any]:
        return {"records": {"contact": list(self.rows.values())}}

    def close(self) -> None:
        pass


_CONTACT = {
    "LogicalName": "contact",
    "EntitySetName": "contacts",
    "PrimaryIdAttribute": "contactid",
    "PrimaryNameAttribute": "fullname",
}
RUN: dict[str, Any] = {"data_plane": "emulator", "scaled_execution_ms": 20_000}
"""Set from the command line: which data plane, and the execution-time budget per 10 s
window in the "limits are the bottleneck" runs."""


def make_app(scaled_limits: bool) -> EmulatorApp:
    config = emulator_config(
        latency_ms=50.0,
        per_record_ms=0.5,
        window_seconds=10.0 if scaled_limits else None,
        requests_per_window=200 if scaled_limits else None,
        max_execution_ms=RUN["scaled_execution_ms"] if scaled_limits else None,
    )
    config = dataclasses.replace(config, auth=AuthConfig(clients=USERS))
    if RUN["data_plane"] == "stand-in":
        return EmulatorApp(config, backend=StandIn())
    return EmulatorApp(config)


def client_for(url: str, app: EmulatorApp, user: ClientApp) -> DataverseClient:
    credential = MsalCredential.client_secret(
        environment_url=url,
        client_id=user.client_id,
        secret=user.secret,
        tenant=app.tenant,
        authority=url,
    )
    options = ClientOptions(batch_size=1000, max_concurrency=52, timeout=300)
    return DataverseClient(url, credential, options=options)


def baseline(rows: list[dict[str, Any]]) -> dict[str, float]:
    """One POST per record, sequential: what a straightforward script does."""
    with make_app(scaled_limits=False) as app, serve(app) as server:
        with client_for(server.url, app, USERS[0]) as c:
            token = c.credential.token()
        headers = {
            "Authorization": f"Bearer {token}",
            "OData-Version": "4.0",
            "Accept": "application/json",
        }
        with httpx.Client(base_url=app.api_url + "/", headers=headers, timeout=60) as http:
            started = time.perf_counter()
            for row in rows:
                http.post("contacts", json=row).raise_for_status()
            elapsed = time.perf_counter() - started
    return {"records": len(rows), "seconds": elapsed, "records_per_s": len(rows) / elapsed}


def ours(rows: list[dict[str, Any]], *, users: int, scaled_limits: bool) -> dict[str, Any]:
    with make_app(scaled_limits) as app, serve(app) as server:
        clients = [client_for(server.url, app, u) for u in USERS[:users]]
        for c in clients:
            c.credential.token()  # sign in before the clock starts, as a loader would
        try:
            started = time.perf_counter()
            report = write_many(clients, "contact", rows)
            elapsed = time.perf_counter() - started
        finally:
            for c in clients:
                c.close()
        stored = _count_rows(app.dump("contact"))
    return {
        "users": users,
        "records": len(rows),
        "written": report.written,
        "rejected": len(report.rejected),
        "stored": stored,
        "seconds": elapsed,
        "records_per_s": len(rows) / elapsed,
        "requests": report.requests,
        "requests_per_record": report.requests / len(rows),
        "throttled": sum(c.stats.throttled for c in clients),
        "used_bulk": report.used_bulk,
    }


def _count_rows(dumped: Any) -> int:
    return len(dumped["records"]["contact"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=20_000)
    parser.add_argument("--baseline-slice", type=int, default=200)
    parser.add_argument("--data-plane", choices=["emulator", "stand-in"], default="emulator")
    parser.add_argument(
        "--scaled-execution-ms",
        type=int,
        default=RUN["scaled_execution_ms"],
        help="execution budget per 10 s window when the limits are the bottleneck; lower it "
        "until one user's rate is well below what the emulator itself can process",
    )
    args = parser.parse_args()
    RUN.update(data_plane=args.data_plane, scaled_execution_ms=args.scaled_execution_ms)
    rows = contacts(args.records)
    base = baseline(rows[: args.baseline_slice])
    one = ours(rows, users=1, scaled_limits=False)
    limited_one = ours(rows, users=1, scaled_limits=True)
    limited_two = ours(rows, users=2, scaled_limits=True)
    result = {
        "machine": machine(),
        "data_plane": RUN["data_plane"],
        "scaled_execution_ms_per_10s": RUN["scaled_execution_ms"],
        "baseline": base,
        "one_user_default_limits": one,
        "speedup_vs_baseline": one["records_per_s"] / base["records_per_s"],
        "one_user_scaled_limits": limited_one,
        "two_users_scaled_limits": limited_two,
        "two_vs_one_user": limited_two["records_per_s"] / limited_one["records_per_s"],
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
