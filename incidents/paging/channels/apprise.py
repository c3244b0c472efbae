"""Apprise channels: push, SMS and chat through any service Apprise knows (ntfy, Gotify, Pushover,
Telegram, Signal, Matrix, Teams, Twilio, json:// ...).

Apprise builds its own requests, so these messages carry no Standard Webhooks signature (our own
webhook kind does). A send is bounded like every other: Apprise's own connect and read timeouts
(`cto`/`rto`) are set from the deadline (at most a second past it), and the send runs in a daemon thread that the delivery
worker waits for at most the total deadline; past it the worker records "no answer" and moves on
(the thread ends when its socket times out). The host the URL names, if any, must pass the
outbound policy again at each send. A failure is a `DeliveryError` carrying what Apprise logged
(the provider's answer), with every secret of the URL masked.
"""

import logging
import threading

from django.conf import settings

from incidents.core import apprise_urls, outbound
from incidents.paging.channels.webhook import DeliveryError, deadline_seconds

logger = logging.getLogger(__name__)

NTFY_SCHEMES = frozenset({"ntfy", "ntfys"})
PUSHOVER_SCHEMES = frozenset({"pover"})
# ntfy shows at most three action buttons.
ACTION_LABELS = (("acknowledge", "Acknowledge"), ("resolve", "Resolve"), ("escalate", "Escalate"))


def _ntfy_value(url: str) -> str:
    # ntfy's short action format separates fields with "," and actions with ";".
    return url.replace(",", "%2C").replace(";", "%3B")


def link_fields(url: str, links: dict) -> dict:
    """The service's own click and action fields for `links` (action -> URL), as Apprise URL
    arguments; the user's own arguments in the URL win."""
    name = apprise_urls.scheme(url)
    links = {k: v for k, v in (links or {}).items() if isinstance(v, str) and v}
    if not links:
        return {}
    if name in NTFY_SCHEMES:
        fields = {}
        if links.get("open"):
            fields["click"] = links["open"]
        actions = [
            f"view, {label}, {_ntfy_value(links[action])}"
            for action, label in ACTION_LABELS
            if links.get(action)
        ]
        if actions:
            fields["actions"] = "; ".join(actions)
        return fields
    if name in PUSHOVER_SCHEMES:
        for action, title in (("acknowledge", "Acknowledge"), ("open", "Open the incident")):
            if links.get(action):
                return {"supplemental_url": links[action], "supplemental_url_title": title}
    return {}


def _given(url: str) -> set[str]:
    """The argument names the URL sets itself (`?click=...`)."""
    query = url.partition("?")[2]
    return {part.partition("=")[0].lower() for part in query.split("&") if part}


def _service(url: str, links: dict, per_read: float):
    own = _given(url)
    extra = {
        k: v
        for k, v in link_fields(url, links).items()
        if k not in own and k.removeprefix("supplemental_") not in own
    }
    try:
        service = apprise_urls.parse(url, **extra)
    except apprise_urls.AppriseUrlError as error:
        raise DeliveryError(str(error)) from None
    service.socket_connect_timeout = min(service.socket_connect_timeout, per_read)
    service.socket_read_timeout = min(service.socket_read_timeout, per_read)
    # The outbox retries with its own backoff: one try per attempt.
    service.retry = 0
    return service


def _check_host(url: str, service) -> None:
    """The outbound policy, on what the host resolves to now. Apprise connects by itself, so
    this checks the addresses right before the send (the webhook kind pins the vetted one)."""
    where = apprise_urls.host_url(service)
    if where is None:
        return
    try:
        outbound.vet(where)
    except (outbound.OutboundRefused, ValueError) as error:
        raise DeliveryError(
            f"refused destination: {apprise_urls.scrub(str(error), url, service)}"
        ) from None


def send_apprise(
    url: str, *, title: str, body: str, links: dict | None = None, deadline: float | None = None
) -> None:
    """Send one message to the Apprise URL `url` within `deadline` seconds (default: the send
    deadline); raises DeliveryError with the provider's answer (secrets masked) on failure."""
    limit = deadline if deadline is not None else deadline_seconds()
    # The wait below cuts the send at the deadline; the socket timeouts end the thread itself
    # soon after (at most a second past it), so a hung provider leaves no thread for long.
    per_read = min(settings.TOCSIN_WEBHOOK_TIMEOUT_SECONDS, limit + 1)
    service = _service(url, links or {}, per_read)
    _check_host(url, service)
    outcome: dict = {}

    def run():
        with apprise_urls.capture_log() as problems:
            try:
                outcome["sent"] = bool(service.notify(body=body, title=title))
            except Exception as error:  # a plugin's bug is a failed send, not a dead thread
                outcome["sent"] = False
                problems.append(f"{error.__class__.__name__}: {error}")
        outcome["problems"] = list(problems)

    worker = threading.Thread(target=run, name="apprise-send", daemon=True)
    worker.start()
    worker.join(limit)
    if worker.is_alive():
        raise DeliveryError(f"no answer within the {limit:g} s send deadline")
    if not outcome.get("sent"):
        said = " ".join(dict.fromkeys(outcome.get("problems") or [])) or "the service refused it"
        message = apprise_urls.scrub(said, url, service)
        raise DeliveryError(f"{apprise_urls.scheme(url)}:// {message}"[:1000])
