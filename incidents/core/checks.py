"""System checks of Tocsin's own settings."""

from django.conf import settings
from django.core.checks import Error, Info, Tags, register


@register(Tags.security, deploy=True)
def secret_key_is_set(app_configs, **kwargs):
    if getattr(settings, "TOCSIN_SECRET_KEY_MISSING", False):
        return [
            Error(
                "SECRET_KEY is not set.",
                hint="Set SECRET_KEY in the environment or .env (or DEBUG=True for local runs).",
                id="tocsin.E001",
            )
        ]
    return []


@register()
def default_escalation_policy_is_set(app_configs, **kwargs):
    """Without a default policy, a paging incident that no service or route covers (an alert
    from an integration without a service) pages nobody. INFO, not a warning: a fresh
    database has none, and `check --deploy --fail-level WARNING` must pass on it."""
    from django.db import DatabaseError

    from incidents.models import EscalationPolicy

    try:
        has_default = EscalationPolicy.objects.filter(is_default=True).exists()
    except DatabaseError:  # not migrated yet
        return []
    if has_default:
        return []
    return [
        Info(
            "No default escalation policy is set: a paging incident that no service or "
            "severity route covers pages nobody.",
            hint="Tick 'default policy' on an escalation policy in the admin, or create one "
            'with "default": true in the API.',
            id="tocsin.I001",
        )
    ]
