"""A small hand-written Web API for unit tests, built from the documented wire examples.

It parses ``$batch`` requests with the standard library's ``email`` package (not with the
client's decoder) and writes its responses with LF line ends and its own boundaries, as
the documentation's examples do. Faults are queued explicitly, so each test says exactly
which request fails and how.
"""

from __future__ import annotations

import email
import email.policy
import json
import random
import re
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import httpx

from crm_ferry.dataverse import ClientOptions, DataverseClient, RetryPolicy, StaticToken

API = "/api/data/v9.2/"
BASE = "https://org.example.test"

TABLES = {
    "contact": ("contacts", "contactid", "fullname"),
    "account": ("accounts", "accountid", "name"),
    "new_session": ("new_sessions", "new_sessionid", "new_name"),
    "invoice": ("invoices", "invoiceid", "name"),
}
ALL_PRIVILEGES = frozenset(
    {
        "prvCreateEntity",
        "prvCreateAttribute",
        "prvCreateRelationship",
        "prvBypassCustomBusinessLogic",
    }
    | {
        f"prv{verb}{entity}"
        for verb in ("Create", "Write", "Read")
        for entity in ("Contact", "Account", "Opportunity", "Invoice", "Note", "Activity")
    }
)
SETS = {v[0]: k for k, v in TABLES.items()}


@dataclass
class Fault:
    """What the next matching request gets instead of its answer."""

    status: int = 503
    code: str = ""
    message: str = "fault"
    retry_after: int | None = None
    raise_: type[Exception] | None = None


class FakeClock:
    """A clock whose sleep advances time instantly; records every sleep."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []
        self._lock = threading.Lock()

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.sleeps.append(seconds)
            self.now += max(0.0, seconds)


@dataclass
class FakeDataverse:
    bulk_tables: set[str] = field(default_factory=lambda: {"contact"})
    probe_works: bool = True
    bad: Callable[[dict[str, Any]], bool] = lambda row: row.get("lastname") == "BAD"
    faults: list[Fault] = field(default_factory=list)
    fault_paths: str = ""
    """Only requests whose path contains this get queued faults ('' = all API requests)."""
    rows: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    log: list[tuple[str, str]] = field(default_factory=list)
    unauthorized_once: bool = False
    dop_hint: int = 6
    privileges: frozenset[str] = ALL_PRIVILEGES
    lock: threading.Lock = field(default_factory=threading.Lock)

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self)

    # -- entry -----------------------------------------------------------------------

    def __call__(self, request: httpx.Request) -> httpx.Response:
        path = unquote(request.url.path)
        with self.lock:
            self.log.append((request.method, path))
            if self.unauthorized_once:
                self.unauthorized_once = False
                return _error(401, "0x80040220", "token expired")
            if self.faults and self.fault_paths in path:
                fault = self.faults.pop(0)
                if fault.raise_ is not None:
                    raise fault.raise_("injected", request=request)
                headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after else {}
                return _error(fault.status, fault.code, fault.message, headers)
            resp = self._route(request, path[len(API) :])
        resp.headers["x-ms-dop-hint"] = str(self.dop_hint)
        return resp

    def _route(self, request: httpx.Request, path: str) -> httpx.Response:
        m = re.fullmatch(r"EntityDefinitions\(LogicalName='(\w+)'\)(/.*)?", path)
        if m:
            return self._metadata(m.group(1), m.group(2) or "")
        if path == "EntityDefinitions":
            q = parse_qs(request.url.query.decode())
            custom = "IsCustomEntity eq true" in q.get("$filter", [""])[0]
            names = [t for t in TABLES if t.startswith("new_") or not custom]
            return _json({"value": [json.loads(self._metadata(t, "").content) for t in names]})
        if re.fullmatch(
            r"systemusers\([\w-]+\)/Microsoft\.Dynamics\.CRM\.RetrieveUserPrivileges\(\)", path
        ):
            privileges = [
                {"PrivilegeName": p, "Depth": "Global", "PrivilegeId": str(uuid.uuid4())}
                for p in sorted(self.privileges)
            ]
            return _json({"RolePrivileges": privileges})
        m = re.fullmatch(r"(systemusers|businessunits|organizations)\(([\w-]+)\)", path)
        if m:
            names = {"systemusers": "fullname", "businessunits": "name", "organizations": "name"}
            return _json({names[m.group(1)]: f"{m.group(1)} {m.group(2)}"})
        if path == "organizations":
            return _json({"value": [{"maxuploadfilesize": 5242880}]})
        if path == "WhoAmI":
            return _json({"UserId": "u-1", "BusinessUnitId": "bu-1", "OrganizationId": "org-1"})
        if path == "sdkmessagefilters":
            if not self.probe_works:
                return _error(404, "0x80060888", "Resource not found for the segment")
            q = parse_qs(request.url.query.decode())
            table = q["@table"][0].strip("'")
            return _json(
                {"value": [{"sdkmessagefilterid": "f"}] if table in self.bulk_tables else []}
            )
        if path == "$batch":
            return self._batch(request)
        m = re.fullmatch(r"(\w+)/Microsoft\.Dynamics\.CRM\.(\w+)", path)
        if m:
            return self._bulk(m.group(1), m.group(2), json.loads(request.content))
        m = re.fullmatch(r"(\w+)(?:\((.+)\))?", path)
        if m and m.group(1) in SETS:
            return self._record(request.method, m.group(1), m.group(2), request)
        return _error(404, "0x80060888", f"Resource not found for the segment '{path}'.")

    # -- metadata --------------------------------------------------------------------

    def _metadata(self, table: str, sub: str) -> httpx.Response:
        if table not in TABLES:
            return _error(404, "0x80040217", f"Could not find entity with name {table}")
        set_, pk, name = TABLES[table]
        if sub == "":
            return _json(
                {
                    "LogicalName": table,
                    "SchemaName": table,
                    "EntitySetName": set_,
                    "PrimaryIdAttribute": pk,
                    "PrimaryNameAttribute": name,
                    "IsCustomEntity": table.startswith("new_"),
                    "MetadataId": str(uuid.uuid5(uuid.NAMESPACE_DNS, table)),
                }
            )
        if sub == "/ManyToOneRelationships" and table == "contact":
            return _json(
                {
                    "value": [
                        {
                            "SchemaName": "contact_customer_accounts",
                            "ReferencingAttribute": "parentcustomerid",
                            "ReferencedEntity": "account",
                            "ReferencedAttribute": "accountid",
                            "ReferencingEntityNavigationPropertyName": "parentcustomerid_account",
                        }
                    ]
                }
            )
        return _json({"value": []})

    # -- records ---------------------------------------------------------------------

    def _store(self, table: str) -> dict[str, dict[str, Any]]:
        return self.rows.setdefault(table, {})

    def _apply(
        self, method: str, set_: str, key: str | None, body: dict[str, Any], headers: Any
    ) -> tuple[int, dict[str, str], Any]:
        table = SETS[set_]
        pk = TABLES[table][1]
        store = self._store(table)
        if method == "GET":
            if key is None:
                return 200, {}, {"value": list(store.values())}
            row = store.get(key)
            if row is None:
                return 404, {}, _err("0x80040217", f"{table} With Id = {key} Does Not Exist")
            return 200, {}, row
        if method == "DELETE":
            if store.pop(key or "", None) is None:
                return 404, {}, _err("0x80040217", f"{table} With Id = {key} Does Not Exist")
            return 204, {}, None
        if self.bad(body):
            return 400, {}, _err("0x80044331", "A validation error occurred. lastname is BAD")
        if method == "POST":
            key = str(body.get(pk) or uuid.uuid4())
            if key in store:
                return 412, {}, _err("0x80040237", "Cannot insert duplicate key.")
        assert key is not None
        if key.startswith(pk + "="):
            key = key.split("=", 1)[1]
        if "=" in key:  # alternate key: find by value
            col, _, value = key.partition("=")
            value = value.strip("'")
            found = [k for k, r in store.items() if str(r.get(col)) == value]
            if found:
                key = found[0]
            else:
                body = {**body, col: value}
                key = str(uuid.uuid4())
        exists = key in store
        if method == "PATCH" and headers.get("if-match") == "*" and not exists:
            return 404, {}, _err("0x80040217", f"{table} With Id = {key} Does Not Exist")
        if method == "PATCH" and headers.get("if-none-match") == "*" and exists:
            return 412, {}, _err("", "A record with matching key values already exists.")
        row = {**store.get(key, {}), **body, pk: key}
        store[key] = row
        uri = f"{BASE}{API}{set_}({key})"
        return 204, {"OData-EntityId": uri}, None

    def _record(
        self, method: str, set_: str, key: str | None, request: httpx.Request
    ) -> httpx.Response:
        body = json.loads(request.content) if request.content else {}
        if method == "GET" and key is None:
            return self._page(set_, request)
        status, headers, payload = self._apply(method, set_, key, body, request.headers)
        return httpx.Response(
            status,
            headers={**headers, "Content-Type": "application/json"},
            content=json.dumps(payload).encode() if payload is not None else b"",
        )

    def _page(self, set_: str, request: httpx.Request) -> httpx.Response:
        rows = sorted(self._store(SETS[set_]).values(), key=lambda r: str(r))
        prefer = request.headers.get("prefer", "")
        m = re.search(r"odata\.maxpagesize=(\d+)", prefer)
        size = int(m.group(1)) if m else 5000
        q = parse_qs(request.url.query.decode())
        start = int(q.get("$skiptoken", ["0"])[0])
        page = rows[start : start + size]
        body: dict[str, Any] = {"value": page}
        if start + size < len(rows):
            body["@odata.nextLink"] = f"{BASE}{API}{set_}?$skiptoken={start + size}"
        return _json(body)

    def _bulk(self, set_: str, message: str, body: dict[str, Any]) -> httpx.Response:
        table = SETS.get(set_)
        if table not in self.bulk_tables:
            return _error(
                400,
                "0x80040800",
                f"The '{message}' method does not support entities of type '{table}'.",
            )
        targets = body["Targets"]
        for t in targets:
            assert t["@odata.type"] == f"Microsoft.Dynamics.CRM.{table}"
            if self.bad(t):  # standard tables: all or nothing
                return _error(400, "0x80044331", "A validation error occurred. lastname is BAD")
        ids = []
        for t in targets:
            t = {k: v for k, v in t.items() if k != "@odata.type"}
            ref = t.pop("@odata.id", None)
            key = None
            if ref:
                key = re.fullmatch(r"\w+\((.+)\)", ref).group(1)  # type: ignore[union-attr]
            elif TABLES[table][1] in t:
                key = t[TABLES[table][1]]
            method = "POST" if message == "CreateMultiple" else "PATCH"
            _, headers, _ = self._apply(method, set_, key, t, {})
            ids.append(headers["OData-EntityId"].rsplit("(", 1)[1].rstrip(")"))
        if message == "CreateMultiple":
            return _json({"Ids": ids})
        return httpx.Response(204)

    # -- $batch (parsed with the email package, answered with LF line ends) -----------

    def _batch(self, request: httpx.Request) -> httpx.Response:
        ctype = request.headers["content-type"]
        msg = email.message_from_bytes(
            b"Content-Type: " + ctype.encode() + b"\r\n\r\n" + request.content,
            policy=email.policy.HTTP,
        )
        continue_on_error = "odata.continue-on-error" in request.headers.get("prefer", "")
        out: list[str] = []
        bnd = "batchresponse_" + uuid.uuid4().hex
        status_outer = 200
        for part in msg.iter_parts():
            if part.get_content_type() == "multipart/mixed":
                cs = "changesetresponse_" + uuid.uuid4().hex
                answers = []
                failed = None
                snapshot = json.dumps(self.rows)
                for inner in part.iter_parts():
                    status, headers, payload = self._inner(inner)
                    answers.append((inner.get("Content-ID"), status, headers, payload))
                    if status >= 400:
                        failed = (status, headers, payload)
                        break
                if failed:
                    self.rows = json.loads(snapshot)  # atomic: roll back
                    if not continue_on_error:  # only the failing response comes back
                        out = [f"--{bnd}\n" + _http_part(None, *failed)]
                        status_outer = 400
                        break
                    out.append(f"--{bnd}\n" + _http_part(None, *failed))
                    continue
                body = "".join(f"--{cs}\n" + _http_part(cid, s, h, p) for cid, s, h, p in answers)
                out.append(
                    f"--{bnd}\nContent-Type: multipart/mixed; boundary={cs}\n\n{body}--{cs}--\n"
                )
            else:
                status, headers, payload = self._inner(part)
                if status >= 400 and not continue_on_error:
                    out = [f"--{bnd}\n" + _http_part(None, status, headers, payload)]
                    status_outer = 400
                    break
                out.append(f"--{bnd}\n" + _http_part(None, status, headers, payload))
        text = "".join(out) + f"--{bnd}--\n"
        return httpx.Response(
            status_outer,
            headers={"Content-Type": f"multipart/mixed; boundary={bnd}"},
            content=text.encode(),
        )

    def _inner(self, part: Any) -> tuple[int, dict[str, str], Any]:
        raw = part.get_payload(decode=True).decode()
        head, _, body = raw.replace("\r\n", "\n").partition("\n\n")
        line = head.split("\n")[0]
        method, url, _ = line.split(" ")
        headers = {
            k.strip().lower(): v.strip()
            for k, _, v in (h.partition(":") for h in head.split("\n")[1:])
        }
        path = unquote(urlsplit(url).path)[len(API) :]
        m = re.fullmatch(r"(\w+)(?:\((.+)\))?", path)
        if not m or m.group(1) not in SETS:
            return 404, {}, _err("", f"no route {path}")
        if self.faults and self.fault_paths == "inner":
            f = self.faults.pop(0)
            hdr = {"Retry-After": str(f.retry_after)} if f.retry_after else {}
            return f.status, hdr, _err(f.code, f.message)
        payload = json.loads(body) if body.strip() else {}
        return self._apply(method, m.group(1), m.group(2), payload, headers)


def _http_part(cid: str | None, status: int, headers: dict[str, str], payload: Any) -> str:
    reason = {200: "OK", 204: "No Content"}.get(status, "Error")
    lines = ["Content-Type: application/http", "Content-Transfer-Encoding: binary"]
    if cid:
        lines.append(f"Content-ID: {cid}")
    lines += ["", f"HTTP/1.1 {status} {reason}"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    if payload is not None:
        lines.append("Content-Type: application/json; odata.metadata=minimal")
    lines += ["", json.dumps(payload) if payload is not None else ""]
    return "\n".join(lines) + "\n"


def _err(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}


def _error(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> httpx.Response:
    return httpx.Response(
        status,
        headers={**(headers or {}), "Content-Type": "application/json; odata.metadata=minimal"},
        content=json.dumps(_err(code, message)).encode(),
    )


def _json(body: Any) -> httpx.Response:
    return httpx.Response(200, json=body)


def make_client(fake: FakeDataverse, clock: FakeClock, **options: object) -> DataverseClient:
    opts = ClientOptions(retry=RetryPolicy(max_attempts=4), **options)  # type: ignore[arg-type]
    return DataverseClient(
        BASE,
        StaticToken("t0k3n"),
        transport=fake.transport(),
        options=opts,
        clock=clock,
        sleep=clock.sleep,
        rng=random.Random(1),
    )


SECRET = "s3cr3t-Value-That-Must-Never-Leak"


class Plane:
    """The fake data plane with the application-user directory the emulator's sign-in needs
    (the tests of signing in put it behind the emulator's real sign-in layer)."""

    def __init__(self, fake: FakeDataverse) -> None:
        self.fake = fake
        self.users: dict[str, tuple[str, bool]] = {}

    def handle(self, request: httpx.Request) -> httpx.Response:
        return self.fake(request)

    def application_user(self, client_id: str) -> tuple[str, bool] | None:
        return self.users.get(client_id)

    def register_application_user(self, client_id: str, name: str) -> str:
        uid = str(uuid.uuid5(uuid.NAMESPACE_URL, client_id))
        self.users.setdefault(client_id, (uid, False))
        return uid

    def dump(self, table: str | None = None) -> Mapping[str, Any]:
        rows = self.fake.rows
        return {"records": {t: list(r.values()) for t, r in rows.items() if table in (None, t)}}

    def close(self) -> None:
        pass


CLIENT_ID = "0c3f8b9e-1111-4a9e-aaae-a2591f45987d"
