"""Incident domain models, a module per concept; import them from here."""

from incidents.models.incident import (
    Incident,
    IncidentCounter,
    IncidentQuerySet,
    Responder,
    StatusUpdate,
    TimelineEvent,
)
from incidents.models.service import Service, Severity

__all__ = [
    "Incident",
    "IncidentCounter",
    "IncidentQuerySet",
    "Responder",
    "Service",
    "Severity",
    "StatusUpdate",
    "TimelineEvent",
]
