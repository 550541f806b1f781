"""The practice's configuration objects: service types, automations, templates, integrations,
reports. They do not grow with the number of clients, as in a real practice."""

from __future__ import annotations

import random
from typing import Any

SERVICE_TYPES: tuple[tuple[str, str, str, int, bool, str], ...] = (
    # id, name, default_rate, duration_minutes, active, session_type
    ("svc_01", "Intro call", "0.00", 30, True, "intro"),
    ("svc_02", "1:1 Coaching (60 min)", "150.00", 60, True, "one_on_one"),
    ("svc_03", "1:1 Coaching (90 min)", "210.00", 90, True, "one_on_one"),
    ("svc_04", "Executive Coaching", "325.00", 60, True, "one_on_one"),
    ("svc_05", "Follow-up Check-in (30 min)", "65.00", 30, True, "follow_up"),
    ("svc_06", "Group Workshop", "75.00", 120, True, "workshop"),
    ("svc_07", "Group Coaching Circle", "45.00", 90, True, "group"),
    ("svc_08", "Legacy Strategy Session", "180.00", 75, False, "one_on_one"),
)


def service_type_rows() -> list[dict[str, Any]]:
    return [
        {
            "id": sid,
            "name": name,
            "default_rate": rate,
            "duration_minutes": minutes,
            "active": active,
        }
        for sid, name, rate, minutes, active, _ in SERVICE_TYPES
    ]


def email_templates(rng: random.Random) -> list[dict[str, Any]]:
    specs = [
        ("Welcome", "Welcome to coaching, {{client.first_name}}!",
         "<p>Hi {{client.first_name}},</p><p>I&#8217;m delighted to be working with you. "
         "Your intake form is <a href=\"{{intake_link}}\">here</a>.</p>"),
        ("Session reminder", "Reminder: our session on {{session.date}}",
         "<p>Just a reminder that we meet on <strong>{{session.date}}</strong> at "
         "{{session.time}}.</p><p>Reply to reschedule.</p>"),
        ("Invoice sent", "Invoice {{invoice.number}} from {{practice.name}}",
         "<p>Please find invoice {{invoice.number}} for {{invoice.total}} attached.</p>"),
        ("Payment received", "Thank you for your payment",
         "<p>We received {{payment.amount}} on {{payment.date}}. Thank you!</p>"),
        ("Overdue notice", "Invoice {{invoice.number}} is overdue",
         "<p>Our records show invoice {{invoice.number}} is past due. "
         "<em>If you have already paid, please ignore this message.</em></p>"),
        ("No-show follow-up", "We missed you today",
         "<p>Sorry we missed each other. Book a new time: {{booking_link}}</p>"),
        ("Package renewal", "Your package is almost used up",
         "<p>You have {{package.sessions_remaining}} sessions left.</p>"
         "<ul><li>Renew the same package</li><li>Switch to monthly</li></ul>"),
        ("Newsletter", "Notes from the practice &#8212; {{month}}",
         "<p>This month: boundaries, rest &amp; the art of saying no.</p>"),
    ]  # fmt: skip
    return [
        {"id": f"tpl_{i:02d}", "name": name, "subject": subject, "body_html": body}
        for i, (name, subject, body) in enumerate(specs, start=1)
        if i <= 6 or rng.random() < 0.7
    ]


def automations(rng: random.Random, template_ids: list[str]) -> list[dict[str, Any]]:
    def tpl(n: int) -> str:
        return template_ids[n % len(template_ids)]

    specs: list[tuple[str, str, list[dict[str, Any]]]] = [
        ("New client onboarding", "client.created",
         [{"type": "send_email", "template_id": tpl(0)},
          {"type": "wait", "days": 1},
          {"type": "send_form", "form": "Intake questionnaire"},
          {"type": "create_task", "title": "Review intake", "assignee": "coach"}]),
        ("Session reminder 24h", "session.starts_in",
         [{"type": "condition", "field": "session.status", "equals": "scheduled"},
          {"type": "send_email", "template_id": tpl(1), "offset_hours": -24},
          {"type": "send_sms", "text": "See you tomorrow!", "offset_hours": -2}]),
        ("Invoice follow-up", "invoice.overdue",
         [{"type": "send_email", "template_id": tpl(4)},
          {"type": "wait", "days": 7},
          {"type": "notify", "who": "owner", "message": "Invoice still unpaid"}]),
        ("No-show handling", "session.no_show",
         [{"type": "send_email", "template_id": tpl(5)},
          {"type": "tag_client", "tag": "no-show"}]),
        ("Package almost used", "package.sessions_remaining",
         [{"type": "condition", "field": "package.sessions_remaining", "lte": 2},
          {"type": "send_email", "template_id": tpl(6)}]),
        ("Zapier: new client to newsletter", "client.created",
         [{"type": "webhook", "url": "https://hooks.zapier.example.com/hooks/catch/123/abc"}]),
        ("Archive inactive clients", "schedule.monthly",
         [{"type": "filter", "field": "last_session_days", "gt": 180},
          {"type": "update_field", "field": "status", "value": "archived"}]),
    ]  # fmt: skip
    return [
        {"id": f"auto_{i:02d}", "name": name, "trigger": trigger,
         "active": i != 7 or rng.random() < 0.5, "steps": steps}
        for i, (name, trigger, steps) in enumerate(specs, start=1)
    ]  # fmt: skip


def integrations(rng: random.Random) -> list[dict[str, Any]]:
    calendar = rng.choice(["Google Calendar", "Microsoft Outlook Calendar", "iCloud Calendar"])
    payment = rng.choice(["Stripe", "PayPal", "Square"])
    return [
        {"id": "int_01", "kind": "calendar", "name": calendar,
         "details": {"sync": "two_way", "calendars": ["Coaching", "Personal (busy only)"],
                     "buffer_minutes": 15}},
        {"id": "int_02", "kind": "payment", "name": payment,
         "details": {"currency": "USD", "autopay": True, "card_fee_passthrough": False,
                     "account": "acct_practice_main"}},
        {"id": "int_03", "kind": "zapier", "name": "New client -> Mailchimp",
         "details": {"trigger": "client.created", "action": "mailchimp.add_subscriber",
                     "zap_id": "z_10001"}},
        {"id": "int_04", "kind": "zapier", "name": "Paid invoice -> QuickBooks",
         "details": {"trigger": "invoice.paid", "action": "quickbooks.create_sales_receipt",
                     "zap_id": "z_10002"}},
        {"id": "int_05", "kind": "zapier", "name": "Session completed -> Google Sheets",
         "details": {"trigger": "session.completed", "action": "sheets.append_row",
                     "zap_id": "z_10003"}},
        {"id": "int_06", "kind": "video", "name": "Zoom",
         "details": {"auto_create_meetings": True}},
    ]  # fmt: skip


def reports(rng: random.Random) -> list[dict[str, Any]]:
    del rng  # reports are the same in every practice; kept for a uniform signature
    return [
        {"id": "rep_01", "name": "Revenue by month", "kind": "report",
         "metrics": [{"name": "revenue", "aggregate": "sum", "field": "invoices.total_amount",
                      "group_by": "month"}]},
        {"id": "rep_02", "name": "Sessions by coach", "kind": "report",
         "metrics": [{"name": "sessions", "aggregate": "count", "field": "sessions.id",
                      "group_by": "coach"}]},
        {"id": "rep_03", "name": "Outstanding invoices", "kind": "report",
         "metrics": [{"name": "outstanding", "aggregate": "sum",
                      "field": "invoices.total_amount - invoices.amount_paid",
                      "filter": "status in (sent, viewed, overdue)"}]},
        {"id": "rep_04", "name": "Practice dashboard", "kind": "dashboard",
         "metrics": [{"name": "active_clients", "aggregate": "count", "field": "clients.id",
                      "filter": "status = active"},
                     {"name": "no_show_rate", "aggregate": "ratio",
                      "field": "sessions.status = no_show"},
                     {"name": "avg_session_price", "aggregate": "avg",
                      "field": "sessions.price"}]},
        {"id": "rep_05", "name": "Client retention", "kind": "dashboard",
         "metrics": [{"name": "retention_90d", "aggregate": "ratio",
                      "field": "clients.sessions_last_90_days > 0"}]},
    ]  # fmt: skip
