from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone

from incidents.core.choices import (
    OPEN_STATUSES,
    IncidentStatus,
    ResponderRole,
    TimelineKind,
    UpdateStatus,
)
from incidents.core.validators import validate_single_line


class IncidentQuerySet(models.QuerySet):
    def open(self):
        return self.exclude(status=IncidentStatus.RESOLVED)

    def resolved(self):
        return self.filter(status=IncidentStatus.RESOLVED)

    def unacknowledged(self):
        return self.filter(status=IncidentStatus.TRIGGERED)

    def involving(self, user):
        """Incidents the user commands or responds to."""
        return self.filter(Q(commander=user) | Q(responders__user=user)).distinct()


class IncidentCounter(models.Model):
    """A single row handing out incident numbers in order (INC-1, INC-2, ...) on databases
    without sequences (SQLite). Locked for the length of the creating transaction, so numbers
    never repeat. PostgreSQL uses the sequence `incidents_incident_number_seq` instead.
    """

    name = models.CharField(max_length=20, primary_key=True)
    value = models.PositiveBigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.name}={self.value}"


STARTED_AFTER_DETECTED = "An incident cannot start after it was detected."


def start_refusal(started_at, detected_at) -> str | None:
    """Why a start time is refused (a problem cannot begin after it was noticed), or None."""
    if started_at and detected_at and started_at > detected_at:
        when = detected_at.isoformat(timespec="minutes")
        return f"{STARTED_AFTER_DETECTED} It was detected at {when}."
    return None


class Incident(models.Model):
    number = models.PositiveBigIntegerField(unique=True, editable=False)
    title = models.CharField(max_length=255, validators=[validate_single_line])
    public_title = models.CharField(
        max_length=255,
        blank=True,
        validators=[validate_single_line],
        help_text="Title customers see on the status page; the internal title stays internal.",
    )
    summary = models.TextField(blank=True)
    severity = models.ForeignKey("incidents.Severity", on_delete=models.PROTECT, related_name="+")
    services = models.ManyToManyField("incidents.Service", blank=True, related_name="incidents")
    status = models.CharField(
        max_length=16,
        choices=IncidentStatus.choices,
        default=IncidentStatus.TRIGGERED,
        db_index=True,
    )
    impact = models.TextField(blank=True, help_text="Who is affected and how.")
    commander = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="commanded_incidents",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    started_at = models.DateTimeField(help_text="When the problem began (may predate detection).")
    detected_at = models.DateTimeField(help_text="When Tocsin or a person noticed it.")
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    mitigated_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    acknowledge_breached_at = models.DateTimeField(
        null=True, blank=True, help_text="When the acknowledge target passed unacknowledged."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = IncidentQuerySet.as_manager()

    class Meta:
        ordering = ["-number"]
        permissions = [
            ("acknowledge_incident", "Can acknowledge incidents"),
            ("resolve_incident", "Can resolve incidents"),
            ("command_incident", "Can take command of incidents"),
        ]
        indexes = [
            models.Index(fields=["status", "-detected_at"], name="incident_status_detected"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(status=IncidentStatus.RESOLVED, resolved_at__isnull=False)
                | (~Q(status=IncidentStatus.RESOLVED) & Q(resolved_at__isnull=True)),
                name="incident_resolved_at_iff_resolved",
            ),
            models.CheckConstraint(
                condition=Q(status=IncidentStatus.TRIGGERED)
                | Q(acknowledged_at__isnull=False)
                | Q(status=IncidentStatus.RESOLVED),
                name="incident_worked_states_acknowledged",
            ),
            # A problem cannot begin after it was noticed (a negative time to detect).
            models.CheckConstraint(
                condition=Q(started_at__lte=models.F("detected_at")),
                name="incident_started_not_after_detected",
                violation_error_message=STARTED_AFTER_DETECTED,
            ),
        ]

    def __str__(self) -> str:
        return f"{self.reference} {self.title}"

    def clean(self):
        super().clean()
        refusal = start_refusal(self.started_at, self.detected_at)
        if refusal:
            raise ValidationError({"started_at": refusal})

    @property
    def reference(self) -> str:
        return f"INC-{self.number}"

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    @property
    def acknowledge_due_at(self) -> datetime:
        return self.detected_at + self.severity.acknowledge_within

    @property
    def resolve_due_at(self) -> datetime:
        return self.detected_at + self.severity.resolve_within

    def acknowledge_breached(self, now: datetime | None = None) -> bool:
        """Missed the severity's acknowledge target (acknowledged late, or not yet and overdue)."""
        moment = self.acknowledged_at or (now or timezone.now())
        return moment > self.acknowledge_due_at

    def resolve_breached(self, now: datetime | None = None) -> bool:
        moment = self.resolved_at or (now or timezone.now())
        return moment > self.resolve_due_at

    def age(self, now: datetime | None = None) -> timedelta:
        return (self.resolved_at or now or timezone.now()) - self.detected_at


class Responder(models.Model):
    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="responders")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    role = models.CharField(
        max_length=20, choices=ResponderRole.choices, default=ResponderRole.RESPONDER
    )
    added_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["added_at"]
        constraints = [
            models.UniqueConstraint(fields=["incident", "user"], name="responder_once_per_incident")
        ]

    def __str__(self) -> str:
        return f"{self.user} ({self.get_role_display()})"


class TimelineEvent(models.Model):
    """Append-only record of everything that happened to an incident: the audit log.

    `actor` is the user who acted; `actor_label` names non-user actors (an integration, the
    escalation engine, "system") and is kept even when the user is later deleted.
    """

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="timeline")
    at = models.DateTimeField(default=timezone.now, db_index=True)
    kind = models.CharField(max_length=20, choices=TimelineKind.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_label = models.CharField(max_length=150)
    message = models.TextField()
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)

    class Meta:
        ordering = ["at", "id"]
        indexes = [models.Index(fields=["incident", "at"], name="timeline_incident_at")]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.actor_label}: {self.message}"


class StatusUpdate(models.Model):
    """A message to the team (internal) or to customers (public, feeds the status page)."""

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="updates")
    status = models.CharField(max_length=16, choices=UpdateStatus.choices)
    message = models.TextField()
    public = models.BooleanField(default=False)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        visibility = "public" if self.public else "internal"
        return f"{self.get_status_display()} ({visibility})"
