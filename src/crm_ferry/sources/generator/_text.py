"""Word pools and text builders for generated bundles.

Ordinary names here are plain ASCII without apostrophes or commas, on purpose: the edge
cases (accents, O'Brien, "Acme, Inc.") are planted deliberately and counted in the ground
truth, so ordinary data must never trip those rules by accident.
"""

from __future__ import annotations

import random
from html import escape

FIRST_NAMES: tuple[str, ...] = (
    "James", "Mary", "Robert", "Patricia", "John", "Jennifer", "Michael", "Linda", "David",
    "Elizabeth", "William", "Barbara", "Richard", "Susan", "Joseph", "Jessica", "Thomas",
    "Sarah", "Charles", "Karen", "Daniel", "Lisa", "Matthew", "Nancy", "Anthony", "Betty",
    "Mark", "Sandra", "Steven", "Ashley", "Paul", "Emily", "Andrew", "Michelle", "Joshua",
    "Amanda", "Kevin", "Melissa", "Brian", "Stephanie", "George", "Rebecca", "Timothy",
    "Laura", "Ryan", "Hannah", "Jacob", "Olivia", "Ethan", "Sophia", "Noah", "Grace", "Lucas",
    "Chloe", "Aaron", "Maya", "Isaac", "Priya", "Omar", "Leah", "Marcus", "Nina", "Tyler",
    "Zoe", "Devon", "Aisha", "Caleb", "Rosa", "Gavin", "Mei",
)  # fmt: skip
LAST_NAMES: tuple[str, ...] = (
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis",
    "Rodriguez", "Martinez", "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson", "Thomas",
    "Taylor", "Moore", "Jackson", "Martin", "Lee", "Perez", "Thompson", "White", "Harris",
    "Sanchez", "Clark", "Ramirez", "Lewis", "Robinson", "Walker", "Young", "Allen", "King",
    "Wright", "Scott", "Torres", "Nguyen", "Hill", "Flores", "Green", "Adams", "Nelson",
    "Baker", "Hall", "Rivera", "Campbell", "Mitchell", "Carter", "Roberts", "Patel", "Kim",
    "Chen", "Singh", "Okafor", "Schmidt", "Novak", "Cohen", "Ward", "Brooks", "Price",
    "Bennett", "Wood", "Barnes", "Ross", "Henderson", "Coleman", "Jenkins", "Perry", "Powell",
    "Long", "Hughes", "Foster", "Sanders", "Butler", "Fisher", "Reyes", "Morales", "Stone",
    "Weaver",
)  # fmt: skip

NON_ASCII_FIRST: tuple[str, ...] = (
    "José", "Zoë", "Björn", "Łucja", "Chloé", "Søren", "Iñaki", "Ngọc", "Renée", "Jürgen",
    "Ανδρέας", "Пётр", "Ayşe", "Dagný", "Žofie", "美玲",
)  # fmt: skip
NON_ASCII_LAST: tuple[str, ...] = (
    "Müller", "Ångström", "Nguyễn", "Dvořák", "Çelik", "Lefèvre", "Gonçalves", "Østergaard",
    "Kowalczyk", "Núñez", "Papadopoulos", "Smirnova", "Jóhannsdóttir", "王", "Hernández",
)  # fmt: skip
APOSTROPHE_LAST: tuple[str, ...] = (
    "O'Brien", "D'Angelo", "O’Neil", "N'Diaye", "O'Connor", "D’Souza", "O'Malley", "L'Esperance",
)  # fmt: skip
PUNCTUATED_ORGS: tuple[str, ...] = (
    "Acme, Inc.", "Baker's Dozen Bakery", "Hughes, Patel & Co.", "Smith & Sons, LLC",
    "Rosie’s Flowers", "Northwind Traders, Ltd.", "Martin, Lee and Partners",
)  # fmt: skip

ORG_FIRST: tuple[str, ...] = (
    "Northwind", "Bluebird", "Summit", "Cedar", "Harbor", "Granite", "Lakeside", "Brightpath",
    "Evergreen", "Ironwood", "Silverline", "Keystone", "Meridian", "Oakridge", "Pinnacle",
    "Riverbend", "Sterling", "Trailhead", "Westfield", "Copperleaf",
)  # fmt: skip
ORG_LAST: tuple[str, ...] = (
    "Consulting", "Partners", "Group", "Advisors", "Health", "Dental", "Legal", "Capital",
    "Logistics", "Studio", "Labs", "Foundation", "Clinic", "Holdings", "Ventures",
)  # fmt: skip
ORG_SUFFIX: tuple[str, ...] = ("", "", "", " LLC", " Inc.", " Co.", " PLLC")

VERTICALS: tuple[tuple[str, int], ...] = (
    ("Consulting", 12),
    ("Financial", 10),
    ("Legal Services", 9),
    ("Doctor's Offices and Clinics", 9),
    ("Accounting", 7),
    ("Insurance", 5),
    ("Business Services", 8),
    ("Social Services", 4),
    ("Transportation", 3),
    ("Nonprofit", 8),
    ("Technology Startups", 6),
    ("Higher Education", 4),
)
"""Organisation verticals: most match a Dataverse ``industrycode`` label, the last three none."""

EMAIL_DOMAINS: tuple[str, ...] = (
    "example.com", "example.org", "example.net", "mail.example.com", "corp.example.org",
)  # fmt: skip

CITIES: tuple[tuple[str, str, str], ...] = (
    ("New York", "NY", "100"), ("Brooklyn", "NY", "112"), ("Boston", "MA", "021"),
    ("Philadelphia", "PA", "191"), ("Baltimore", "MD", "212"), ("Arlington", "VA", "222"),
    ("Atlanta", "GA", "303"), ("Miami", "FL", "331"), ("Chicago", "IL", "606"),
    ("Columbus", "OH", "432"), ("Austin", "TX", "787"), ("Denver", "CO", "802"),
    ("Seattle", "WA", "981"), ("Portland", "OR", "972"), ("San Diego", "CA", "921"),
    ("Raleigh", "NC", "276"), ("Nashville", "TN", "372"), ("Hartford", "CT", "061"),
)  # fmt: skip
STREETS: tuple[str, ...] = (
    "Main St", "Oak Ave", "Maple Dr", "Cedar Ln", "Park Pl", "Elm St", "Washington Blvd",
    "Lake Rd", "Hillcrest Ave", "Sunset Blvd", "River Rd", "Pine St", "2nd Ave", "Broadway",
)  # fmt: skip

TAGS: tuple[str, ...] = (
    "vip", "executive", "career-change", "leadership", "wellness", "referral",
    "group-program", "alumni", "corporate", "sliding-scale", "newsletter",
)  # fmt: skip
REFERRAL_SOURCES: tuple[str, ...] = (
    "Google", "Referral", "LinkedIn", "Podcast", "Workshop", "Instagram", "Employer program",
    "Returning client",
)  # fmt: skip
COMM_PREFERENCES: tuple[str, ...] = ("Email", "Phone", "Text message", "Video call")

GOAL_SENTENCES: tuple[str, ...] = (
    "Wants to move from {a} into {b} within the next year.",
    "Struggles with {c} and would like a steadier routine.",
    "Main goal: build confidence in {a}; secondary: {c}.",
    "Preparing for a conversation about {b} with their manager.",
    'Described the last quarter as "exhausting" because of {c}.',
    "Would like weekly accountability around {a}.",
    "Has tried {d} before, with mixed results.",
    "Measures success by less {c} and more time for family.",
    "Keen to work on delegation, boundaries and {a}.",
    "Recently promoted; feels stretched between {a} and {b}.",
    "Asked for reading suggestions on {d}.",
    "Prefers concrete homework between sessions, e.g. journaling about {c}.",
)
GOAL_TOPICS_A: tuple[str, ...] = (
    "people management", "public speaking", "strategic planning", "sales leadership",
    "product management", "a founder role", "board work", "team building", "negotiation",
)  # fmt: skip
GOAL_TOPICS_B: tuple[str, ...] = (
    "a VP role", "a career change", "going part-time", "a return to work", "starting a business",
    "a relocation", "retirement planning", "a sabbatical",
)  # fmt: skip
GOAL_TOPICS_C: tuple[str, ...] = (
    "procrastination", "work-life balance", "burnout", "impostor feelings", "conflict at work",
    "time management", "sleep", "stress before deadlines", "saying no",
)  # fmt: skip
GOAL_TOPICS_D: tuple[str, ...] = (
    "time blocking", "mindfulness apps", "therapy", "a productivity course", "the GTD method",
    "a mastermind group", "a running club",
)  # fmt: skip

NOTE_OPENERS: tuple[str, ...] = (
    "Checked in on last week&#8217;s homework; {n} completed most of it.",
    "{n} arrived energised after a good week at work.",
    "Started with a short grounding exercise &mdash; {n} found it helpful.",
    "{n} reported that the &quot;two-minute rule&quot; is working.",
    "We reviewed progress toward the quarterly goals &amp; adjusted two of them.",
    "{n} was tired today; we kept the session light and practical.",
    "Opened with a recap of the conversation with {n}&#8217;s manager.",
    "Picked up where we left off: priorities &amp; boundaries.",
)
NOTE_BODIES: tuple[str, ...] = (
    "We mapped the week on a whiteboard and found about six hours of meetings that could go.",
    "Discussed the feedback from the 360 review; the theme is clearer delegation.",
    "Explored what &lt;success&gt; would look like in six months, in concrete terms.",
    "Role-played the salary conversation twice; the second run was noticeably calmer.",
    "Talked through the fear of disappointing the team and where it comes from.",
    "Looked at energy levels across the day: mornings are best for deep work.",
    "Reframed the setback as data rather than a verdict.",
    "Agreed that saying no to the extra committee is consistent with the stated goals.",
    "Worked on a short personal mission statement (draft below).",
    "Compared two job offers against the values list from our intake session.",
)
NOTE_ACTIONS: tuple[str, ...] = (
    "Block two 90-minute focus sessions",
    "Send the follow-up email to the hiring manager",
    "Journal for five minutes after work",
    "Draft the delegation list &amp; share it with the team",
    "Schedule a walk-and-talk with a mentor",
    "Read chapter 3 of <em>Deep Work</em>",
    "Track sleep for a week",
    "Prepare three questions for the skip-level meeting",
    "Say no to one non-essential request",
    "Update the CV summary paragraph",
)

ACTIVITY_SUBJECTS: dict[str, tuple[str, ...]] = {
    "call": ("Scheduling call", "Quick check-in", "Follow-up call", "Billing question",
             "Discovery call", "Rescheduling"),
    "email": ("Session recap", "Invoice reminder", "Worksheet for next session",
              "Welcome to coaching", "Re: next steps", "Reading list", "Package renewal"),
    "meeting": ("Quarterly review", "Goal-setting workshop", "Intake meeting",
                "Team offsite debrief", "Coffee catch-up"),
}  # fmt: skip
ACTIVITY_LINES: tuple[str, ...] = (
    "Confirmed the time for next week.",
    "Client asked to move the session to the afternoon.",
    "Sent the worksheet and the reading list.",
    "Discussed the outstanding invoice; payment expected this week.",
    "Shared notes from the workshop.",
    "Left a voicemail, will try again tomorrow.",
    "Client mentioned a new role starting next month.",
    "Agreed to review the package options at the next session.",
)

LOCATIONS: tuple[str, ...] = ("Zoom", "Zoom", "Zoom", "Phone", "Office - Suite 210", "Client site")
FREE_SESSION_TYPES: tuple[str, ...] = ("VIP intensive", "Walk and talk", "Strategy half-day")


def goals_text(rng: random.Random, first: str) -> str:
    """Long, varied free text (a client's coaching goals), sometimes over several lines."""
    out = []
    for _ in range(rng.randint(2, 6)):
        out.append(
            rng.choice(GOAL_SENTENCES).format(
                a=rng.choice(GOAL_TOPICS_A),
                b=rng.choice(GOAL_TOPICS_B),
                c=rng.choice(GOAL_TOPICS_C),
                d=rng.choice(GOAL_TOPICS_D),
            )
        )
    sep = "\n" if rng.random() < 0.3 else " "
    return f"{first}: " + sep.join(out)


def note_html(rng: random.Random, first: str, *, image_data_uri: str | None = None) -> str:
    """A session note as rich HTML: paragraphs, a list, emphasis and entities."""
    name = escape(first)
    parts = [f"<p>{rng.choice(NOTE_OPENERS).format(n=name)}</p>"]
    for _ in range(rng.randint(1, 3)):
        parts.append(f"<p>{rng.choice(NOTE_BODIES)}</p>")
    if image_data_uri is not None:
        parts.append(
            f'<p><img src="{image_data_uri}" alt="Whiteboard sketch" width="64" height="48"></p>'
        )
    tag = "ol" if rng.random() < 0.3 else "ul"
    items = rng.sample(NOTE_ACTIONS, rng.randint(2, 4))
    parts.append("<p><strong>Actions before next session:</strong></p>")
    parts.append(f"<{tag}>" + "".join(f"<li>{i}</li>" for i in items) + f"</{tag}>")
    if rng.random() < 0.4:
        parts.append(f"<p><em>Energy {rng.randint(4, 9)}/10</em>&nbsp;&middot; mood steady</p>")
    return "\n".join(parts)


def activity_body(rng: random.Random) -> str:
    return "\n".join(rng.sample(ACTIVITY_LINES, rng.randint(1, 3)))
