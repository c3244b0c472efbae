"""Credentials never reach a stored payload.

Senders put secrets in what they post: PagerDuty's `routing_key` is the integration token
itself, and forwarded headers or details carry `Authorization: GenieKey …` or `Bearer …`.
The alert's last payload is shown to staff, so these are masked before it is stored.
"""

import re
from typing import Any

REDACTED = "[redacted]"

# Compared lower-cased, without "-", "_" and spaces: routing_key, routingKey, X-Api-Key ...
_CREDENTIAL_KEYS = frozenset(
    {
        "routingkey",
        "integrationkey",
        "servicekey",
        "authorization",
        "proxyauthorization",
        "geniekey",
        "apikey",
        "xapikey",
        "token",
        "accesstoken",
        "password",
        "secret",
    }
)
_SEPARATORS = re.compile(r"[-_\s]")
# An authorization scheme followed by something long enough to be a credential.
_SCHEME_CREDENTIAL = re.compile(
    r"\b(GenieKey|Bearer|Basic|Token)(\s+)[A-Za-z0-9._~+/=:-]{16,}", re.IGNORECASE
)


def _is_credential_key(key: Any) -> bool:
    return _SEPARATORS.sub("", str(key)).lower() in _CREDENTIAL_KEYS


def without_credentials(value: Any) -> Any:
    """`value` (parsed JSON) with credential-named fields and scheme-prefixed secrets masked.

    Recursive: parsed bodies nest at most MAX_JSON_DEPTH levels.
    """
    if isinstance(value, dict):
        return {
            key: REDACTED
            if _is_credential_key(key) and item not in (None, "")
            else without_credentials(item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [without_credentials(item) for item in value]
    if isinstance(value, str) and _SCHEME_CREDENTIAL.search(value):
        return _SCHEME_CREDENTIAL.sub(rf"\1\2{REDACTED}", value)
    return value
