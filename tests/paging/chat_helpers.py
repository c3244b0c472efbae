"""What the chat tests share: people linked to chat accounts, and requests signed as Slack
signs them (computed here from Slack's published scheme, not by the code under test)."""

import hashlib
import hmac
import time
from urllib.parse import urlencode

from django.contrib.auth.models import Group

from incidents.models import ChatIdentity
from tests.factories import UserFactory

SLACK_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
MATTERMOST_TOKEN = "xr3j5x3p4pfjpe8kttwicyxu1e"


def person(username: str, first: str, last: str, group: str | None = None):
    user = UserFactory(username=username, first_name=first, last_name=last)
    if group:
        user.groups.add(Group.objects.get(name=group))
    return user


def link(user, provider: str, external_id: str) -> ChatIdentity:
    return ChatIdentity.objects.create(user=user, provider=provider, external_id=external_id)


def slack_signature(secret: str, timestamp: str, body: str) -> str:
    base = f"v0:{timestamp}:{body}".encode()
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


def slack_post(
    client, path: str, fields: dict, *, secret=SLACK_SECRET, age_seconds=0, signature=None
):
    """POST `fields` as Slack does: a form body, signed with `secret`, stamped `age_seconds` ago."""
    body = urlencode(fields)
    timestamp = str(int(time.time()) - age_seconds)
    headers = {"HTTP_X_SLACK_REQUEST_TIMESTAMP": timestamp}
    if signature is not False:
        headers["HTTP_X_SLACK_SIGNATURE"] = signature or slack_signature(secret, timestamp, body)
    return client.generic(
        "POST", path, body, content_type="application/x-www-form-urlencoded", **headers
    )


def slack_command(client, user_id: str, text: str, **kwargs):
    fields = {
        "token": "deprecated-verification-token",
        "team_id": "T0001",
        "channel_id": "C2147483705",
        "user_id": user_id,
        "user_name": "someone",
        "command": "/tocsin",
        "text": text,
        "response_url": "https://hooks.slack.com/commands/T0001/1/abc",
        "trigger_id": "13345224609.738474920.8088930838d88f008e0",
    }
    return slack_post(client, "/chat/slack/commands", fields, **kwargs)


def mattermost_command(client, user_id: str, text: str, token=MATTERMOST_TOKEN):
    fields = {
        "channel_id": "fc6bcn5mhjfq8d1s9wpqpmhzrh",
        "channel_name": "town-square",
        "command": "/tocsin",
        "team_domain": "ops",
        "text": text,
        "token": token,
        "user_id": user_id,
        "user_name": "someone",
    }
    return client.generic(
        "POST",
        "/chat/mattermost/commands",
        urlencode(fields),
        content_type="application/x-www-form-urlencoded",
    )
