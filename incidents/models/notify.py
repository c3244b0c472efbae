"""Contact methods, personal notification rules and the outbox (issue #5, issue #12).

Every message Tocsin sends is a `Notification` row before it is anything else: pages, reminders,
follow-ups, handoff messages, status-page mail and runbook-review mail. The row is the timer
(`due_at`), the retry state (`attempts`, `last_error`), the claim of the worker sending it now
(`claim_token`, `claimed_until`) and the audit record. `dedup_key` names the recipient and the
purpose, so a producer that runs twice finds the row it made the first time.
"""

import hashlib
from datetime import timedelta

from django.conf import settings
from django.db import models
from django.db.models import Q

from incidents.core.choices import ChatProvider, ContactKind
from incidents.core.contacts import mask_address


class ContactMethod(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="contact_methods"
    )
    kind = models.CharField(max_length=10, choices=ContactKind.choices)
    address = models.CharField(
        max_length=1000,
        help_text="An email address, an http(s) URL, or an Apprise URL (ntfy://, tgram://, ...).",
    )
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
    # Claimed by a worker that is sending it now, until `claimed_until` (its lease).
    SENDING = "sending", "Sending"
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
    # Not about one incident; each row carries its text.
    HANDOFF = "handoff", "On-call handoff"
    STATUS = "status", "Status-page update"
    CONFIRM = "confirm", "Subscription confirmation"
    REVIEW = "review", "Runbook review"
    # "Send test notification" on a contact method. Such a row carries its text.
    TEST = "test", "Test notification"
    # A chat message changed after a button click (who acknowledged). It carries its text.
    CHAT = "chat", "Chat message update"


# Reasons whose rows carry their own subject and body from the start.
CARRIES_TEXT = frozenset(
    {
        NotificationReason.FOLLOWUP,
        NotificationReason.RESOLVED,
        NotificationReason.HANDOFF,
        NotificationReason.STATUS,
        NotificationReason.CONFIRM,
        NotificationReason.REVIEW,
        NotificationReason.TEST,
        NotificationReason.CHAT,
    }
)


class NotificationQuerySet(models.QuerySet):
    def due(self, now):
        return self.filter(status=NotificationStatus.QUEUED, due_at__lte=now)

    def claimable(self, now):
        """Due rows, and rows whose sender's lease ran out (it died during the send)."""
        return self.filter(
            Q(status=NotificationStatus.QUEUED, due_at__lte=now)
            | Q(status=NotificationStatus.SENDING, claimed_until__lt=now)
        )


class Notification(models.Model):
    incident = models.ForeignKey(
        "incidents.Incident",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="notifications",
        help_text="Empty for messages about no incident (handoffs, status-page mail, reviews).",
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
    address = models.CharField(max_length=1000)
    round = models.PositiveSmallIntegerField(null=True, blank=True)
    step = models.PositiveSmallIntegerField(null=True, blank=True)
    status = models.CharField(
        max_length=10, choices=NotificationStatus.choices, default=NotificationStatus.QUEUED
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)
    due_at = models.DateTimeField(help_text="Send at (or retry at) this time.")
    sent_at = models.DateTimeField(null=True, blank=True)
    last_attempt_at = models.DateTimeField(
        null=True, blank=True, help_text="When the last attempt ended: the next is due from it."
    )
    claim_token = models.UUIDField(null=True, blank=True, editable=False)
    claimed_until = models.DateTimeField(
        null=True, blank=True, help_text="While sending: the lease of the worker sending it."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    dedup_key = models.CharField(max_length=200, unique=True, editable=False)
    subject = models.CharField(
        max_length=255, blank=True, help_text="The message as rendered when it was queued."
    )
    body = models.TextField(blank=True)
    headers = models.JSONField(default=dict, blank=True, help_text="Extra e-mail headers.")
    links = models.JSONField(
        default=dict,
        blank=True,
        help_text="The message's own links by action (acknowledge, resolve, escalate, open), "
        "made when it was queued: push channels put them in their click and action fields.",
    )

    objects = NotificationQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "delivery"
        verbose_name_plural = "delivery log"
        permissions = [("retry_notification", "Can retry notifications")]
        indexes = [
            models.Index(
                fields=["due_at"], condition=Q(status="queued"), name="notification_queued_due"
            ),
            models.Index(fields=["incident", "-created_at"], name="notification_incident"),
            models.Index(
                fields=["claimed_until"],
                condition=Q(status="sending"),
                name="notification_sending_lease",
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=~Q(status="sent") | Q(sent_at__isnull=False),
                name="notification_sent_has_sent_at",
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} to {self.recipient} ({self.status})"

    @property
    def delivery_id(self) -> str:
        """The stable id of this message, the same on every attempt (`webhook-id`): receivers
        drop a repeat by it. Derived from the dedup key, so it never changes."""
        return "msg_" + hashlib.sha256(self.dedup_key.encode()).hexdigest()[:32]


class ChatIdentity(models.Model):
    """Whose Slack or Mattermost account this is: their commands and clicks act as `user`."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="chat_identities"
    )
    provider = models.CharField(max_length=12, choices=ChatProvider.choices)
    external_id = models.CharField(
        "chat user id",
        max_length=64,
        help_text="The chat user's id: Slack's U0123ABCD, Mattermost's 26-character user id.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["user", "provider", "external_id"]
        verbose_name_plural = "chat identities"
        constraints = [
            models.UniqueConstraint(
                fields=["provider", "external_id"], name="chat_identity_once_per_provider"
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_provider_display()} {self.external_id}"


class ActionLinkUse(models.Model):
    """A signed action link that has acted: each link acts at most once."""

    link_id = models.CharField(max_length=64, unique=True)
    action = models.CharField(max_length=12)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    incident = models.ForeignKey(
        "incidents.Incident", on_delete=models.CASCADE, related_name="action_link_uses"
    )
    used_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-used_at"]

    def __str__(self) -> str:
        return f"{self.action} link {self.link_id}"
