"""Which escalation policy covers an incident, and the copy of it a running escalation follows."""

from django.db.models import Q

from incidents.models import EscalationPolicy, Incident, SeverityRoute, TargetType


def policy_for(incident: Incident) -> EscalationPolicy | None:
    """The most specific policy: a route for (service, severity), then for (any service,
    severity), then the first of the incident's services (by name) that has a policy, and
    last, for a severity that pages, the default policy."""
    services = list(incident.services.select_related("escalation_policy").order_by("name"))
    routes = list(
        SeverityRoute.objects.filter(severity_id=incident.severity_id)
        .filter(Q(service__in=services) | Q(service__isnull=True))
        .select_related("policy")
    )
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
        return EscalationPolicy.objects.filter(is_default=True).first()
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
