"""Addresses Tocsin sends to: a person's contact method, a team channel, a handoff channel."""

from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator, validate_email

from incidents.core import apprise_urls, outbound
from incidents.core.choices import ContactKind
from incidents.core.errors import DomainError

# A person is reached by these; Slack and Mattermost (with buttons) are channels of a team.
PERSON_KINDS = (ContactKind.EMAIL, ContactKind.WEBHOOK, ContactKind.APPRISE)
# Posted as JSON to an http(s) URL, checked the same way.
WEBHOOK_KINDS = (ContactKind.WEBHOOK, ContactKind.SLACK, ContactKind.MATTERMOST)


def check_contact_address(kind: str, address: str) -> None:
    """Refuse an unknown kind, an address that is not an email / an http(s) URL / an Apprise URL
    Apprise itself accepts, or a URL to a destination the outbound policy refuses (link-local,
    metadata, private unless allowed)."""
    if kind not in ContactKind.values:
        raise DomainError(
            f"Unknown kind {kind!r}: use {', '.join(ContactKind.values)}.", field="kind"
        )
    if kind == ContactKind.APPRISE:
        _check_apprise(address)
        return
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
    if kind in WEBHOOK_KINDS:
        try:
            outbound.check_address(address)
        except outbound.OutboundRefused as error:
            raise DomainError(f"Refused {kind} address: {error}", field="address") from error


def check_person_contact(kind: str, address: str) -> None:
    """`check_contact_address` for a person's own contact method: email, webhook or apprise."""
    if kind in ContactKind.values and kind not in PERSON_KINDS:
        raise DomainError(
            f"A person's contact method is email, webhook or apprise; {kind} (with buttons) is "
            "for team channels and handoff channels.",
            field="kind",
        )
    check_contact_address(kind, address)


def _check_apprise(address: str) -> None:
    try:
        service = apprise_urls.parse(address)
    except apprise_urls.AppriseUrlError as error:
        raise DomainError(str(error), field="address") from error
    url = apprise_urls.host_url(service)
    if url is None:
        return
    try:
        outbound.check_address(url)
    except (outbound.OutboundRefused, ValueError) as error:
        message = apprise_urls.scrub(str(error), address, service)
        raise DomainError(f"Refused apprise address: {message}", field="address") from error


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
