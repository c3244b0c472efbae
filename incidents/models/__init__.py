"""Incident domain models, a module per concept; import them from here."""

from incidents.models.alert import Alert, AlertQuerySet, AlertStatus, Integration, IntegrationKind
from incidents.models.incident import (
    Incident,
    IncidentCounter,
    IncidentQuerySet,
    Responder,
    StatusUpdate,
    TimelineEvent,
)
from incidents.models.oncall import (
    Handoff,
    HandoffChannel,
    HandoffDelivery,
    Override,
    Rotation,
    RotationParticipant,
    Schedule,
    UserCalendar,
)
from incidents.models.service import Service, Severity

__all__ = [
    "Alert",
    "AlertQuerySet",
    "AlertStatus",
    "Handoff",
    "HandoffChannel",
    "HandoffDelivery",
    "Override",
    "Rotation",
    "RotationParticipant",
    "Schedule",
    "UserCalendar",
    "Incident",
    "IncidentCounter",
    "IncidentQuerySet",
    "Integration",
    "IntegrationKind",
    "Responder",
    "Service",
    "Severity",
    "StatusUpdate",
    "TimelineEvent",
]
