"""Creating integrations and rotating their tokens. The plain token leaves only as a return value."""

from django.conf import settings
from django.db import transaction
from django.urls import reverse

from incidents.core.audit import audit_added, audit_changed, config_delete, config_save, snapshot
from incidents.models import Integration, Service, Severity
from incidents.models.alert import DEFAULT_SEVERITY_MAPPINGS, IntegrationKind, generate_token


def integration_issue_token(*, integration: Integration) -> str:
    """Give a new, unsaved integration its token, and its kind's severity mapping if it has none.

    Returns the token: the caller shows it once; only its hash is stored.
    """
    token = generate_token(integration.kind)
    integration.set_token(token)
    if not integration.severity_mapping:
        integration.severity_mapping = dict(DEFAULT_SEVERITY_MAPPINGS[integration.kind])
    return token


@transaction.atomic
def integration_create(
    *,
    name: str,
    kind: str,
    service: Service | None = None,
    severity: Severity | None = None,
    rate_limit_per_second: int | None = None,
    rate_limit_burst: int | None = None,
    severity_mapping: dict[str, str] | None = None,
    enabled: bool = True,
    resolve_incident_on_alert_resolve: bool = True,
    actor=None,
) -> tuple[Integration, str]:
    """Create an integration; returns it and its token, which is stored only hashed.

    Without a `severity_mapping` it gets its kind's defaults. Raises ValidationError (the
    fields named) for a taken name or a mapping to a severity we do not have.
    """
    integration = Integration(
        name=name,
        kind=IntegrationKind(kind),
        service=service,
        severity=severity,
        severity_mapping=dict(severity_mapping or {}),
        enabled=enabled,
        resolve_incident_on_alert_resolve=resolve_incident_on_alert_resolve,
    )
    if rate_limit_per_second is not None:
        integration.rate_limit_per_second = rate_limit_per_second
    if rate_limit_burst is not None:
        integration.rate_limit_burst = rate_limit_burst
    token = integration_issue_token(integration=integration)
    integration.full_clean()
    integration.save()
    audit_added(actor=actor, obj=integration)
    return integration, token


# Where each kind posts, by URL name.
_ENDPOINTS = {
    IntegrationKind.ALERTMANAGER: "api:ingest-alertmanager",
    IntegrationKind.GRAFANA: "api:ingest-grafana",
    IntegrationKind.GENERIC: "api:ingest-generic",
    IntegrationKind.PAGERDUTY: "pagerduty-enqueue",
    IntegrationKind.OPSGENIE: "opsgenie-create",
}


def integration_endpoint(integration: Integration) -> str:
    """The absolute URL its sender posts to (built from TOCSIN_BASE_URL)."""
    return settings.TOCSIN_BASE_URL + reverse(_ENDPOINTS[IntegrationKind(integration.kind)])


@transaction.atomic
def integration_rotate_token(*, integration: Integration, actor=None) -> str:
    """Replace the token; the old one stops working at commit. Returns the new token."""
    integration = Integration.objects.select_for_update().get(pk=integration.pk)
    before = snapshot(integration)
    token = generate_token(integration.kind)
    integration.set_token(token)
    integration.save(update_fields=["token_hash", "token_prefix"])
    audit_changed(actor=actor, obj=integration, before=before, note="Rotated the token.")
    return token


@transaction.atomic
def integration_save(*, integration: Integration, actor) -> str | None:
    """Save an integration edited as a whole (the admin's form): a new one gets its token,
    which is returned (the only time it is seen); an existing one returns None."""
    token = None
    if integration.pk is None:
        token = integration_issue_token(integration=integration)
    config_save(obj=integration, actor=actor)
    return token


def integration_delete(*, integration: Integration, actor) -> None:
    """Remove an integration: its token stops working; its alerts stay, without it."""
    config_delete(obj=integration, actor=actor)
