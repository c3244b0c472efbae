"""Escalation policies and the per-incident escalation state (issue #5).

A policy is ordered steps, each waiting its delay after the previous one (the first after the
incident opens) and then paging its targets. When an incident opens, the policy is copied onto
its `IncidentEscalation` row as a JSON snapshot, so editing a policy never changes a running
escalation. Every timer is a deadline on a row (`IncidentEscalation.next_at`,
`IncidentDeadline.due_at`); `incidents.paging.engine` fires them, once, by compare-and-set.
"""

from datetime import timedelta

from django.conf import settings
from django.db import models
from django.db.models import Q

from incidents.core.choices import ContactKind


class TeamChannel(models.Model):
    """A shared destination an escalation step can page: a team mailbox or a chat webhook."""

    name = models.CharField(max_length=120, unique=True)
    kind = models.CharField(max_length=10, choices=ContactKind.choices)
    address = models.CharField(
        max_length=1000,
        help_text="An email address, an http(s) URL, a Slack or Mattermost incoming-webhook URL, "
        "or an Apprise URL.",
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class EscalationPolicy(models.Model):
    name = models.CharField(max_length=120, unique=True)
    description = models.TextField(blank=True)
    repeat = models.PositiveSmallIntegerField(
        default=0, help_text="Run all the steps again this many times while nobody acknowledges."
    )
    repeat_delay = models.DurationField(
        default=timedelta(minutes=5),
        help_text="Wait this long after the last step before starting the next round.",
    )
    is_default = models.BooleanField(
        "default policy",
        default=False,
        help_text="Page with this policy for any paging incident that no severity route or "
        "service policy covers (an alert from an integration without a service, say). "
        "Only one policy is the default.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "escalation policies"
        constraints = [
            models.UniqueConstraint(
                fields=["is_default"],
                condition=Q(is_default=True),
                name="escalation_policy_one_default",
            )
        ]

    def __str__(self) -> str:
        return self.name


class EscalationStep(models.Model):
    policy = models.ForeignKey(EscalationPolicy, on_delete=models.CASCADE, related_name="steps")
    order = models.PositiveSmallIntegerField(default=0)
    delay = models.DurationField(
        default=timedelta(0),
        help_text="Wait this long after the previous step (the first: after opening) before paging.",
    )

    class Meta:
        ordering = ["policy", "order", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(delay__gte=timedelta(0)), name="step_delay_not_negative"
            )
        ]

    def __str__(self) -> str:
        return f"{self.policy} step {self.order + 1}"


class TargetType(models.TextChoices):
    SCHEDULE = "schedule", "On-call of a schedule"
    USER = "user", "User"
    CHANNEL = "channel", "Team channel"
    # Each new incident pages the next person of an ordered list (RoundRobinMember rows).
    ROUND_ROBIN = "round_robin", "Round robin"


class EscalationTarget(models.Model):
    step = models.ForeignKey(EscalationStep, on_delete=models.CASCADE, related_name="targets")
    type = models.CharField(max_length=12, choices=TargetType.choices)
    schedule = models.ForeignKey(
        "incidents.Schedule", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    channel = models.ForeignKey(
        TeamChannel, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    next_index = models.PositiveIntegerField(
        default=0,
        help_text="Round robin: the position of the member the next new incident pages.",
    )

    class Meta:
        ordering = ["step", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(
                    type=TargetType.SCHEDULE,
                    schedule__isnull=False,
                    user__isnull=True,
                    channel__isnull=True,
                )
                | Q(
                    type=TargetType.USER,
                    user__isnull=False,
                    schedule__isnull=True,
                    channel__isnull=True,
                )
                | Q(
                    type=TargetType.CHANNEL,
                    channel__isnull=False,
                    schedule__isnull=True,
                    user__isnull=True,
                )
                | Q(
                    type=TargetType.ROUND_ROBIN,
                    channel__isnull=True,
                    schedule__isnull=True,
                    user__isnull=True,
                ),
                name="escalation_target_matches_type",
            )
        ]

    def __str__(self) -> str:
        if self.type == TargetType.ROUND_ROBIN:
            return "Round robin (its people are on the policy's page)"
        thing = self.schedule or self.user or self.channel
        return f"{self.get_type_display()}: {thing}"


class RoundRobinMember(models.Model):
    """One person of a round-robin target, in the order they take new incidents."""

    target = models.ForeignKey(EscalationTarget, on_delete=models.CASCADE, related_name="members")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["target", "position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["target", "user"], name="round_robin_member_once")
        ]

    def __str__(self) -> str:
        return f"{self.user} (#{self.position + 1})"


class SeverityRoute(models.Model):
    """Use `policy` for incidents of `severity` (on `service`, or on any service when empty).

    The most specific route wins: (service, severity), then (any service, severity), then the
    service's own policy.
    """

    severity = models.ForeignKey("incidents.Severity", on_delete=models.CASCADE, related_name="+")
    service = models.ForeignKey(
        "incidents.Service",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="severity_routes",
    )
    policy = models.ForeignKey(EscalationPolicy, on_delete=models.CASCADE, related_name="routes")

    class Meta:
        ordering = ["severity", "service"]
        constraints = [
            models.UniqueConstraint(
                fields=["severity", "service"], name="severity_route_once_per_service"
            ),
            models.UniqueConstraint(
                fields=["severity"],
                condition=Q(service__isnull=True),
                name="severity_route_once_for_all_services",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.severity.key} on {self.service or 'any service'} → {self.policy}"


class EscalationState(models.TextChoices):
    ACTIVE = "active", "Active"
    ACKNOWLEDGED = "acknowledged", "Acknowledged"
    RESOLVED = "resolved", "Resolved"
    EXHAUSTED = "exhausted", "Exhausted"


class IncidentEscalation(models.Model):
    """An incident's running escalation: which step pages next, and when.

    `version` is bumped by every change; a timer carries the version it was scheduled for, and
    firing is a compare-and-set on (id, version, active, due), so a step reached by an ETA task
    and by the sweep (or by two workers) runs once.
    """

    incident = models.OneToOneField(
        "incidents.Incident", on_delete=models.CASCADE, related_name="escalation"
    )
    policy = models.ForeignKey(
        EscalationPolicy, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    policy_name = models.CharField(max_length=120)
    snapshot = models.JSONField(
        help_text="The policy's steps as they were when the incident opened."
    )
    step = models.PositiveSmallIntegerField(default=0, help_text="Index of the next step to fire.")
    round = models.PositiveSmallIntegerField(default=0)
    state = models.CharField(
        max_length=12, choices=EscalationState.choices, default=EscalationState.ACTIVE
    )
    next_at = models.DateTimeField(null=True, blank=True)
    version = models.PositiveIntegerField(default=0)
    last_fired_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-started_at"]
        permissions = [("escalate_incident", "Can escalate incidents now")]
        indexes = [
            models.Index(
                fields=["next_at"],
                condition=Q(state="active"),
                name="escalation_active_next_at",
            )
        ]
        constraints = [
            models.CheckConstraint(
                condition=~Q(state="active") | Q(next_at__isnull=False),
                name="escalation_active_has_next_at",
            )
        ]

    def __str__(self) -> str:
        return f"{self.policy_name} for incident {self.incident_id}"

    @property
    def steps(self) -> list[dict]:
        return self.snapshot.get("steps", [])

    @property
    def rounds(self) -> int:
        return int(self.snapshot.get("repeat", 0)) + 1


class DeadlineKind(models.TextChoices):
    ACKNOWLEDGE = "acknowledge", "Acknowledge target"
    UPDATE = "update", "Status-update cadence"


class IncidentDeadline(models.Model):
    """A severity timer: the acknowledge target, or the next status update due.

    `done_at` set means it will not fire again; the cadence timer moves `due_at` forward instead.
    """

    incident = models.ForeignKey(
        "incidents.Incident", on_delete=models.CASCADE, related_name="deadlines"
    )
    kind = models.CharField(max_length=12, choices=DeadlineKind.choices)
    due_at = models.DateTimeField()
    version = models.PositiveIntegerField(default=0)
    fired_count = models.PositiveIntegerField(default=0)
    done_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["due_at"]
        constraints = [
            models.UniqueConstraint(fields=["incident", "kind"], name="deadline_once_per_kind")
        ]
        indexes = [
            models.Index(
                fields=["due_at"], condition=Q(done_at__isnull=True), name="deadline_pending_due"
            )
        ]

    def __str__(self) -> str:
        return (
            f"{self.get_kind_display()} for incident {self.incident_id} at {self.due_at:%H:%M:%S}"
        )
