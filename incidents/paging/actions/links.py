"""Signed action links: every page carries one per thing its person may do (issue 13).

A link is `{TOCSIN_BASE_URL}/act/<token>`. The token is Django's signing (salt
"tocsin.action-link") over a compact list: the person (user pk), the incident, the action, the
link id and the time it was issued. The link id comes from the notification's dedup key and the
action, so the same message always carries the same link, and `ActionLinkUse` records it once
used: a link acts at most once. A link expires when its incident resolves or
TOCSIN_ACTION_LINK_MAX_AGE_SECONDS after it was issued.

Reading a token (`read`) checks the signature and the age before anything else and touches no
database, so a flood of made-up links costs an HMAC each. Acting (`link_act`) asks `perform`,
with the person's permissions as they are at the moment of the click.
"""

import base64
import hashlib
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core import signing
from django.db import IntegrityError, transaction
from django.urls import reverse

from incidents.core.choices import IncidentStatus
from incidents.core.formatting import format_time, person_name
from incidents.models import ActionLinkUse, Incident, Notification
from incidents.paging.actions import perform as actions
from incidents.paging.actions.perform import Outcome, Verb

SALT = "tocsin.action-link"
ACT_PATH = "/act/"

# One letter per action in the token keeps it short enough for an SMS.
_CODES = {Verb.ACKNOWLEDGE: "a", Verb.RESOLVE: "r", Verb.ESCALATE: "e"}
_VERBS = {code: verb for verb, code in _CODES.items()}

# The order a page lists its links in.
ORDER = (Verb.ACKNOWLEDGE, Verb.RESOLVE, Verb.ESCALATE)

# Actions that only make sense while nobody has acknowledged yet.
_WHILE_TRIGGERED = frozenset({Verb.ACKNOWLEDGE, Verb.ESCALATE})


class LinkError(Exception):
    """A link that will not act: `status_code` and `message` are what its page answers."""

    status_code = 400

    def __init__(self, message: str, *, incident_id: int | None = None):
        super().__init__(message)
        self.message = message
        self.incident_id = incident_id


class LinkTampered(LinkError):
    status_code = 400


class LinkGone(LinkError):
    """Used, expired, or its incident resolved: it was a good link once (410 Gone)."""

    status_code = 410


class LinkRefused(LinkError):
    """The person may not (any more), or their account is inactive (403)."""

    status_code = 403


class LinkNotFound(LinkError):
    status_code = 404


@dataclass(frozen=True)
class Link:
    user_id: int
    incident_id: int
    verb: Verb
    link_id: str
    issued_at: int  # Unix seconds

    @property
    def expires_at(self) -> int:
        return self.issued_at + max_age()


def max_age() -> int:
    return settings.TOCSIN_ACTION_LINK_MAX_AGE_SECONDS


def link_id_for(dedup_key: str, verb: Verb | str) -> str:
    """The id of a message's link for `verb`: the same every time the message is made."""
    digest = hashlib.sha256(f"{SALT}:{dedup_key}:{Verb(verb)}".encode()).digest()
    return base64.urlsafe_b64encode(digest[:12]).decode()


def make_token(
    *, user_id: int, incident_id: int, verb: Verb | str, link_id: str, issued_at: int | None = None
) -> str:
    issued = int(time.time()) if issued_at is None else int(issued_at)
    payload = [user_id, incident_id, _CODES[Verb(verb)], link_id, issued]
    return signing.Signer(salt=SALT).sign_object(payload, compress=True)


def url_for(token: str) -> str:
    return settings.TOCSIN_BASE_URL + ACT_PATH + token


def open_url(incident_id: int) -> str:
    """The incident's admin page (what an "open" link is)."""
    return settings.TOCSIN_BASE_URL + reverse("admin:incidents_incident_change", args=[incident_id])


def read(token: str, *, now: float | None = None) -> Link:
    """The link a token names. Raises LinkTampered (bad signature or shape) or LinkGone (too
    old). Touches no database: the signature is checked first."""
    if len(token) > 400:
        raise LinkTampered("This link is not a Tocsin action link, or it was changed.")
    try:
        payload = signing.Signer(salt=SALT).unsign_object(token)
        user_id, incident_id, code, link_id, issued = payload
        link = Link(int(user_id), int(incident_id), _VERBS[code], str(link_id), int(issued))
    except (signing.BadSignature, ValueError, TypeError, KeyError) as exc:
        raise LinkTampered("This link is not a Tocsin action link, or it was changed.") from exc
    now = time.time() if now is None else now
    if now > link.expires_at:
        raise LinkGone(
            f"This link expired at {_stamp(link.expires_at)}: links act for "
            f"{_hours(max_age())} after the page. Open the incident to act on it.",
            incident_id=link.incident_id,
        )
    return link


def _stamp(seconds: int) -> str:
    return format_time(datetime.fromtimestamp(seconds, tz=UTC))


def _hours(seconds: int) -> str:
    if seconds % 3600 == 0:
        hours = seconds // 3600
        return f"{hours} hour" + ("" if hours == 1 else "s")
    return f"{seconds} seconds"


# --- making the links of a message -------------------------------------------------------------


def links_for(notification: Notification, shared: dict | None = None) -> dict[str, str]:
    """The links a message carries: "open" (the incident's admin page) always, and one signed
    link per action its person may take now (none for a team channel, none for a Viewer).

    `shared` (one dict per batch of rows) keeps each person's permissions and each incident's
    URL from being looked up once per row.
    """
    if notification.incident_id is None:
        return {}
    shared = {} if shared is None else shared
    open_key = ("act-open", notification.incident_id)
    if open_key not in shared:
        shared[open_key] = open_url(notification.incident_id)
    found = {"open": shared[open_key]}
    user = notification.user
    if user is None:
        return found
    incident = notification.incident
    may_key = ("act-may", user.pk)
    if may_key not in shared:
        shared[may_key] = [verb for verb in ORDER if actions.may(user, verb, incident)]
    issued = shared.setdefault("act-issued", int(time.time()))
    for verb in shared[may_key]:
        if verb in _WHILE_TRIGGERED and incident.status != IncidentStatus.TRIGGERED:
            continue
        token = make_token(
            user_id=user.pk,
            incident_id=notification.incident_id,
            verb=verb,
            link_id=link_id_for(notification.dedup_key, verb),
            issued_at=issued,
        )
        found[str(verb)] = url_for(token)
    return found


# --- following a link --------------------------------------------------------------------------


def _used_message(use: ActionLinkUse, incident: Incident) -> str:
    when = format_time(use.used_at)
    return f"This link was used already, at {when}: it acts once. {incident.reference} is " + (
        f"{incident.get_status_display().lower()} now."
    )


def link_target(link: Link):
    """(person, incident) of a link that may act now; else raises the LinkError to show."""
    incident = Incident.objects.select_related("severity").filter(pk=link.incident_id).first()
    if incident is None:
        raise LinkNotFound("This incident no longer exists.")
    user = get_user_model().objects.filter(pk=link.user_id).first()
    if user is None or not user.is_active:
        raise LinkRefused(
            "The account this link was made for is not active: it no longer acts.",
            incident_id=incident.pk,
        )
    use = ActionLinkUse.objects.filter(link_id=link.link_id).first()
    if use is not None:
        raise LinkGone(_used_message(use, incident), incident_id=incident.pk)
    if incident.status == IncidentStatus.RESOLVED:
        raise LinkGone(
            f"{incident.reference} is resolved: its page links no longer act.",
            incident_id=incident.pk,
        )
    if not actions.may(user, link.verb, incident):
        raise LinkRefused(
            f"{person_name(user)} may no longer {link.verb} incidents, so this link does "
            "nothing. Ask an administrator if that is wrong.",
            incident_id=incident.pk,
        )
    return user, incident


@transaction.atomic
def link_act(*, link: Link) -> Outcome:
    """Take the link's action as its person, with their permissions now, and record the use
    in the same transaction: a link acts at most once. A link whose action finds nothing to do
    (someone else acknowledged first) is not used up. Raises LinkError, or what `perform`
    raises (NotAllowed, DomainError), and then nothing changed."""
    user, incident = link_target(link)
    try:
        with transaction.atomic():
            # First, so that two clicks at once serialize on the unique link id.
            ActionLinkUse.objects.create(
                link_id=link.link_id, action=str(link.verb), user=user, incident=incident
            )
    except IntegrityError as exc:
        raise LinkGone(
            "This link was used already: it acts once.", incident_id=incident.pk
        ) from exc
    outcome = actions.perform(user=user, incident=incident, verb=link.verb, via=actions.VIA_LINK)
    if not outcome.changed:
        transaction.set_rollback(True)
    return outcome
