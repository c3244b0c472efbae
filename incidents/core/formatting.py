"""How Tocsin shows things to people: moments, people and state badges, each written once.

- Moments: "2026-12-01 21:40 UTC", or "2026-12-01 22:40 CET" on a schedule kept in
  Europe/Paris. Python code calls `format_time`, templates the `stamp` filter
  (`{% load tocsin_time %}`), and Django's own rendering of date-times (admin lists, read-only
  fields) uses the same format through config/formats.
- People: `person_name` (what the timeline and messages say), `person_label` (pickers and
  lists, with the username to tell namesakes apart), `person_mention` (chat-style handles in
  handoff messages).
- Badges: every state Tocsin shows as a coloured pill maps to one tone in `TONES`; the one
  stylesheet incidents/static/incidents/badges.css gives each tone its colours
  (`.tocsin-badge.tocsin-tone--<tone>`), for the admin and the public status page alike.
"""

import re
from datetime import datetime, tzinfo

from django.utils import timezone
from django.utils.dateformat import format as date_format
from django.utils.html import format_html
from django.utils.safestring import SafeString

from incidents.core.choices import IncidentStatus, UpdateStatus

# Django's date-format syntax: ISO date, 24-hour time, the zone's abbreviation.
TIME_FORMAT = "Y-m-d H:i T"


def format_time(value: datetime | None, tz: tzinfo | str | None = None) -> str:
    """`value` in `tz` (a zone or its name; default the current zone), labelled with the zone."""
    if value is None:
        return ""
    if isinstance(tz, str):
        from zoneinfo import ZoneInfo

        tz = ZoneInfo(tz)
    if timezone.is_aware(value):
        value = value.astimezone(tz or timezone.get_current_timezone())
    else:
        value = timezone.make_aware(value, tz or timezone.get_current_timezone())
    return date_format(value, TIME_FORMAT)


# --- people --------------------------------------------------------------------------------------


def person_name(user) -> str:
    """A person as people call them: the full name, else the username."""
    full = user.get_full_name() if hasattr(user, "get_full_name") else ""
    return (full or "").strip() or user.get_username()


def person_label(user) -> str:
    """A person in a picker or a list: the name, and the username when it differs."""
    name = person_name(user)
    return name if name == user.get_username() else f"{name} ({user.get_username()})"


def person_mention(user, *, with_name: bool = False) -> str:
    """A chat-style handle, "@alice", or "@alice (Alice Nguyen)" with the name; "nobody"."""
    if user is None:
        return "nobody"
    handle = f"@{user.get_username()}"
    name = person_name(user)
    return f"{handle} ({name})" if with_name and name != user.get_username() else handle


# --- the status update phase ---------------------------------------------------------------------


def update_phase(status: str) -> UpdateStatus:
    """The status-update phase that speaks of an incident in `status` (its templates' key)."""
    if status in (IncidentStatus.TRIGGERED, IncidentStatus.ACKNOWLEDGED):
        return UpdateStatus.INVESTIGATING
    return UpdateStatus(status)


# --- badges --------------------------------------------------------------------------------------

# The tones badges.css colours: alarm (red), serious (orange), waiting (amber), working (blue),
# done (green), quiet (grey).
TONES: dict[str, dict[str, str]] = {
    "incident": {
        "triggered": "alarm",
        "acknowledged": "waiting",
        "investigating": "working",
        "identified": "working",
        "monitoring": "working",
        "resolved": "done",
    },
    "escalation": {
        "active": "alarm",
        "acknowledged": "waiting",
        "exhausted": "working",
        "resolved": "done",
    },
    "notification": {
        "queued": "waiting",
        "sending": "waiting",
        "sent": "done",
        "failed": "alarm",
        "cancelled": "quiet",
    },
    # An ingest inbox row (incidents.admin.inbox): waiting, failing and retried, applied, or
    # applied without doing what it asked (a close of an alert that does not fire).
    "inbox": {"pending": "waiting", "retrying": "serious", "applied": "done", "failed": "quiet"},
    "postmortem": {"draft": "waiting", "in_review": "working", "published": "done"},
    "review": {"due": "waiting", "ok": "done", "done": "done"},
    "service": {
        "operational": "done",
        "degraded_performance": "waiting",
        "partial_outage": "serious",
        "major_outage": "alarm",
    },
}

_HEX_COLOUR = re.compile(r"#[0-9a-fA-F]{6}|#[0-9a-fA-F]{3}")
FALLBACK_COLOUR = "#6b7280"


def tone(kind: str, value: str) -> str:
    """The tone of `value` among the states of `kind` ("quiet" for one the palette lacks)."""
    return TONES[kind].get(str(value), "quiet")


def badge(
    kind: str, value: str, label: str, *, title: str = "", extra_class: str = ""
) -> SafeString:
    """A state as a pill: `kind` names the set of states (a key of TONES)."""
    return format_html(
        '<span class="tocsin-badge tocsin-status tocsin-tone--{}{}"{}>{}</span>',
        tone(kind, value),
        f" {extra_class}" if extra_class else "",
        format_html(' title="{}"', title) if title else "",
        label,
    )


def safe_colour(colour: str | None) -> str:
    """A staff-editable colour fit for a style attribute: #hex only, else the grey fallback."""
    return colour if _HEX_COLOUR.fullmatch(colour or "") else FALLBACK_COLOUR


def severity_badge(severity) -> SafeString:
    """A severity's key on its own colour, its name on hover."""
    return format_html(
        '<span class="tocsin-badge tocsin-sev" style="--sev: {}" title="{}">{}</span>',
        safe_colour(severity.color),
        severity.name,
        severity.key,
    )


def status_badge(status: str) -> SafeString:
    """An incident's status."""
    return badge("incident", status, IncidentStatus(status).label)
