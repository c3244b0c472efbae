"""How an incident stands against its severity's targets, as the incident admin shows it.

Badges (severity, status) are in incidents.core.formatting, shared with the dashboard.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from incidents.core.texts import humanize_duration
from incidents.models import Incident


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
