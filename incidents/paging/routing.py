"""Which escalation policy covers an incident, and the copy of it a running escalation follows."""

from collections import defaultdict
from collections.abc import Callable

from incidents.models import EscalationPolicy, Incident, Service, SeverityRoute, TargetType


def policy_for(incident: Incident) -> EscalationPolicy | None:
    """The most specific policy: a route for (service, severity), then for (any service,
    severity), then the first of the incident's services (by name) that has a policy, and
    last, for a severity that pages, the default policy."""
    return policies_for([incident])[incident.pk]


def policies_for(incidents: list[Incident]) -> dict[int, EscalationPolicy | None]:
    """`policy_for` of many incidents, by incident id, in three queries whatever their number."""
    if not incidents:
        return {}
    services: dict[int, list[Service]] = {incident.pk: [] for incident in incidents}
    links = (
        Incident.services.through.objects.filter(incident_id__in=list(services))
        .select_related("service__escalation_policy")
        .order_by("service__name", "service_id")
    )
    for link in links:
        services[link.incident_id].append(link.service)
    routes: dict[int, list[SeverityRoute]] = defaultdict(list)
    for route in SeverityRoute.objects.filter(
        severity_id__in={incident.severity_id for incident in incidents}
    ).select_related("policy"):
        routes[route.severity_id].append(route)
    default: list[EscalationPolicy | None] = []  # looked up once, when first needed

    def default_policy() -> EscalationPolicy | None:
        if not default:
            default.append(EscalationPolicy.objects.filter(is_default=True).first())
        return default[0]

    return {
        incident.pk: _choose(
            incident, services[incident.pk], routes[incident.severity_id], default_policy
        )
        for incident in incidents
    }


def _choose(
    incident: Incident,
    services: list[Service],
    routes: list[SeverityRoute],
    default_policy: Callable[[], EscalationPolicy | None],
) -> EscalationPolicy | None:
    """The rule of `policy_for`, given the incident's services (by name) and its severity's
    routes."""
    for service in services:
        for route in routes:
            if route.service_id == service.pk:
                return route.policy
    for route in routes:
        if route.service_id is None:
            return route.policy
    for service in services:
        if service.escalation_policy is not None:
            return service.escalation_policy
    if incident.severity.pages:
        # Nothing names a policy for this incident: a paging one still pages someone.
        return default_policy()
    return None


def policy_snapshot(policy: EscalationPolicy) -> dict:
    """The policy as plain JSON: what a running escalation follows, whatever edits come later."""
    steps = []
    for step in policy.steps.prefetch_related(
        "targets__schedule", "targets__user", "targets__channel", "targets__members__user"
    ):
        targets = []
        for target in step.targets.all():
            if target.type == TargetType.SCHEDULE:
                targets.append(
                    {"type": "schedule", "id": target.schedule_id, "name": target.schedule.name}
                )
            elif target.type == TargetType.USER:
                targets.append(
                    {"type": "user", "id": target.user_id, "username": target.user.get_username()}
                )
            elif target.type == TargetType.ROUND_ROBIN:
                # Who takes this incident is chosen when its escalation starts
                # (incidents.paging.round_robin), under a lock on the target row.
                members = sorted(target.members.all(), key=lambda m: (m.position, m.pk))
                targets.append(
                    {
                        "type": "round_robin",
                        "id": target.pk,
                        "members": [
                            {"id": m.user_id, "username": m.user.get_username()} for m in members
                        ],
                    }
                )
            else:
                targets.append(
                    {"type": "channel", "id": target.channel_id, "name": target.channel.name}
                )
        steps.append({"delay": step.delay.total_seconds(), "targets": targets})
    return {
        "policy": policy.pk,
        "name": policy.name,
        "repeat": policy.repeat,
        "repeat_delay": policy.repeat_delay.total_seconds(),
        "steps": steps,
    }
