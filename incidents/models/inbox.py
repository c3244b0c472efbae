"""The ingest inbox: every accepted request's normalized events, committed before its 202.

One row per request, whatever its number of alerts (a notification of 5,000 alerts is one
insert). Ingest workers apply pending rows in batches, oldest first, one integration at a time
(incidents.alerts.inbox); a row is applied exactly once, in the transaction that marks it
applied. Applied rows are kept for `TOCSIN_INBOX_KEEP_HOURS` so Opsgenie's request status can
answer from them.
"""

import uuid

from django.db import models
from django.db.models import Q


class InboxState(models.TextChoices):
    PENDING = "pending", "Pending"
    APPLIED = "applied", "Applied"


class InboxEvent(models.Model):
    id = models.BigAutoField(primary_key=True)
    integration = models.ForeignKey(
        "incidents.Integration", on_delete=models.CASCADE, related_name="inbox_events"
    )
    request_id = models.UUIDField(
        default=uuid.uuid4, unique=True, editable=False, help_text="Told to the sender."
    )
    action = models.CharField(
        max_length=16, default="ingest", help_text="What the sender asked (Opsgenie: create…)."
    )
    alias = models.CharField(max_length=512, blank=True, help_text="The alert's key, if one.")
    events = models.JSONField(help_text="The request's normalized alert events, in order.")
    event_count = models.PositiveIntegerField()
    received_at = models.DateTimeField()
    state = models.CharField(max_length=8, choices=InboxState.choices, default=InboxState.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    not_before = models.DateTimeField(help_text="A failed attempt waits until then.")
    last_error = models.TextField(blank=True)
    applied_at = models.DateTimeField(null=True, blank=True)
    success = models.BooleanField(null=True, help_text="Applied, and did what it asked.")
    result = models.CharField(max_length=500, blank=True, help_text="What applying it did.")
    alert_id = models.BigIntegerField(null=True, blank=True, help_text="Its (first) alert.")
    incident_ids = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["-id"]
        verbose_name = "inbox event"
        indexes = [
            # The workers' claim and the backlog: pending rows, oldest first (a small set
            # whatever the history).
            models.Index(
                fields=["id"],
                condition=Q(state="pending"),
                name="inbox_pending",
            ),
            models.Index(fields=["received_at"], name="inbox_received"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(state="pending", applied_at__isnull=True)
                | Q(state="applied", applied_at__isnull=False),
                name="inbox_applied_at_iff_applied",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.request_id} ({self.event_count} events, {self.state})"
