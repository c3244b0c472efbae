"""Composed reads: where select_related / prefetch_related are decided, once."""

from django.db.models import Prefetch, QuerySet

from incidents.models import Incident, Responder, Service, StatusUpdate, TimelineEvent


def incident_list() -> QuerySet[Incident]:
    """Incidents with everything a list row shows, in a fixed number of queries."""
    return Incident.objects.select_related("severity", "commander").prefetch_related(
        Prefetch("services", queryset=Service.objects.only("id", "name", "slug"))
    )


def incident_detail() -> QuerySet[Incident]:
    return (
        incident_list()
        .select_related("escalation")
        .prefetch_related(
            Prefetch("responders", queryset=Responder.objects.select_related("user")),
        )
    )


def incident_timeline(incident: Incident) -> QuerySet[TimelineEvent]:
    return incident.timeline.select_related("actor").order_by("at", "id")


def incident_updates(incident: Incident) -> QuerySet[StatusUpdate]:
    return incident.updates.select_related("author")
