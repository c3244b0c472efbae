"""Incident domain models, a module per concept; import them from here."""

from incidents.models.alert import Alert, AlertQuerySet, AlertStatus, Integration, IntegrationKind
from incidents.models.audit import ChangeAction, ConfigChange
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
from incidents.models.incident import (
    Incident,
    IncidentCounter,
    IncidentQuerySet,
    Responder,
    StatusUpdate,
    TimelineEvent,
)
from incidents.models.notify import (
    ContactMethod,
    Notification,
    NotificationReason,
    NotificationRule,
    NotificationStatus,
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
from incidents.models.status import Subscriber

__all__ = [
    "Alert",
    "AlertQuerySet",
    "AlertStatus",
    "ChangeAction",
    "ConfigChange",
    "ContactKind",
    "ContactMethod",
    "DeadlineKind",
    "EscalationPolicy",
    "EscalationState",
    "EscalationStep",
    "EscalationTarget",
    "Handoff",
    "HandoffChannel",
    "HandoffDelivery",
    "Incident",
    "IncidentCounter",
    "IncidentDeadline",
    "IncidentEscalation",
    "IncidentQuerySet",
    "Integration",
    "IntegrationKind",
    "Notification",
    "NotificationReason",
    "NotificationRule",
    "NotificationStatus",
    "Override",
    "Responder",
    "Rotation",
    "RotationParticipant",
    "Schedule",
    "Service",
    "Severity",
    "SeverityRoute",
    "StatusUpdate",
    "Subscriber",
    "TargetType",
    "TeamChannel",
    "TimelineEvent",
    "UserCalendar",
]
