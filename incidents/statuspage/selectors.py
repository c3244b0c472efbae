"""What the public may see. Every read here filters to public services and public updates."""

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db.models import Exists, OuterRef, Prefetch, Q, QuerySet
from django.db.models import TextChoices as _Choices
from django.utils import timezone

from incidents.core.choices import IncidentStatus
from incidents.models import Incident, Service, StatusUpdate

HISTORY_DAYS = 14


class ServiceState(_Choices):
    OPERATIONAL = "operational", "Operational"
    DEGRADED = "degraded_performance", "Degraded performance"
    PARTIAL = "partial_outage", "Partial outage"
    MAJOR = "major_outage", "Major outage"


# Worst first; a service takes the worst state among its open public incidents.
_SEVERITY_ORDER = [ServiceState.MAJOR, ServiceState.PARTIAL, ServiceState.DEGRADED]
_STATE_RANK = {state: n for n, state in enumerate([*_SEVERITY_ORDER, ServiceState.OPERATIONAL])}


def state_for_severity_rank(rank: int) -> ServiceState:
    """P0 (rank 0) is a major outage, P1 a partial outage, anything milder degraded."""
    return _SEVERITY_ORDER[min(rank, len(_SEVERITY_ORDER) - 1)]


def worst(states) -> ServiceState:
    return min(states, key=_STATE_RANK.__getitem__, default=ServiceState.OPERATIONAL)


@dataclass
class PublicService:
    service: Service
    state: ServiceState = ServiceState.OPERATIONAL
    incidents: list = field(default_factory=list)


@dataclass
class StatusSummary:
    services: list[PublicService]
    open_incidents: list[Incident]
    history: list[Incident]
    state: ServiceState
    generated_at: datetime


def public_services() -> QuerySet[Service]:
    return Service.objects.filter(is_public=True).order_by("status_order", "name")


def public_incidents() -> QuerySet[Incident]:
    """Incidents the public knows of: on a public service, with at least one public update."""
    public_update = StatusUpdate.objects.filter(incident=OuterRef("pk"), public=True)
    return (
        Incident.objects.filter(Exists(public_update), services__is_public=True)
        .distinct()
        .select_related("severity")
        .prefetch_related(
            Prefetch(
                "updates",
                queryset=StatusUpdate.objects.filter(public=True).order_by("-created_at", "-id"),
                to_attr="public_updates",
            ),
            Prefetch("services", queryset=public_services(), to_attr="public_services"),
        )
    )


def status_summary(now: datetime | None = None) -> StatusSummary:
    """Everything the page shows, in a fixed number of queries (four)."""
    now = now or timezone.now()
    services = [PublicService(service=s) for s in public_services()]
    by_id = {row.service.pk: row for row in services}
    since = now - timedelta(days=HISTORY_DAYS)
    incidents = list(
        public_incidents()
        .filter(~Q(status=IncidentStatus.RESOLVED) | Q(resolved_at__gte=since))
        .order_by("-detected_at", "-number")
    )
    open_incidents = [i for i in incidents if i.status != IncidentStatus.RESOLVED]
    history = sorted(
        (i for i in incidents if i.status == IncidentStatus.RESOLVED),
        key=lambda i: i.resolved_at,
        reverse=True,
    )
    for incident in open_incidents:
        incident.public_state = state_for_severity_rank(incident.severity.rank)
        for service in incident.public_services:
            row = by_id[service.pk]
            row.incidents.append(incident)
            row.state = worst([row.state, incident.public_state])
    return StatusSummary(
        services=services,
        open_incidents=open_incidents,
        history=history,
        state=worst(row.state for row in services),
        generated_at=now,
    )


def public_incident(number: int) -> Incident:
    """One incident as the public sees it; Incident.DoesNotExist unless it is public."""
    return public_incidents().get(number=number)


def public_updates_feed(limit: int = 50) -> list[StatusUpdate]:
    """The newest public updates on public incidents, for the Atom feed."""
    visible = Incident.objects.filter(services__is_public=True)
    return list(
        StatusUpdate.objects.filter(public=True, incident__in=visible)
        .select_related("incident")
        .order_by("-created_at", "-id")[:limit]
    )


def public_title(incident: Incident) -> str:
    """The title staff chose for customers, else a neutral one: internal titles stay internal."""
    if incident.public_title:
        return incident.public_title
    names = [s.display_name for s in getattr(incident, "public_services", [])]
    return f"Service disruption: {', '.join(names)}" if names else "Service disruption"
