"""Addresses Tocsin sends to: a person's contact method, a team channel, a handoff channel."""

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator, validate_email

from incidents.choices import ContactKind
from incidents.errors import DomainError


def check_contact_address(kind: str, address: str) -> None:
    """Refuse an unknown kind, or an address that is not an email / an http(s) URL."""
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
