"""HTML fragments the incident admin shows: badges, ages and the severity targets."""

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.utils.html import format_html

from incidents.core.choices import IncidentStatus
from incidents.core.texts import humanize_duration
from incidents.models import Incident, Severity

_HEX_COLOUR = re.compile(r"#[0-9a-fA-F]{6}|#[0-9a-fA-F]{3}")
_FALLBACK_COLOUR = "#6b7280"

# Status colour families; the stylesheet defines one class per family.
_STATUS_TONE = {
    IncidentStatus.TRIGGERED: "triggered",
    IncidentStatus.ACKNOWLEDGED: "acknowledged",
    IncidentStatus.INVESTIGATING: "working",
    IncidentStatus.IDENTIFIED: "working",
    IncidentStatus.MONITORING: "working",
    IncidentStatus.RESOLVED: "resolved",
}


def severity_badge(severity: Severity):
    # The colour is staff-editable text that ends up in a style attribute: accept hex only.
    colour = severity.color if _HEX_COLOUR.fullmatch(severity.color or "") else _FALLBACK_COLOUR
    return format_html(
        '<span class="tocsin-badge tocsin-sev" style="--sev: {}" title="{}">{}</span>',
        colour,
        severity.name,
        severity.key,
    )


def status_badge(status: str):
    status = IncidentStatus(status)
    return format_html(
        '<span class="tocsin-badge tocsin-status tocsin-status--{}">{}</span>',
        _STATUS_TONE[status],
        status.label,
    )


@dataclass(frozen=True)
class TargetState:
    """How an incident stands against one of its severity's targets."""

    name: str  # "Acknowledge" or "Resolve"
    target: timedelta
    missed: bool
    done: bool
    text: str

    @property
    def tone(self) -> str:
        if self.missed:
            return "missed"
        return "met" if self.done else "pending"


def _target_state(
    *, name: str, target: timedelta, due_at: datetime, done_at: datetime | None, now: datetime
) -> TargetState:
    label = f"{name} target {humanize_duration(target)}"
    if done_at is not None:
        if done_at > due_at:
            text = f"{label}: missed by {humanize_duration(done_at - due_at)}"
        else:
            text = f"{label}: met with {humanize_duration(due_at - done_at)} to spare"
        return TargetState(name, target, done_at > due_at, True, text)
    if now > due_at:
        return TargetState(
            name, target, True, False, f"{label}: missed by {humanize_duration(now - due_at)}"
        )
    return TargetState(
        name, target, False, False, f"{label}: due in {humanize_duration(due_at - now)}"
    )


def target_states(incident: Incident, now: datetime) -> list[TargetState]:
    """The acknowledge and resolve targets; needs `incident.severity` loaded."""
    severity = incident.severity
    # An incident resolved straight from triggered was never acknowledged: resolving counts.
    acknowledged_at = incident.acknowledged_at or incident.resolved_at
    return [
        _target_state(
            name="Acknowledge",
            target=severity.acknowledge_within,
            due_at=incident.acknowledge_due_at,
            done_at=acknowledged_at,
            now=now,
        ),
        _target_state(
            name="Resolve",
            target=severity.resolve_within,
            due_at=incident.resolve_due_at,
            done_at=incident.resolved_at,
            now=now,
        ),
    ]
