"""Addresses Tocsin sends to: a person's contact method, a team channel, a handoff channel."""

from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator, validate_email

from incidents.core import outbound
from incidents.core.choices import ContactKind
from incidents.core.errors import DomainError


def check_contact_address(kind: str, address: str) -> None:
    """Refuse an unknown kind, an address that is not an email / an http(s) URL, or a URL to a
    destination the outbound policy refuses (link-local, metadata, private unless allowed)."""
    if kind not in ContactKind.values:
        raise DomainError(f"Unknown kind {kind!r}: use email or webhook.", field="kind")
    try:
        if kind == ContactKind.EMAIL:
            validate_email(address)
        else:
            URLValidator(schemes=["http", "https"])(address)
    except ValidationError as error:
        what = "an email address" if kind == ContactKind.EMAIL else "an http(s) URL"
        raise DomainError(
            f"Invalid {kind} address {address!r}: expected {what}.", field="address"
        ) from error
    if kind in (ContactKind.WEBHOOK, ContactKind.SLACK, ContactKind.MATTERMOST):
        try:
            outbound.check_address(address)
        except outbound.OutboundRefused as error:
            raise DomainError(f"Refused webhook address: {error}", field="address") from error


MASK = "••••"


def mask_address(address: str) -> str:
    """What staff see of a saved address: a webhook URL is its credential, so only the scheme
    and host of an http(s) URL show (of another scheme, only the scheme: its "host" is often the
    token); of an email address, the first letter and the domain."""
    if "://" in address:
        parts = urlsplit(address)
        if parts.scheme in ("http", "https") and parts.hostname:
            host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
            shown = f"{parts.scheme}://{host}"
            if parts.port:
                shown += f":{parts.port}"
            return f"{shown}/…/{MASK}"
        return f"{parts.scheme}://{MASK}"
    local, at, domain = address.partition("@")
    if at:
        return f"{local[:1]}{MASK}@{domain}"
    return MASK
