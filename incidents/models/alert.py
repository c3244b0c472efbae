"""Integrations (sources of alerts) and the deduplicated alerts they send."""

import hashlib
import secrets

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q

from incidents.models.service import Severity


class IntegrationKind(models.TextChoices):
    ALERTMANAGER = "alertmanager", "Prometheus Alertmanager"
    GRAFANA = "grafana", "Grafana alerting"
    PAGERDUTY = "pagerduty", "PagerDuty Events API v2"
    OPSGENIE = "opsgenie", "Opsgenie alert API"
    GENERIC = "generic", "Generic JSON webhook"


class AlertStatus(models.TextChoices):
    FIRING = "firing", "Firing"
    RESOLVED = "resolved", "Resolved"


# Source severity (lower-cased) -> our severity key. An integration's own `severity_mapping`
# overrides these entries; a source value equal to one of our keys (e.g. "P1") maps to itself.
DEFAULT_SEVERITY_MAPPINGS: dict[str, dict[str, str]] = {
    IntegrationKind.ALERTMANAGER: {"critical": "P1", "warning": "P2", "info": "P3"},
    IntegrationKind.GRAFANA: {"critical": "P1", "warning": "P2", "info": "P3"},
    IntegrationKind.PAGERDUTY: {"critical": "P1", "error": "P2", "warning": "P3", "info": "P3"},
    # Opsgenie's P1 is "critical", which is our P1 (P0 stays a human call: production down).
    IntegrationKind.OPSGENIE: {"p1": "P1", "p2": "P2", "p3": "P3", "p4": "P3", "p5": "P3"},
    IntegrationKind.GENERIC: {"critical": "P1", "error": "P2", "warning": "P2", "info": "P3"},
}


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def generate_token(kind: str) -> str:
    """A fresh secret. PagerDuty senders validate routing keys as 32 characters."""
    if kind == IntegrationKind.PAGERDUTY:
        return secrets.token_hex(16)
    return secrets.token_urlsafe(32)


class Integration(models.Model):
    """A named source of alerts of one kind. Its token is stored only as a SHA-256 hash."""

    name = models.CharField(max_length=120, unique=True)
    kind = models.CharField(max_length=16, choices=IntegrationKind.choices)
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    token_prefix = models.CharField(
        max_length=8, editable=False, help_text="First characters of the token, to recognise it."
    )
    service = models.ForeignKey(
        "incidents.Service",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="integrations",
        help_text="Incidents opened from this integration's alerts are on this service.",
    )
    severity = models.ForeignKey(
        "incidents.Severity",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name="default severity",
        help_text="Used when an alert has no severity or one the mapping does not know "
        "(empty: P2).",
    )
    severity_mapping = models.JSONField(
        default=dict,
        blank=True,
        help_text='Source severity -> our severity key, e.g. {"critical": "P1"}; '
        "overrides the defaults of the kind.",
    )
    enabled = models.BooleanField(default=True)
    rate_limit_per_second = models.PositiveIntegerField(
        default=100,
        help_text="Requests accepted per second, on average; 0 for no limit.",
    )
    rate_limit_burst = models.PositiveIntegerField(
        default=1000,
        help_text="Requests accepted at once above the average, saved up while quiet; "
        "0 for no limit.",
    )
    resolve_incident_on_alert_resolve = models.BooleanField(
        default=True,
        verbose_name="resolve incident when its alerts resolve",
        help_text="Resolve the incident once every alert attached to it has resolved.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    # Maintained by one UPDATE per request (F() expressions), read by the changelist.
    last_alert_at = models.DateTimeField(null=True, blank=True, editable=False)
    alert_count = models.PositiveBigIntegerField(default=0, editable=False)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_kind_display()})"

    def clean(self):
        super().clean()
        self._check_severity_mapping()

    def _check_severity_mapping(self) -> None:
        """Every mapped value must be one of our severity keys: an unknown one would open the
        alert's incident at the default severity (P2) instead, which may not page."""
        mapping = self.severity_mapping
        if not isinstance(mapping, dict):
            raise ValidationError(
                {"severity_mapping": 'An object is required, e.g. {"critical": "P1"}.'}
            )
        keys = list(Severity.objects.order_by("rank").values_list("key", flat=True))
        known = {key.lower() for key in keys}
        unknown = [
            f"{value!r} (for {source!r})"
            for source, value in mapping.items()
            if not isinstance(value, str) or value.lower() not in known
        ]
        if unknown:
            raise ValidationError(
                {
                    "severity_mapping": f"Unknown severity: {', '.join(unknown)}. "
                    f"Our severities are {', '.join(keys)}."
                }
            )

    def set_token(self, token: str) -> None:
        self.token_hash = hash_token(token)
        self.token_prefix = token[:8]

    @property
    def via(self) -> str:
        """How the timeline names this integration."""
        return f"{self.kind}: {self.name}"

    def effective_severity_mapping(self) -> dict[str, str]:
        mapping = dict(DEFAULT_SEVERITY_MAPPINGS.get(self.kind, {}))
        mapping.update({str(k).lower(): v for k, v in (self.severity_mapping or {}).items()})
        return mapping


class AlertQuerySet(models.QuerySet):
    def firing(self):
        return self.filter(status=AlertStatus.FIRING)


class Alert(models.Model):
    """One deduplicated signal. At most one firing alert per (integration, dedup key)."""

    integration = models.ForeignKey(Integration, on_delete=models.CASCADE, related_name="alerts")
    dedup_key = models.CharField(max_length=512)
    status = models.CharField(
        max_length=10, choices=AlertStatus.choices, default=AlertStatus.FIRING
    )
    summary = models.TextField()
    severity = models.CharField(max_length=64, blank=True, help_text="As the source sent it.")
    labels = models.JSONField(default=dict, blank=True)
    annotations = models.JSONField(default=dict, blank=True)
    source = models.CharField(max_length=255, blank=True)
    link = models.CharField(max_length=2048, blank=True)
    group_key = models.CharField(
        max_length=255, blank=True, help_text="Alertmanager's groupKey (hashed when long)."
    )
    first_seen_at = models.DateTimeField()
    last_seen_at = models.DateTimeField()
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    count = models.PositiveIntegerField(default=1)
    last_payload = models.JSONField(default=dict, blank=True)
    incident = models.ForeignKey(
        "incidents.Incident",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="alerts",
    )

    objects = AlertQuerySet.as_manager()

    class Meta:
        ordering = ["-last_seen_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["integration", "dedup_key"],
                condition=Q(status="firing"),
                name="alert_one_firing_per_key",
            ),
            models.CheckConstraint(
                condition=Q(status="firing", resolved_at__isnull=True)
                | Q(status="resolved", resolved_at__isnull=False),
                name="alert_resolved_at_iff_resolved",
            ),
        ]
        indexes = [
            models.Index(fields=["integration", "group_key"], name="alert_integration_group"),
            models.Index(fields=["dedup_key"], name="alert_dedup_key"),
        ]

    def __str__(self) -> str:
        return f"{self.summary[:80]} [{self.dedup_key[:16]}]"
