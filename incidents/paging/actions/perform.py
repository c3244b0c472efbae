"""One action by one person, from a page link or a chat message.

The person's permissions at this moment decide (incidents.core.policy), as in the admin and the
API; the change goes through the incident's own domain function, so the timeline says who and
through what ("Alice via page link"). Asking again for what is done already changes nothing and
says so.
"""

from dataclasses import dataclass
from enum import StrEnum

from django.db import transaction

from incidents.core import lifecycle, policy
from incidents.core.choices import IncidentStatus
from incidents.core.errors import DomainError
from incidents.core.formatting import person_name
from incidents.models import Incident
from incidents.paging import engine


class Verb(StrEnum):
    ACKNOWLEDGE = "acknowledge"
    RESOLVE = "resolve"
    ESCALATE = "escalate"


POLICY_ACTION = {
    Verb.ACKNOWLEDGE: policy.Action.ACKNOWLEDGE,
    Verb.RESOLVE: policy.Action.RESOLVE,
    Verb.ESCALATE: policy.Action.ESCALATE_NOW,
}

# How the timeline and the answers name each way in.
VIA_LINK = "page link"
VIA_SLACK = "Slack"
VIA_MATTERMOST = "Mattermost"


@dataclass(frozen=True)
class Outcome:
    changed: bool
    message: str
    incident: Incident


def may(user, verb: Verb | str, incident: Incident | None = None) -> bool:
    """May `user` take this action now (their permissions as they are at this moment)?"""
    return (
        user is not None
        and user.is_active
        and policy.may(user, POLICY_ACTION[Verb(verb)], incident=incident)
    )


def _last_status_actor(incident: Incident, status: str) -> str:
    event = (
        incident.timeline.filter(after__status=status)
        .exclude(actor_label="")
        .order_by("-at", "-id")
        .first()
    )
    return event.actor_label if event is not None else ""


def _already(incident: Incident, verb: Verb) -> str | None:
    """What to say when the incident is already where `verb` would take it, else None."""
    if incident.status == IncidentStatus.RESOLVED:
        who = _last_status_actor(incident, IncidentStatus.RESOLVED)
        return f"{incident.reference} is resolved already" + (f" (by {who})." if who else ".")
    if verb == Verb.ACKNOWLEDGE and incident.status != IncidentStatus.TRIGGERED:
        who = _last_status_actor(incident, IncidentStatus.ACKNOWLEDGED)
        return f"{incident.reference} was acknowledged already" + (f" by {who}." if who else ".")
    return None


@transaction.atomic
def perform(*, user, incident: Incident, verb: Verb | str, via: str) -> Outcome:
    """Acknowledge, resolve or escalate `incident` as `user`, through `via`.

    Raises `policy.NotAllowed` (403) when the person may not, `DomainError` when the incident's
    state refuses it (an escalation with no step to fire). An incident already acknowledged or
    resolved is left as it is: the outcome says so, with `changed` False.
    """
    verb = Verb(verb)
    if user is None or not user.is_active:
        raise policy.NotAllowed("This account is not active.")
    policy.check(user, POLICY_ACTION[verb], incident=incident)
    incident = lifecycle.lock_existing(incident)
    already = _already(incident, verb)
    if already is not None:
        return Outcome(False, already, incident)
    name = person_name(user)
    if verb == Verb.ACKNOWLEDGE:
        incident = lifecycle.incident_acknowledge(incident=incident, actor=user, via=via)
        return Outcome(True, f"{incident.reference} acknowledged by {name}.", incident)
    if verb == Verb.RESOLVE:
        incident = lifecycle.incident_resolve(incident=incident, actor=user, via=via)
        return Outcome(True, f"{incident.reference} resolved by {name}.", incident)
    if incident.status != IncidentStatus.TRIGGERED:
        raise DomainError(
            f"{incident.reference} is acknowledged: escalating pages nobody more. "
            "Page someone instead."
        )
    engine.escalation_escalate_now(incident=incident, actor=user, via=via)
    incident.refresh_from_db()
    return Outcome(
        True, f"{incident.reference} escalated by {name}: the next step pages now.", incident
    )
