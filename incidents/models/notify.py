"""Contact methods, personal notification rules and the delivery log (issue #5).

Every message Tocsin sends about an incident is a `Notification` row before it is anything else:
the row is the timer (`due_at`), the retry state (`attempts`, `last_error`) and the audit record.
"""

from datetime import timedelta

from django.conf import settings
from django.db import models
from django.db.models import Q

from incidents.core.choices import ContactKind
from incidents.core.contacts import mask_address


class ContactMethod(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="contact_methods"
    )
    kind = models.CharField(max_length=10, choices=ContactKind.choices)
    address = models.CharField(max_length=500, help_text="An email address or an http(s) URL.")
    label = models.CharField(max_length=60, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["user", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "kind", "address"], name="contact_method_once_per_user"
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {mask_address(self.address)}"


class NotificationRule(models.Model):
    """ "Email at once, webhook after 2 minutes if still unacknowledged": one row each."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notification_rules"
    )
    contact_method = models.ForeignKey(
        ContactMethod, on_delete=models.CASCADE, related_name="rules"
    )
    order = models.PositiveSmallIntegerField(default=0)
    delay = models.DurationField(
        default=timedelta(0),
        help_text="After being paged, if the incident is still unacknowledged.",
    )

    class Meta:
        ordering = ["user", "order", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(delay__gte=timedelta(0)), name="rule_delay_not_negative"
            )
        ]

    def __str__(self) -> str:
        return f"{self.contact_method} after {self.delay}"


class NotificationStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


class NotificationReason(models.TextChoices):
    PAGE = "page", "Page"
    REMINDER = "reminder", "Update reminder"
    # After the incident: overdue post-mortems and action items. Such a row carries its text.
    FOLLOWUP = "followup", "Follow-up reminder"
    # Someone paged by hand ("Page someone", or added as a responder): wanted until resolved.
    DIRECT = "direct", "Direct page"
    # "INC-n resolved", to the people paged for it. Such a row carries its text.
    RESOLVED = "resolved", "Resolved notice"


class NotificationQuerySet(models.QuerySet):
    def due(self, now):
        return self.filter(status=NotificationStatus.QUEUED, due_at__lte=now)


class Notification(models.Model):
    incident = models.ForeignKey(
        "incidents.Incident", on_delete=models.CASCADE, related_name="notifications"
    )
    reason = models.CharField(
        max_length=10, choices=NotificationReason.choices, default=NotificationReason.PAGE
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    channel = models.ForeignKey(
        "incidents.TeamChannel", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    recipient = models.CharField(max_length=150, help_text="Who, as it read when it was queued.")
    contact_method = models.ForeignKey(
        ContactMethod, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    rule = models.ForeignKey(
        NotificationRule, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    kind = models.CharField(max_length=10, choices=ContactKind.choices)
    address = models.CharField(max_length=500)
    round = models.PositiveSmallIntegerField(null=True, blank=True)
    step = models.PositiveSmallIntegerField(null=True, blank=True)
    status = models.CharField(
        max_length=10, choices=NotificationStatus.choices, default=NotificationStatus.QUEUED
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)
    due_at = models.DateTimeField(help_text="Send at (or retry at) this time.")
    sent_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    dedup_key = models.CharField(max_length=200, unique=True, editable=False)
    subject = models.CharField(
        max_length=255, blank=True, help_text="Follow-up reminders only: the message as queued."
    )
    body = models.TextField(blank=True)

    objects = NotificationQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        permissions = [("retry_notification", "Can retry notifications")]
        indexes = [
            models.Index(
                fields=["due_at"], condition=Q(status="queued"), name="notification_queued_due"
            ),
            models.Index(fields=["incident", "-created_at"], name="notification_incident"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=~Q(status="sent") | Q(sent_at__isnull=False),
                name="notification_sent_has_sent_at",
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} to {self.recipient} ({self.status})"
