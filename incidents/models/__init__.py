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
from incidents.models.escalation import (
    ContactKind,
    DeadlineKind,
    EscalationPolicy,
    EscalationState,
    EscalationStep,
    EscalationTarget,
    IncidentDeadline,
    IncidentEscalation,
    SeverityRoute,
    TargetType,
    TeamChannel,
)
from incidents.models.notify import (
    ContactMethod,
    Notification,
    NotificationReason,
    NotificationRule,
    NotificationStatus,
)
from incidents.models.service import Service, Severity
from incidents.models.status import Subscriber

__all__ = [
    "ContactKind",
    "ContactMethod",
    "DeadlineKind",
    "EscalationPolicy",
    "EscalationState",
    "EscalationStep",
    "EscalationTarget",
    "IncidentDeadline",
    "IncidentEscalation",
    "Notification",
    "NotificationReason",
    "NotificationRule",
    "NotificationStatus",
    "SeverityRoute",
    "TargetType",
    "TeamChannel",
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
    "Subscriber",
    "TimelineEvent",
]
