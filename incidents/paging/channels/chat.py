"""Slack and Mattermost incoming webhooks: page messages with Acknowledge / Resolve / Escalate.

A page to a `slack` address posts a Block Kit message: a section with the incident (reference,
title, severity, status, services, the link to open it) and an actions block whose buttons
carry `action_id` acknowledge / resolve / escalate and the incident id as `value`; a click comes
back to `/chat/slack/interactions`. A page to a `mattermost` address posts a message attachment
whose actions point at `/chat/mattermost/actions`, each with a context carrying a token we sign
(the incident and the action): that token is how a click is verified.

Every other message to these kinds (a handoff, a reminder, a resolved notice) is plain text.
A `chat` row (the update after a click) goes to Slack's `response_url` and replaces the message.
Sends go through the outbound policy within the total deadline and carry the Standard Webhooks
headers, as every webhook does.
"""

import asyncio
import json
import time

import httpx
from django.conf import settings
from django.core import signing

from incidents.core.choices import ContactKind, IncidentStatus
from incidents.core.texts import slack_escape
from incidents.models import Incident, Notification, NotificationReason
from incidents.paging.channels import webhook

ACTIONS = ("acknowledge", "resolve", "escalate")
BUTTON_TEXT = {"acknowledge": "Acknowledge", "resolve": "Resolve", "escalate": "Escalate"}
BUTTON_STYLE = {"acknowledge": "primary", "resolve": "primary", "escalate": "danger"}
MATTERMOST_SALT = "tocsin.chat.mattermost-action"
# A chat row answering only the person who clicked (a refusal) rather than updating the message.
ANSWER_SUBJECT = "Answer to the person who clicked"
UPDATE_SUBJECT = "Message updated after a click"


def _services(incident: Incident) -> str:
    return ", ".join(s.name for s in incident.services.all())


def _open_url(incident: Incident) -> str:
    from incidents.paging.outbox import admin_url

    return admin_url(incident)


def _buttons_for(incident: Incident) -> tuple[str, ...]:
    """The buttons still useful: none once resolved, no Acknowledge/Escalate once acknowledged."""
    if incident.status == IncidentStatus.RESOLVED:
        return ()
    if incident.status == IncidentStatus.TRIGGERED:
        return ACTIONS
    return ("resolve",)


def headline(incident: Incident) -> str:
    return f"{incident.reference}: {incident.title}"


def summary_text(incident: Incident) -> str:
    """The incident in plain text, one fact a line."""
    lines = [
        headline(incident),
        f"Severity: {incident.severity.key} {incident.severity.name}",
        f"Status: {incident.get_status_display()}",
    ]
    services = _services(incident)
    if services:
        lines.append(f"Service: {services}")
    lines.append(f"Open: {_open_url(incident)}")
    return "\n".join(lines)


# --- Slack -------------------------------------------------------------------------------------


def slack_blocks(incident: Incident, *, note: str = "") -> list[dict]:
    """Block Kit for a page: the incident, `note` (who did what, plain text) and the buttons."""
    url = _open_url(incident)
    fields = [
        f"*<{url}|{slack_escape(incident.reference)}>* {slack_escape(incident.title)}",
        f"*Severity:* {slack_escape(incident.severity.key)} {slack_escape(incident.severity.name)}"
        f"   *Status:* {slack_escape(incident.get_status_display())}",
    ]
    services = _services(incident)
    if services:
        fields.append(f"*Service:* {slack_escape(services)}")
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(fields)}}]
    if note:
        blocks.append(
            {"type": "context", "elements": [{"type": "plain_text", "text": note[:2000]}]}
        )
    buttons = [
        {
            "type": "button",
            "action_id": action,
            "text": {"type": "plain_text", "text": BUTTON_TEXT[action]},
            "value": str(incident.pk),
            "style": BUTTON_STYLE[action],
        }
        for action in _buttons_for(incident)
    ]
    buttons.append(
        {
            "type": "button",
            "action_id": "open",
            "text": {"type": "plain_text", "text": "Open"},
            "url": url,
        }
    )
    blocks.append({"type": "actions", "block_id": f"incident-{incident.pk}", "elements": buttons})
    return blocks


def slack_page(incident: Incident, *, intro: str = "") -> dict:
    text = f"{intro}\n{summary_text(incident)}" if intro else summary_text(incident)
    blocks = slack_blocks(incident)
    if intro:
        blocks.insert(0, {"type": "section", "text": {"type": "plain_text", "text": intro[:2900]}})
    return {"text": slack_escape(text), "blocks": blocks}


# --- Mattermost --------------------------------------------------------------------------------


def action_token(incident_id: int, action: str) -> str:
    """The token a Mattermost button's context carries: signed by us, bound to both."""
    return signing.dumps({"incident": int(incident_id), "action": action}, salt=MATTERMOST_SALT)


def read_action_token(token: str, *, incident_id, action: str) -> bool:
    """True when `token` is ours and names this incident and this action."""
    try:
        signed = signing.loads(str(token), salt=MATTERMOST_SALT)
    except signing.BadSignature:
        return False
    return (
        isinstance(signed, dict)
        and str(signed.get("incident")) == str(incident_id)
        and signed.get("action") == action
    )


COLORS = {IncidentStatus.TRIGGERED: "#d72b3f", IncidentStatus.RESOLVED: "#2e7d32"}


def mattermost_attachment(incident: Incident, *, note: str = "") -> dict:
    url = settings.TOCSIN_BASE_URL + "/chat/mattermost/actions"
    lines = [
        f"Severity: {incident.severity.key} {incident.severity.name}",
        f"Status: {incident.get_status_display()}",
    ]
    services = _services(incident)
    if services:
        lines.append(f"Service: {services}")
    lines.append(f"Open: {_open_url(incident)}")
    if note:
        lines.append(note)
    return {
        "fallback": headline(incident),
        "color": COLORS.get(incident.status, "#f5a623"),
        "title": headline(incident),
        "title_link": _open_url(incident),
        "text": "\n".join(lines),
        "actions": [
            {
                "id": action,
                "name": BUTTON_TEXT[action],
                "type": "button",
                "style": BUTTON_STYLE[action],
                "integration": {
                    "url": url,
                    "context": {
                        "action": action,
                        "incident": incident.pk,
                        "token": action_token(incident.pk, action),
                    },
                },
            }
            for action in _buttons_for(incident)
        ],
    }


def mattermost_page(incident: Incident, *, intro: str = "") -> dict:
    return {
        "text": intro or f"{incident.reference} needs you",
        "attachments": [mattermost_attachment(incident)],
    }


# --- sending -----------------------------------------------------------------------------------


def post_json(url: str, payload: dict, *, message_id: str, deadline: float | None = None) -> None:
    """POST `payload` as JSON to `url` under the outbound policy, within the total deadline,
    with the Standard Webhooks headers (as `webhook.post_webhook` does for plain text)."""
    body = json.dumps(payload)
    headers = {
        "Content-Type": "application/json",
        **webhook.signature_headers(message_id=message_id, body=body),
    }
    limit = deadline if deadline is not None else webhook.deadline_seconds()
    per_read = min(settings.TOCSIN_WEBHOOK_TIMEOUT_SECONDS, limit)
    try:
        asyncio.run(
            webhook._within(limit, webhook._post(httpx.URL(url), body.encode(), headers, per_read))
        )
    except TimeoutError:
        raise webhook.DeliveryError(
            f"no complete answer within the {limit:g} s send deadline"
        ) from None


def payload_for(notification: Notification, subject: str, body: str) -> dict:
    """What one outbox row posts to a Slack or Mattermost address."""
    incident = notification.incident
    slack = notification.kind == ContactKind.SLACK
    if notification.reason == NotificationReason.CHAT:
        if notification.subject == ANSWER_SUBJECT or incident is None:
            return {"response_type": "ephemeral", "replace_original": False, "text": body}
        return {
            "replace_original": True,
            "text": slack_escape(f"{body}\n{summary_text(incident)}"),
            "blocks": slack_blocks(incident, note=body),
        }
    paging = notification.reason in (NotificationReason.PAGE, NotificationReason.DIRECT)
    if paging and incident is not None:
        intro = f"{incident.reference} ({incident.severity.key}) needs someone."
        return (
            slack_page(incident, intro=intro) if slack else mattermost_page(incident, intro=intro)
        )
    # A handoff is its own text; everything else leads with its subject.
    text = body if notification.reason == NotificationReason.HANDOFF else f"{subject}\n{body}"
    return {"text": slack_escape(text) if slack else text}


def send(notification: Notification, subject: str, body: str) -> None:
    """Post one outbox row of kind slack or mattermost (or a chat update); raises on failure."""
    post_json(
        notification.address,
        payload_for(notification, subject, body),
        message_id=notification.delivery_id or f"msg_{time.time_ns():x}",
    )
