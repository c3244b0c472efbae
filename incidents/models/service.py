from django.conf import settings
from django.db import models

from incidents.core.choices import PostmortemPolicy


class Severity(models.Model):
    """A severity level and its response targets (seeded P0-P3 from the team runbooks)."""

    key = models.CharField(max_length=8, unique=True, help_text="Short code, e.g. P1.")
    name = models.CharField(max_length=60)
    rank = models.PositiveSmallIntegerField(
        unique=True, help_text="0 is the most severe; lists sort by it."
    )
    description = models.TextField(blank=True)
    color = models.CharField(max_length=7, default="#6b7280", help_text="Badge colour, #rrggbb.")
    acknowledge_within = models.DurationField(
        help_text="Target time from detection to acknowledgement."
    )
    resolve_within = models.DurationField(help_text="Target time from detection to resolution.")
    update_every = models.DurationField(
        null=True, blank=True, help_text="Status-update cadence while open; empty for none."
    )
    pages = models.BooleanField(default=True, help_text="Page the on-call (else notify only).")
    postmortem = models.CharField(
        max_length=10, choices=PostmortemPolicy.choices, default=PostmortemPolicy.OPTIONAL
    )
    postmortem_due_within = models.DurationField(
        null=True, blank=True, help_text="Post-mortem due this long after resolution."
    )

    class Meta:
        ordering = ["rank"]
        verbose_name_plural = "severities"
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(postmortem="required")
                | models.Q(postmortem_due_within__isnull=False),
                name="severity_required_postmortem_has_due",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.key} {self.name}"


class Service(models.Model):
    """A system that can break."""

    name = models.CharField(max_length=120, unique=True)
    slug = models.SlugField(max_length=120, unique=True)
    description = models.TextField(blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="owned_services",
    )
    dashboard_url = models.URLField(blank=True)
    logs_url = models.URLField(blank=True)
    escalation_policy = models.ForeignKey(
        "incidents.EscalationPolicy",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="services",
        help_text="Who gets paged when an incident opens on this service.",
    )
    is_public = models.BooleanField(
        "on the status page",
        default=False,
        help_text="Show this service and its public updates on the public status page.",
    )
    public_name = models.CharField(
        max_length=120, blank=True, help_text="Name customers see; the service name if empty."
    )
    public_description = models.CharField(
        max_length=255, blank=True, help_text="One line for customers, e.g. 'Cart and payment'."
    )
    status_order = models.PositiveSmallIntegerField(
        default=100, help_text="Position on the status page (lower first)."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def display_name(self) -> str:
        return self.public_name or self.name
