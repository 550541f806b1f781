"""What to build in Dynamics 365 / Power Platform instead of each The Practice feature.

Automations, integrations and reports do not migrate as data: each becomes an entry of a
rebuild guide that says what it did and what to build instead (a Power Automate cloud flow
with its trigger and actions, a business process flow, server-side synchronization, a
connector, a Power BI measure). Table and column names come from the confirmed map, so the
guide names the same columns the migration wrote.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from crm_ferry.mapping.spec import MappingSpec, Target
from crm_ferry.model import Automation, EmailTemplate, Integration, Report

REVIEW: Final = "review manually"

DATAVERSE_TRIGGER: Final = "Dataverse: When a row is added, modified or deleted"

_OBJECT_ALIASES: Final[Mapping[str, str]] = {
    "client": "clients",
    "contact": "clients",
    "family": "families",
    "household": "families",
    "session": "sessions",
    "appointment": "sessions",
    "note": "session_notes",
    "session_note": "session_notes",
    "invoice": "invoices",
    "invoice_item": "invoice_items",
    "payment": "payments",
    "package": "packages",
    "activity": "activities",
    "file": "files",
    "service_type": "service_types",
    "user": "users",
    "coach": "users",
}

_SCHEDULES: Final[Mapping[str, str]] = {
    "hourly": "Hour",
    "daily": "Day",
    "weekly": "Week",
    "monthly": "Month",
    "yearly": "Year",
    "annually": "Year",
}


def object_name(name: str) -> str:
    """The bundle object of a name used in a trigger or a metric (``session`` -> ``sessions``)."""
    key = name.strip().lower()
    return _OBJECT_ALIASES.get(key, key if key.endswith("s") else key + "s")


@dataclass(frozen=True, slots=True)
class MapContext:
    """Questions the guides ask of the map: which table holds an object, which column a field."""

    spec: MappingSpec

    def targets(self, obj: str) -> list[Target]:
        """The targets that hold ``obj``'s rows; aggregates (opportunity) only when nothing
        else does: a target is a row-for-row copy when it keeps the source id."""
        found = self.spec.targets_for(object_name(obj))
        primary = [t for t in found if _keeps_source_id(t)]
        return primary or found

    def tables(self, obj: str) -> list[str]:
        out: list[str] = []
        for t in self.targets(obj):
            if t.table not in out:
                out.append(t.table)
        return out

    def columns(self, obj: str, field: str) -> list[str]:
        """``table.column`` for every enabled target that maps ``obj.field``."""
        out: list[str] = []
        for t in self.targets(obj):
            fm = t.fields.get(field)
            if fm is not None and fm.column and f"{t.table}.{fm.column}" not in out:
                out.append(f"{t.table}.{fm.column}")
        return out

    def status_filter(self, obj: str, value: str) -> tuple[str, str] | None:
        """``(column, OData row filter)`` when ``value`` is a mapped status of ``obj``."""
        key = value.strip().lower()
        for t in self.targets(obj):
            for fm in t.fields.values():
                vm = self.spec.value_maps.get(fm.value_map or "")
                if fm.column is None or vm is None or key not in vm.values:
                    continue
                option = vm.values[key]
                if sum(1 for v in vm.values.values() if v == option) > 1:
                    continue  # several source values share it: it cannot tell them apart
                if isinstance(option, list | tuple) and len(option) == 2:
                    return (
                        "statecode, statuscode",
                        f"statecode eq {option[0]} and statuscode eq {option[1]}",
                    )
                return fm.column, f"{fm.column} eq {option}"
        return None

    def option_of(self, obj: str, field: str, value: Any) -> Any:
        for t in self.targets(obj):
            fm = t.fields.get(field)
            vm = self.spec.value_maps.get(fm.value_map or "") if fm is not None else None
            if vm is not None and str(value).lower() in vm.values:
                return vm.values[str(value).lower()]
        return None


def _keeps_source_id(target: Target) -> bool:
    fm = target.fields.get("id")
    return fm is not None and bool(fm.column) and str(fm.column).endswith("practiceid")


def _tables_text(tables: Iterable[str]) -> str:
    names = list(tables)
    return " / ".join(names) if names else "(not migrated)"


# ---------------------------------------------------------------------------
# Triggers


def trigger_guide(trigger: str | None, ctx: MapContext) -> dict[str, Any]:
    """The Power Automate trigger that replaces a The Practice trigger."""
    text = (trigger or "").strip()
    obj, _, event = text.partition(".")
    obj_l, event_l = obj.lower(), event.lower()
    if not text:
        return {"flow": "review", "trigger": REVIEW, "detail": "the automation has no trigger"}
    if obj_l in ("schedule", "scheduled", "cron", "recurrence"):
        unit = _SCHEDULES.get(event_l)
        if unit is None:
            return {
                "flow": "scheduled cloud flow",
                "trigger": "Recurrence",
                "detail": f"schedule {event!r}: set the Recurrence interval by hand ({REVIEW})",
                "review": True,
            }
        return {
            "flow": "scheduled cloud flow",
            "trigger": f"Recurrence (frequency {unit}, interval 1)",
            "detail": "then 'List rows' (Dataverse) with a filter for the rows to act on",
        }
    tables = ctx.tables(obj_l) if obj_l else []
    if not tables:
        return {
            "flow": "review",
            "trigger": REVIEW,
            "detail": f"{obj or text!r} records are not migrated by the map; decide where this "
            "automation's data lives first",
            "review": True,
        }
    on = _tables_text(tables)
    if event_l in ("created", "added", "new", "create"):
        return {
            "flow": "automated cloud flow",
            "trigger": f"{DATAVERSE_TRIGGER} (change type Added) on {on}",
            "tables": tables,
        }
    if event_l in ("updated", "changed", "modified", "update"):
        return {
            "flow": "automated cloud flow",
            "trigger": f"{DATAVERSE_TRIGGER} (change type Modified) on {on}",
            "tables": tables,
        }
    if event_l in ("deleted", "removed", "delete"):
        return {
            "flow": "automated cloud flow",
            "trigger": f"{DATAVERSE_TRIGGER} (change type Deleted) on {on}",
            "tables": tables,
        }
    status = ctx.status_filter(obj_l, event_l)
    if status is not None:
        column, row_filter = status
        return {
            "flow": "automated cloud flow",
            "trigger": f"{DATAVERSE_TRIGGER} (change type Modified) on {on}; "
            f"select columns {column}; row filter {row_filter}",
            "tables": tables,
        }
    if event_l in ("overdue", "past_due"):
        due = ctx.columns(obj_l, "due_date") or [f"{tables[0]}.duedate"]
        col = due[0].split(".", 1)[1]
        return {
            "flow": "scheduled cloud flow",
            "trigger": "Recurrence (frequency Day, interval 1)",
            "detail": f"then 'List rows' on {on} with filter "
            f'"{col} lt @{{utcNow()}} and statecode eq 0" and act on each row',
            "tables": tables,
        }
    if event_l.startswith(("starts_in", "before", "upcoming", "reminder")):
        start = ctx.columns(obj_l, "start_at")
        col = start[0].split(".", 1)[1] if start else "the start column"
        return {
            "flow": "scheduled cloud flow",
            "trigger": "Recurrence (frequency Hour, interval 1)",
            "detail": f"then 'List rows' on {on} whose {col} falls in the reminder window "
            "(e.g. between addHours(utcNow(), 23) and addHours(utcNow(), 24)); "
            "alternatively an automated flow on Added with 'Delay until' the start minus "
            "the offset",
            "tables": tables,
        }
    mapped = ctx.columns(obj_l, event_l)
    if mapped:
        column = mapped[0].split(".", 1)[1]
        return {
            "flow": "automated cloud flow",
            "trigger": f"{DATAVERSE_TRIGGER} (change type Modified) on {on}; "
            f"select columns {column}",
            "tables": tables,
        }
    return {
        "flow": "automated cloud flow",
        "trigger": f"{DATAVERSE_TRIGGER} on {on}",
        "detail": f"event {event!r} has no direct equivalent: choose the change type and a "
        f"row filter ({REVIEW})",
        "tables": tables,
        "review": True,
    }


# ---------------------------------------------------------------------------
# Steps

_STEP_FIELDS_SKIP: Final = frozenset({"type"})


def _template_name(step: Mapping[str, Any], templates: Mapping[str, EmailTemplate]) -> str:
    tid = step.get("template_id")
    tpl = templates.get(str(tid)) if tid is not None else None
    if tpl is not None:
        return f"template {tpl.name!r} ({tid}, see email_templates.md)"
    if tid is not None:
        return f"template {tid} (not in the export: {REVIEW})"
    return "the message text"


def _field_target(field: str, ctx: MapContext, default_obj: str | None) -> tuple[str, str]:
    obj, dot, name = field.partition(".")
    if not dot:
        obj, name = default_obj or "", field
    return obj, name


def step_guide(
    step: Any,
    ctx: MapContext,
    templates: Mapping[str, EmailTemplate],
    trigger_object: str | None,
) -> dict[str, Any]:
    """The Power Automate action (or control) that replaces one automation step."""
    if not isinstance(step, Mapping):
        return {"kind": "text", "action": REVIEW, "detail": str(step), "review": True}
    kind = str(step.get("type") or step.get("kind") or "").lower()
    params = {k: v for k, v in step.items() if k not in _STEP_FIELDS_SKIP}
    out: dict[str, Any] = {"kind": kind or "(none)", "parameters": params}
    if kind in ("send_email", "email"):
        when = ""
        if "offset_hours" in step:
            when = f"; first 'Delay until' {step['offset_hours']} h from the start time"
        out["action"] = (
            "Office 365 Outlook: Send an email (V2), or Dataverse: Add a new row (Email "
            "messages) + Perform a bound action SendEmail so the email is tracked on the "
            f"timeline; body from {_template_name(step, templates)}{when}"
        )
    elif kind in ("wait", "delay"):
        amount = [f"{step[k]} {k}" for k in ("days", "hours", "minutes") if k in step]
        out["action"] = f"Delay ({', '.join(amount) or 'set the duration'})"
    elif kind in ("condition", "if"):
        field = str(step.get("field", ""))
        obj, name = _field_target(field, ctx, trigger_object)
        cols = ctx.columns(obj, name) if name else []
        test = ", ".join(f"{k} {v!r}" for k, v in params.items() if k != "field")
        where = cols[0] if cols else f"{field} ({'not migrated: ' + REVIEW if field else REVIEW})"
        out["action"] = f"Condition on {where}: {test}"
        value = step.get("equals")
        option = ctx.option_of(obj, name, value) if value is not None else None
        if option is not None:
            out["action"] += f" (option value {option})"
        if not cols:
            out["review"] = True
    elif kind == "filter":
        field = str(step.get("field", ""))
        obj, name = _field_target(field, ctx, trigger_object)
        cols = ctx.columns(obj, name) if name else []
        test = ", ".join(f"{k} {v!r}" for k, v in params.items() if k != "field")
        out["action"] = (
            f"Filter rows in 'List rows' (OData $filter) or a 'Filter array' action: {field} "
            f"{test}" + ("" if cols else f" ({field} is computed, not a column: {REVIEW})")
        )
        if not cols:
            out["review"] = True
    elif kind in ("send_form", "form"):
        out["action"] = (
            f"Send an email with a Microsoft Forms (or Dynamics 365 Customer Voice) link for "
            f"{step.get('form', 'the form')!r}; store answers with 'When a new response is "
            "submitted' -> Dataverse: Add a new row"
        )
    elif kind in ("create_task", "task"):
        out["action"] = (
            f"Dataverse: Add a new row (Tasks) with subject {step.get('title', '')!r}, "
            "Regarding = the triggering row, Owner = "
            + ("the row's owner (the coach)" if step.get("assignee") == "coach" else "the user")
        )
    elif kind in ("send_sms", "sms"):
        out["action"] = (
            "No SMS in Dynamics 365 Sales itself: Azure Communication Services SMS or Twilio "
            f"connector 'Send Text Message'; text {step.get('text', '')!r}"
        )
        out["review"] = True
    elif kind in ("notify", "notification", "alert"):
        out["action"] = (
            f"Microsoft Teams: Post message in a chat or channel (or Send an email "
            f"notification) to the {step.get('who', 'owner')}: {step.get('message', '')!r}"
        )
    elif kind in ("tag_client", "add_tag", "tag"):
        cols = ctx.columns("clients", "tags")
        where = " / ".join(cols) if cols else f"a tags column ({REVIEW})"
        out["action"] = (
            f"Dataverse: Update a row, add the option for tag {step.get('tag', '')!r} to {where} "
            "(multi-select choice: keep the existing values)"
        )
    elif kind in ("update_field", "set_field", "update"):
        field = str(step.get("field", ""))
        obj, name = _field_target(field, ctx, trigger_object)
        cols = ctx.columns(obj, name) if name else []
        value = step.get("value")
        option = ctx.option_of(obj, name, value)
        shown = f"{value!r}" + (f" (option value {option})" if option is not None else "")
        if cols:
            out["action"] = f"Dataverse: Update a row, set {' / '.join(cols)} = {shown}"
        else:
            out["action"] = f"Dataverse: Update a row: {field} = {shown} ({REVIEW})"
            out["review"] = True
    elif kind in ("webhook", "http"):
        url = str(step.get("url", ""))
        zap = "zapier" in url.lower()
        out["action"] = (
            "Rebuild what the Zap did as actions of this flow (a connector for the target "
            "app), instead of calling Zapier"
            if zap
            else f"HTTP action (premium) POST to {url or 'the endpoint'}"
        )
        out["review"] = True
    else:
        out["action"] = REVIEW
        out["detail"] = f"unknown step type {kind!r}"
        out["review"] = True
    return out


def automation_guide(
    automation: Automation, ctx: MapContext, templates: Mapping[str, EmailTemplate]
) -> dict[str, Any]:
    """One automation and what to build instead."""
    trig = trigger_guide(automation.trigger, ctx)
    obj = (automation.trigger or "").partition(".")[0].lower() or None
    steps = [step_guide(s, ctx, templates, obj) for s in automation.steps]
    human = {"send_form", "create_task"} & {s["kind"] for s in steps}
    build = f"Power Automate {trig['flow']}" if trig["flow"] != "review" else REVIEW
    bpf = None
    if human and trig.get("tables"):
        bpf = (
            f"Consider a business process flow on {trig['tables'][0]} with a stage per human "
            f"step ({', '.join(sorted(human))}) so the coach sees where each client is; keep "
            "the emails and waits in the cloud flow"
        )
    return {
        "id": automation.id,
        "name": automation.name,
        "trigger": automation.trigger,
        "active": automation.active,
        "steps": [plain_step(s) for s in automation.steps],
        "rebuild": {
            "build": build,
            "trigger": trig,
            "actions": steps,
            "business_process_flow": bpf,
            "state": "turn the flow on"
            if automation.active
            else "inactive in The Practice: build it turned off, or skip it",
            "review": bool(trig.get("review")) or any(s.get("review") for s in steps),
        },
    }


def plain_step(step: Any) -> Any:
    if isinstance(step, Mapping):
        return {str(k): plain_step(v) for k, v in step.items()}
    if isinstance(step, list | tuple):
        return [plain_step(v) for v in step]
    return step


# ---------------------------------------------------------------------------
# Integrations

_ZAP_APPS: Final[Mapping[str, str]] = {
    "mailchimp": "Mailchimp connector",
    "quickbooks": "QuickBooks Online connector",
    "xero": "Xero connector",
    "sheets": "Google Sheets connector (or Excel Online (Business) on OneDrive/SharePoint)",
    "gsheets": "Google Sheets connector",
    "google_sheets": "Google Sheets connector",
    "excel": "Excel Online (Business) connector",
    "slack": "Slack connector",
    "teams": "Microsoft Teams connector",
    "gmail": "Gmail connector (or Office 365 Outlook)",
    "trello": "Trello connector (or Microsoft Planner)",
    "asana": "Asana connector (or Microsoft Planner)",
    "stripe": "Stripe connector",
    "twilio": "Twilio connector",
    "typeform": "Typeform connector (or Microsoft Forms)",
    "calendly": "Calendly connector (or Microsoft Bookings)",
    "hubspot": "HubSpot connector",
    "dropbox": "Dropbox connector (or SharePoint)",
}

_PAYMENT_CONNECTORS: Final[Mapping[str, str]] = {
    "stripe": "the Stripe connector",
    "paypal": "the PayPal connector where available, else a custom connector",
    "square": "the Square connector",
}


def _details(integration: Integration) -> Mapping[str, Any]:
    return integration.details if isinstance(integration.details, Mapping) else {}


def integration_guide(integration: Integration, ctx: MapContext) -> dict[str, Any]:
    """One integration and its native Dynamics 365 / Power Platform replacement."""
    kind = (integration.kind or "").strip().lower()
    name = integration.name or ""
    lname = name.lower()
    details = _details(integration)
    review = False
    if kind in ("calendar", "calendar_sync"):
        if "google" in lname:
            replacement = "Outlook / Teams calendar (server-side synchronization)"
            steps = [
                "Move the coaches' calendars to Exchange Online, or subscribe Outlook to the "
                "Google calendar (read-only)",
                "Turn on server-side synchronization for each coach's mailbox (appointments)",
                "Or: a Power Automate flow with the Google Calendar connector",
            ]
        else:
            replacement = "Outlook / Teams (server-side synchronization with Exchange Online)"
            steps = [
                "Configure server-side synchronization (Exchange Online) and approve each "
                "coach's mailbox, with appointments synchronized",
                "Install Dynamics 365 App for Outlook for the coaches",
                "Use Teams meetings for online sessions",
            ]
        if details.get("buffer_minutes"):
            steps.append(
                f"Buffer of {details['buffer_minutes']} minutes between sessions: set it in "
                "Microsoft Bookings if you book through it (not a calendar setting)"
            )
    elif kind in ("payment", "payments", "billing"):
        connector = next(
            (c for key, c in _PAYMENT_CONNECTORS.items() if key in lname),
            "a connector for the provider or a custom connector over its webhooks",
        )
        replacement = f"Power Automate connector ({connector})"
        steps = [
            f"Cloud flow triggered by the provider's payment event through {connector}",
            "Dataverse: Add a new row in the payments table and mark the invoice paid "
            "(set statecode/statuscode)",
        ]
        if details.get("autopay"):
            steps.append("Autopay was on: recreate the stored payment methods in the provider")
    elif kind == "zapier":
        trig = trigger_guide(str(details.get("trigger") or ""), ctx)
        action = str(details.get("action") or "")
        app = action.split(".", 1)[0].lower()
        app_connector = _ZAP_APPS.get(app)
        if app_connector is None:
            app_connector = f"a connector for {app or 'the target app'} ({REVIEW})"
            review = True
        replacement = "Power Automate cloud flow on Dataverse events"
        steps = [
            f"Trigger: {trig['trigger']}" + (f"; {trig['detail']}" if trig.get("detail") else ""),
            f"Action: {app_connector}" + (f" ({action})" if action else ""),
            "Turn the Zap off after the cutover",
        ]
        review = review or bool(trig.get("review"))
    elif kind in ("video", "meeting", "conferencing"):
        if "teams" in lname:
            replacement = "Microsoft Teams (native)"
            steps = ["Teams meetings in appointments (Dynamics 365 App for Outlook / Teams)"]
        else:
            replacement = "Microsoft Teams meetings (or the Zoom connector)"
            steps = [
                "Create Teams meetings from appointments (online meeting)",
                f"Or keep {name or 'the service'}: a cloud flow with its connector that adds "
                "the join link to the appointment",
            ]
    elif kind in ("email", "mail", "mailbox"):
        replacement = "Server-side synchronization with Exchange Online"
        steps = ["Track emails with Dynamics 365 App for Outlook"]
    elif kind in ("marketing", "newsletter", "mailing"):
        replacement = "Dynamics 365 Customer Insights - Journeys, or its connector in a flow"
        steps = ["Sync contacts to the mailing list with a cloud flow on Dataverse events"]
    elif kind in ("accounting", "bookkeeping"):
        replacement = "Power Automate connector for the accounting system (e.g. QuickBooks)"
        steps = ["Cloud flow on invoice paid -> create the sales receipt"]
    elif kind in ("sms", "text", "messaging"):
        replacement = "Azure Communication Services SMS or Twilio connector"
        steps = ["Cloud flow that sends the text from Dataverse events"]
    elif kind in ("forms", "intake", "survey"):
        replacement = "Microsoft Forms / Dynamics 365 Customer Voice"
        steps = ["Flow: when a response is submitted -> Dataverse: Add a new row"]
    elif kind in ("storage", "files", "documents"):
        replacement = "SharePoint document management"
        steps = ["Enable document management for contact and the session table"]
    else:
        replacement = REVIEW
        steps = [f"No known replacement for a {kind or 'unlabelled'} integration"]
        review = True
    return {
        "id": integration.id,
        "kind": integration.kind,
        "name": integration.name,
        "details": plain_step(integration.details),
        "replacement": replacement,
        "steps": steps,
        "review": review,
    }


# ---------------------------------------------------------------------------
# Reports

_COMPUTED: Final[Mapping[tuple[str, str], str]] = {
    ("invoices", "total_amount"): "invoice.totalamount",
    ("invoices", "subtotal"): "invoice.totallineitemamount",
    ("invoices", "tax"): "invoice.totaltax",
}
"""Source fields Dataverse computes from the invoice lines instead of storing them as sent."""

_FIELD_REF = re.compile(r"\b([a-z_]+)\.([a-z_][a-z0-9_]*)\b")


def report_guide(report: Report, ctx: MapContext) -> dict[str, Any]:
    """One report or dashboard: its metrics and the Dataverse columns they read."""
    metrics: list[dict[str, Any]] = []
    for metric in report.metrics:
        m = plain_step(metric) if isinstance(metric, Mapping) else {"name": str(metric)}
        text = " ".join(str(m.get(k, "")) for k in ("field", "filter"))
        columns: list[str] = []
        unmapped: list[str] = []
        for obj, field in _FIELD_REF.findall(text):
            found = ctx.columns(obj, field)
            computed = _COMPUTED.get((object_name(obj), field))
            if not found and computed and computed.split(".")[0] in ctx.tables(obj):
                found = [computed]
            if field == "id" and not found:
                found = ctx.tables(obj)
            if found:
                columns.extend(c for c in found if c not in columns)
            elif f"{obj}.{field}" not in unmapped:
                unmapped.append(f"{obj}.{field}")
        m["dataverse_columns"] = columns
        if unmapped:
            m["not_migrated"] = unmapped
        metrics.append(m)
    kind = (report.kind or "report").lower()
    rebuild = (
        "Power BI dashboard on Dataverse (or a model-driven app dashboard with charts)"
        if kind == "dashboard"
        else "Power BI report on Dataverse (or a model-driven view with a chart)"
    )
    return {
        "id": report.id,
        "name": report.name,
        "kind": report.kind,
        "metrics": metrics,
        "rebuild": rebuild,
        "review": any(m.get("not_migrated") for m in metrics),
    }
