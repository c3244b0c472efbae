"""System checks of Tocsin's own settings."""

from django.conf import settings
from django.core.checks import Error, Tags, register


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
