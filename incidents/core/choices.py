"""Choice sets shared by models, forms, the API and the admin."""

from django.db import models


class IncidentStatus(models.TextChoices):
    TRIGGERED = "triggered", "Triggered"
    ACKNOWLEDGED = "acknowledged", "Acknowledged"
    INVESTIGATING = "investigating", "Investigating"
    IDENTIFIED = "identified", "Identified"
    MONITORING = "monitoring", "Monitoring"
    RESOLVED = "resolved", "Resolved"


OPEN_STATUSES = frozenset(IncidentStatus) - {IncidentStatus.RESOLVED}
# States an incident can only reach once somebody has acknowledged it.
WORKING_STATUSES = frozenset(
    {IncidentStatus.INVESTIGATING, IncidentStatus.IDENTIFIED, IncidentStatus.MONITORING}
)

# The one place the status flow is written down.
ALLOWED_TRANSITIONS: dict[str, frozenset[str]] = {
    IncidentStatus.TRIGGERED: frozenset(
        {IncidentStatus.ACKNOWLEDGED, IncidentStatus.RESOLVED, *WORKING_STATUSES}
    ),
    IncidentStatus.ACKNOWLEDGED: frozenset({IncidentStatus.RESOLVED, *WORKING_STATUSES}),
    IncidentStatus.INVESTIGATING: frozenset({IncidentStatus.RESOLVED, *WORKING_STATUSES}),
    IncidentStatus.IDENTIFIED: frozenset({IncidentStatus.RESOLVED, *WORKING_STATUSES}),
    IncidentStatus.MONITORING: frozenset({IncidentStatus.RESOLVED, *WORKING_STATUSES}),
    IncidentStatus.RESOLVED: frozenset({IncidentStatus.INVESTIGATING}),
}


class ContactKind(models.TextChoices):
    """How a person, a team channel or a handoff is reached."""

    EMAIL = "email", "Email"
    WEBHOOK = "webhook", "Webhook (Slack-compatible JSON)"
    # Any Apprise URL: ntfy, Gotify, Pushover, Telegram, Signal, Matrix, Teams, SMS providers...
    APPRISE = "apprise", "Apprise URL (push, SMS, chat)"
    # Incoming webhooks whose page messages carry Acknowledge / Resolve / Escalate buttons.
    SLACK = "slack", "Slack incoming webhook (with buttons)"
    MATTERMOST = "mattermost", "Mattermost incoming webhook (with buttons)"


class ChatProvider(models.TextChoices):
    """Where a chat identity, a slash command or a button click comes from."""

    SLACK = "slack", "Slack"
    MATTERMOST = "mattermost", "Mattermost"


class ResponderRole(models.TextChoices):
    RESPONDER = "responder", "Responder"
    COMMUNICATIONS = "communications", "Communications lead"
    SCRIBE = "scribe", "Scribe"
    SUBJECT_EXPERT = "subject_expert", "Subject-matter expert"


class PostmortemPolicy(models.TextChoices):
    REQUIRED = "required", "Required"
    OPTIONAL = "optional", "Optional"
    NONE = "none", "Not required"


class UpdateStatus(models.TextChoices):
    """The phases a status update speaks of (the team runbooks' communication templates)."""

    INVESTIGATING = "investigating", "Investigating"
    IDENTIFIED = "identified", "Identified"
    MONITORING = "monitoring", "Monitoring"
    RESOLVED = "resolved", "Resolved"


class TimelineKind(models.TextChoices):
    CREATED = "created", "Incident opened"
    STATUS = "status", "Status changed"
    REOPENED = "reopened", "Reopened"
    SEVERITY = "severity", "Severity changed"
    COMMANDER = "commander", "Commander changed"
    RESPONDER_ADDED = "responder_added", "Responder added"
    RESPONDER_REMOVED = "responder_removed", "Responder removed"
    UPDATE = "update", "Status update posted"
    FIELD = "field", "Details edited"
    NOTE = "note", "Note"
    ALERT = "alert", "Alert event"
    ESCALATION = "escalation", "Escalation"
    NOTIFICATION = "notification", "Notification"
    RUNBOOK = "runbook", "Runbook"
    POSTMORTEM = "postmortem", "Post-mortem"
