"""Creating integrations and rotating their tokens. The plain token leaves only as a return value."""

from django.db import transaction

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
    rate_limit_per_minute: int | None = None,
) -> tuple[Integration, str]:
    """Create an integration; returns it and its token, which is stored only hashed."""
    integration = Integration(
        name=name, kind=IntegrationKind(kind), service=service, severity=severity
    )
    if rate_limit_per_minute is not None:
        integration.rate_limit_per_minute = rate_limit_per_minute
    token = integration_issue_token(integration=integration)
    integration.full_clean()
    integration.save()
    return integration, token


@transaction.atomic
def integration_rotate_token(*, integration: Integration) -> str:
    """Replace the token; the old one stops working at commit. Returns the new token."""
    integration = Integration.objects.select_for_update().get(pk=integration.pk)
    token = generate_token(integration.kind)
    integration.set_token(token)
    integration.save(update_fields=["token_hash", "token_prefix"])
    return token
