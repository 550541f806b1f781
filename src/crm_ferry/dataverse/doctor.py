"""``crm-ferry doctor``: can this project reach, sign in to and load into its environment?

Each check gives one line: ``pass``, ``warn`` (worth knowing, does not stop a run),
``fail`` (blocks a migration) or ``skip`` (an earlier failure made it pointless). The
caller's privileges are read with the ``RetrieveUserPrivileges`` function bound to the
caller's ``systemuser`` row
(``GET systemusers(<UserId>)/Microsoft.Dynamics.CRM.RetrieveUserPrivileges()``, answering
``{"RolePrivileges": [{"PrivilegeName": "prvCreateContact", "Depth": "Global", ...}]}``;
https://learn.microsoft.com/power-apps/developer/data-platform/webapi/reference/retrieveuserprivileges).
Child and activity tables have no privileges of their own: invoice lines use the
invoice's, notes ``prvCreateNote``, phone calls, emails and appointments ``prvCreateActivity``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx

from crm_ferry.dataverse.auth import CredentialProvider
from crm_ferry.dataverse.client import ClientOptions, DataverseClient, WhoAmI
from crm_ferry.dataverse.errors import AuthError, DataverseError

Status = Literal["pass", "warn", "fail", "skip"]

TARGET_TABLES = (
    "contact",
    "account",
    "opportunity",
    "invoice",
    "invoicedetail",
    "annotation",
    "phonecall",
    "email",
    "appointment",
)
PRIVILEGE_ENTITY: Mapping[str, str] = {
    "contact": "Contact",
    "account": "Account",
    "opportunity": "Opportunity",
    "invoice": "Invoice",
    "invoicedetail": "Invoice",
    "annotation": "Note",
    "phonecall": "Activity",
    "email": "Activity",
    "appointment": "Activity",
}
SCHEMA_PRIVILEGES = ("prvCreateEntity", "prvCreateAttribute", "prvCreateRelationship")
BYPASS_PRIVILEGE = "prvBypassCustomBusinessLogic"
PROFESSIONAL_CUSTOM_TABLE_LIMIT = 15
DISABLED_CODE = "0x80040225"


@dataclass(frozen=True, slots=True)
class DoctorCheck:
    name: str
    status: Status
    detail: str
    hint: str | None = None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "status": self.status, "detail": self.detail}
        if self.hint:
            out["hint"] = self.hint
        return out


@dataclass(frozen=True, slots=True)
class DoctorResult:
    url: str | None
    checks: tuple[DoctorCheck, ...]
    facts: Mapping[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """No blocking problem."""
        return not any(c.status == "fail" for c in self.checks)

    def as_dict(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "ok": self.ok,
            "checks": [c.as_dict() for c in self.checks],
            "facts": dict(self.facts),
        }


class _Checks:
    def __init__(self) -> None:
        self.items: list[DoctorCheck] = []
        self.facts: dict[str, Any] = {}

    def add(self, name: str, status: Status, detail: str, hint: str | None = None) -> None:
        self.items.append(DoctorCheck(name, status, detail, hint))

    def skip(self, *names: str) -> None:
        for name in names:
            self.add(name, "skip", "skipped after an earlier failure")


LATER = ("WhoAmI", "privileges", "upload size", "invoice table", "custom tables")


def run_doctor(
    url: str,
    credential: CredentialProvider,
    *,
    transport: httpx.BaseTransport | None = None,
    options: ClientOptions | None = None,
    bypass_custom_logic: bool = False,
    custom_table_limit: int = PROFESSIONAL_CUSTOM_TABLE_LIMIT,
) -> DoctorResult:
    """Run every check against ``url``; never raises for what it finds. Closes ``credential``."""
    try:
        return _run(url, credential, transport, options, bypass_custom_logic, custom_table_limit)
    finally:
        close = getattr(credential, "close", None)
        if callable(close):
            close()


def _run(
    url: str,
    credential: CredentialProvider,
    transport: httpx.BaseTransport | None,
    options: ClientOptions | None,
    bypass_custom_logic: bool,
    custom_table_limit: int,
) -> DoctorResult:
    checks = _Checks()
    _reachability(url, transport, checks)
    if checks.items[-1].status == "fail":
        checks.skip("sign-in", *LATER)
        return DoctorResult(url, tuple(checks.items), checks.facts)
    try:
        credential.token()
        checks.add("sign-in", "pass", f"signed in as client {credential.name}")
    except DataverseError as exc:
        checks.add("sign-in", "fail", exc.message, exc.hint)
        checks.skip(*LATER)
        return DoctorResult(url, tuple(checks.items), checks.facts)
    with DataverseClient(url, credential, transport=transport, options=options) as client:
        me = _who_am_i(client, checks)
        if me is None:
            checks.skip(*LATER[1:])
            return DoctorResult(url, tuple(checks.items), checks.facts)
        _privileges(client, me, bypass_custom_logic, checks)
        _upload_size(client, checks)
        _invoice(client, checks)
        _custom_tables(client, custom_table_limit, checks)
    return DoctorResult(url, tuple(checks.items), checks.facts)


def _reachability(url: str, transport: httpx.BaseTransport | None, checks: _Checks) -> None:
    api = f"{url.rstrip('/')}/api/data/v9.2/"
    try:
        with httpx.Client(transport=transport, timeout=30) as http:
            resp = http.get(api)
    except httpx.HTTPError as exc:
        checks.add(
            "reachability",
            "fail",
            f"cannot reach {api}: {type(exc).__name__}",
            "check [dataverse] url, the network and any proxy",
        )
        return
    # Unauthenticated, the Web API answers 401 with a challenge: it is there.
    if resp.status_code in (200, 401):
        checks.add("reachability", "pass", f"{api} answers (HTTP {resp.status_code})")
    else:
        checks.add(
            "reachability",
            "fail",
            f"{api} answered HTTP {resp.status_code}; not a Dataverse Web API?",
            "check [dataverse] url: it is the environment URL, e.g. https://org.crm.dynamics.com",
        )


def _who_am_i(client: DataverseClient, checks: _Checks) -> WhoAmI | None:
    try:
        me = client.who_am_i()
    except AuthError as exc:
        disabled = exc.code == DISABLED_CODE or "disabled" in exc.detail.lower()
        checks.add(
            "WhoAmI",
            "fail",
            "the application user is disabled in the environment"
            if disabled
            else f"the environment refused the token: {exc.detail}",
            "enable the application user (Power Platform admin center > Users > Application users)"
            if disabled
            else "add the app registration as an application user with a security role",
        )
        return None
    except DataverseError as exc:
        checks.add("WhoAmI", "fail", exc.message, exc.hint)
        return None
    user = _name_of(client, f"systemusers({me.user_id})", "fullname")
    unit = _name_of(client, f"businessunits({me.business_unit_id})", "name")
    org = _name_of(client, f"organizations({me.organization_id})", "name")
    checks.facts.update(
        user_id=me.user_id,
        user_name=user,
        business_unit_id=me.business_unit_id,
        business_unit_name=unit,
        organization_id=me.organization_id,
        organization_name=org,
        dop_hint=me.dop_hint,
    )
    hint = f"x-ms-dop-hint {me.dop_hint}" if me.dop_hint else "no x-ms-dop-hint header"
    checks.add(
        "WhoAmI",
        "pass",
        f"user {_named(user, me.user_id)}, business unit {_named(unit, me.business_unit_id)}, "
        f"organization {_named(org, me.organization_id)}; {hint}",
    )
    return me


def _name_of(client: DataverseClient, path: str, column: str) -> str | None:
    """A display name, best effort: doctor reports ids when names cannot be read."""
    try:
        value = client.request("GET", path, params={"$select": column}).json().get(column)
    except (DataverseError, ValueError):
        return None
    return str(value) if value else None


def _named(name: str | None, ident: str) -> str:
    return f"{name} ({ident})" if name else ident


def _privileges(client: DataverseClient, me: WhoAmI, bypass: bool, checks: _Checks) -> None:
    try:
        resp = client.request(
            "GET", f"systemusers({me.user_id})/Microsoft.Dynamics.CRM.RetrieveUserPrivileges()"
        )
        held = {
            str(p.get("PrivilegeName"))
            for p in resp.json().get("RolePrivileges", [])
            if p.get("PrivilegeName")
        }
    except DataverseError as exc:
        checks.add(
            "privileges",
            "warn",
            f"cannot read the caller's privileges: {exc.detail}",
            "give the user prvReadUser, or check its security role by hand",
        )
        return
    needed: dict[str, list[str]] = {}
    for priv in SCHEMA_PRIVILEGES:
        needed.setdefault(priv, []).append("create tables and columns")
    for table in TARGET_TABLES:
        for priv in _table_privileges(client, table):
            needed.setdefault(priv, []).append(table)
    if bypass:
        needed.setdefault(BYPASS_PRIVILEGE, []).append("bypass custom business logic")
    missing = sorted(p for p in needed if p not in held)
    checks.facts["privileges_missing"] = missing
    if missing:
        detail = "; ".join(f"{p} (for {', '.join(sorted(set(needed[p])))})" for p in missing)
        checks.add(
            "privileges",
            "fail",
            f"missing {detail}",
            "add the privileges to the application user's security role",
        )
    else:
        extra = "" if not bypass else "; may bypass custom business logic"
        checks.add("privileges", "pass", f"all {len(needed)} needed privileges held{extra}")
    if not bypass:
        can = BYPASS_PRIVILEGE in held
        checks.facts["can_bypass_custom_logic"] = can
        if not can:
            checks.add(
                "bypass custom logic",
                "warn",
                f"no {BYPASS_PRIVILEGE}: custom plug-ins will run during the load",
            )


def _table_privileges(client: DataverseClient, table: str) -> list[str]:
    """The Create and Write privilege names of ``table``, as its metadata declares them
    (``EntityMetadata.Privileges``,
    https://learn.microsoft.com/power-apps/developer/data-platform/webapi/reference/securityprivilegemetadata);
    the well-known names when the metadata does not say. A table that does not exist needs
    none (the invoice check reports a missing invoice table)."""
    try:
        resp = client.request(
            "GET",
            f"EntityDefinitions(LogicalName='{table}')",
            params={"$select": "LogicalName,Privileges"},
        )
    except DataverseError as exc:
        if exc.status == 404:
            return []
        resp = None
    declared = (resp.json().get("Privileges") if resp is not None else None) or []
    names = [
        str(p["Name"])
        for p in declared
        if isinstance(p, dict) and p.get("PrivilegeType") in ("Create", "Write") and p.get("Name")
    ]
    if names:
        return names
    entity = PRIVILEGE_ENTITY[table]
    return [f"prvCreate{entity}", f"prvWrite{entity}"]


def _upload_size(client: DataverseClient, checks: _Checks) -> None:
    try:
        rows = list(
            client.query_path("organizations", params={"$select": "maxuploadfilesize"}, page_size=0)
        )
    except DataverseError as exc:
        checks.add("upload size", "warn", f"cannot read maxuploadfilesize: {exc.detail}")
        return
    size = rows[0].get("maxuploadfilesize") if rows else None
    checks.facts["maxuploadfilesize"] = size
    if size is None:
        checks.add("upload size", "warn", "maxuploadfilesize not set on the organization row")
    else:
        checks.add(
            "upload size",
            "pass",
            f"attachments up to {int(size):,} bytes (Base64), {int(size) / 1048576:.1f} MB",
        )


def _invoice(client: DataverseClient, checks: _Checks) -> None:
    try:
        present = client.metadata.has_table("invoice")
    except DataverseError as exc:
        checks.add("invoice table", "warn", f"cannot read table definitions: {exc.detail}")
        return
    checks.facts["invoice_table"] = present
    if present:
        checks.add("invoice table", "pass", "the invoice table exists")
    else:
        checks.add(
            "invoice table",
            "warn",
            "no invoice table in this environment: invoices need a custom table",
        )


def _custom_tables(client: DataverseClient, limit: int, checks: _Checks) -> None:
    try:
        custom = client.metadata.tables(custom_only=True)
    except DataverseError as exc:
        checks.add("custom tables", "warn", f"cannot list custom tables: {exc.detail}")
        return
    n = len(custom)
    checks.facts["custom_tables"] = sorted(t.logical_name for t in custom)
    status: Status = "pass" if n < limit else "warn"
    checks.add(
        "custom tables",
        status,
        f"{n} custom table(s) in use of the {limit} the licence tier allows",
        None if n < limit else "new custom tables may exceed the Sales Professional limit",
    )
