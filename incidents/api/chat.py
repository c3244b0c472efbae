"""Slack and Mattermost endpoints: slash commands and button clicks (plain Django views).

Nothing is read before the request is verified: Slack's by its signing secret (v0 HMAC-SHA256
of `v0:timestamp:body` over the raw body, at most 5 minutes old, checked by slack_sdk's
verifier), a Mattermost command by its token (one of MATTERMOST_TOKENS), a Mattermost button by
the token we signed into its context. Anything unverified answers 401 and changes nothing; a
body too large answers 413, a malformed one 400. The work is `incidents.paging.actions.chat`.
"""

import hmac
import json
import logging
import uuid
from urllib.parse import parse_qs

from django.conf import settings
from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from slack_sdk.signature import SignatureVerifier

from incidents.core import outbound
from incidents.core.choices import ChatProvider, ContactKind
from incidents.models import NotificationReason
from incidents.paging import outbox
from incidents.paging.actions import chat
from incidents.paging.channels import chat as chat_channel

logger = logging.getLogger(__name__)

MAX_BODY = 64 * 1024


class Refused(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


def _error(status: int, message: str) -> JsonResponse:
    return JsonResponse({"detail": message}, status=status)


def _raw_body(request) -> bytes:
    try:
        declared = int(request.headers.get("Content-Length") or 0)
    except ValueError:
        raise Refused(400, "Content-Length is not a number.") from None
    if declared > MAX_BODY:
        raise Refused(413, f"The body is larger than {MAX_BODY} bytes.")
    body = request.read(MAX_BODY + 1)
    if len(body) > MAX_BODY:
        raise Refused(413, f"The body is larger than {MAX_BODY} bytes.")
    return body


def _form(body: bytes) -> dict[str, str]:
    try:
        text = body.decode("utf-8")
        fields = parse_qs(text, keep_blank_values=True, strict_parsing=bool(text))
    except (UnicodeDecodeError, ValueError):
        raise Refused(400, "The body is not a form (application/x-www-form-urlencoded).") from None
    return {name: values[0] for name, values in fields.items()}


def _answer(answer: chat.Answer) -> JsonResponse:
    """Slack's and Mattermost's slash-command answer."""
    data = {
        "response_type": "in_channel" if answer.in_channel else "ephemeral",
        "text": answer.text,
    }
    if answer.blocks:
        data["blocks"] = answer.blocks
    return JsonResponse(data)


def _guarded(view):
    """POST only, no CSRF (these are signed machine requests), refusals as JSON, never a 500
    for bad input."""

    @csrf_exempt
    @require_POST
    def wrapper(request):
        try:
            return view(request)
        except Refused as refused:
            return _error(refused.status, refused.message)

    wrapper.__name__ = view.__name__
    wrapper.__doc__ = view.__doc__
    return wrapper


# --- Slack -------------------------------------------------------------------------------------


def _slack_verified(request, body: bytes) -> None:
    secret = settings.SLACK_SIGNING_SECRET
    if not secret or not secret.strip():
        raise Refused(401, "Slack requests are refused: SLACK_SIGNING_SECRET is not set.")
    timestamp = request.headers.get("X-Slack-Request-Timestamp")
    signature = request.headers.get("X-Slack-Signature")
    try:
        valid = SignatureVerifier(secret).is_valid(
            body=body.decode("utf-8"), timestamp=timestamp, signature=signature
        )
    except (UnicodeDecodeError, ValueError):
        valid = False
    if not valid:
        raise Refused(401, "The Slack signature is missing, wrong or too old.")


@_guarded
def slack_commands(request):
    """A Slack slash command (`/tocsin ...`)."""
    body = _raw_body(request)
    _slack_verified(request, body)
    form = _form(body)
    user_id = form.get("user_id", "").strip()
    if not user_id:
        raise Refused(400, "user_id: this field is required.")
    return _answer(
        chat.run_command(
            provider=ChatProvider.SLACK,
            external_id=user_id,
            text=form.get("text", ""),
            command=form.get("command", "/tocsin"),
        )
    )


def _queue_update(*, response_url: str, answer: chat.Answer, user_id: str) -> None:
    """Tell Slack through the click's `response_url`, by the outbox: the message updated to say
    who did it, or (a refusal) a note to the clicker alone."""
    try:
        outbound.check_address(response_url)
    except outbound.OutboundRefused as refused:
        logger.warning("Slack response_url refused: %s", refused)
        return
    update = answer.changed and answer.incident is not None
    outbox.message(
        key=f"chat:slack:{uuid.uuid4().hex}",
        reason=NotificationReason.CHAT,
        kind=ContactKind.SLACK,
        address=response_url,
        recipient=f"Slack {user_id}",
        subject=chat_channel.UPDATE_SUBJECT if update else chat_channel.ANSWER_SUBJECT,
        body=answer.text,
        incident=answer.incident,
    )


@_guarded
def slack_interactions(request):
    """A click on a button of a page message (`block_actions`)."""
    body = _raw_body(request)
    _slack_verified(request, body)
    form = _form(body)
    try:
        payload = json.loads(form.get("payload", ""))
    except ValueError:
        raise Refused(400, "payload: expected the interaction as JSON.") from None
    if not isinstance(payload, dict):
        raise Refused(400, "payload: expected a JSON object.")
    if payload.get("type") != "block_actions":
        return JsonResponse({}, status=200)  # nothing of ours (a shortcut, a view...)
    user = payload.get("user") if isinstance(payload.get("user"), dict) else {}
    actions = payload.get("actions")
    response_url = payload.get("response_url")
    if (
        not isinstance(user.get("id"), str)
        or not isinstance(actions, list)
        or not actions
        or not isinstance(actions[0], dict)
        or not isinstance(response_url, str)
        or not response_url.startswith(("https://", "http://"))
    ):
        raise Refused(400, "payload: user.id, actions[0] and response_url are required.")
    action = actions[0]
    if action.get("action_id") == "open":
        return JsonResponse({}, status=200)  # a link button: Slack opens the URL
    answer = chat.click(
        provider=ChatProvider.SLACK,
        external_id=user["id"],
        incident_id=action.get("value"),
        action=str(action.get("action_id", "")),
    )
    _queue_update(response_url=response_url, answer=answer, user_id=user["id"])
    return JsonResponse({}, status=200)


# --- Mattermost --------------------------------------------------------------------------------


def _mattermost_token_ok(token: str) -> bool:
    found = False
    for known in settings.MATTERMOST_TOKENS:
        if known and hmac.compare_digest(known.encode(), (token or "").encode()):
            found = True
    return found


@_guarded
def mattermost_commands(request):
    """A Mattermost slash command, verified by its token."""
    body = _raw_body(request)
    form = _form(body)
    if not _mattermost_token_ok(form.get("token", "")):
        raise Refused(401, "The Mattermost command token is missing or unknown.")
    user_id = form.get("user_id", "").strip()
    if not user_id:
        raise Refused(400, "user_id: this field is required.")
    return _answer(
        chat.run_command(
            provider=ChatProvider.MATTERMOST,
            external_id=user_id,
            text=form.get("text", ""),
            command=form.get("command", "/tocsin"),
        )
    )


@_guarded
def mattermost_actions(request):
    """A click on a button of a page message; its context carries the token we signed."""
    body = _raw_body(request)
    try:
        data = json.loads(body or b"null")
    except ValueError:
        raise Refused(400, "Expected a JSON body.") from None
    context = data.get("context") if isinstance(data, dict) else None
    if not isinstance(context, dict) or not chat_channel.read_action_token(
        context.get("token", ""),
        incident_id=context.get("incident"),
        action=str(context.get("action", "")),
    ):
        raise Refused(401, "The action's token is missing or not ours.")
    user_id = data.get("user_id")
    if not isinstance(user_id, str) or not user_id.strip():
        raise Refused(400, "user_id: this field is required.")
    answer = chat.click(
        provider=ChatProvider.MATTERMOST,
        external_id=user_id,
        incident_id=context.get("incident"),
        action=context["action"],
    )
    if not (answer.changed and answer.incident is not None):
        return JsonResponse({"ephemeral_text": answer.text})
    incident = answer.incident
    return JsonResponse(
        {
            "update": {
                "message": answer.text,
                "props": {
                    "attachments": [chat_channel.mattermost_attachment(incident, note=answer.text)]
                },
            },
            "ephemeral_text": answer.text,
        }
    )
