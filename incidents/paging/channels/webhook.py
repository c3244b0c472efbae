"""Webhooks: a Slack-compatible JSON POST (`{"text": ...}`), signed the Standard Webhooks way.

Every POST carries `webhook-id` (the message's stable id, the same on every attempt, so a
receiver can drop a repeat), `webhook-timestamp` (Unix seconds) and `webhook-signature`
(`v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`, keyed with the signing secret).

A send has one total deadline, connection, redirects, headers and body together: the request
runs under `asyncio.timeout`, which cancels it wherever it waits, so a receiver that trickles a
byte every few seconds is cut off at the deadline rather than kept alive by each byte.
"""

import asyncio
import base64
import hashlib
import hmac
import json
import time
from datetime import UTC, datetime

import httpx
from django.conf import settings
from standardwebhooks.webhooks import Webhook

from incidents.core import outbound
from incidents.core.texts import slack_escape


class DeliveryError(Exception):
    pass


def deadline_seconds() -> float:
    """The total time one send may take, whatever the receiver does."""
    return settings.TOCSIN_SEND_DEADLINE_SECONDS


def signing_secret() -> str:
    """`TOCSIN_WEBHOOK_SIGNING_SECRET` (`whsec_` + base64), else one derived from SECRET_KEY."""
    configured = settings.TOCSIN_WEBHOOK_SIGNING_SECRET
    if configured:
        return configured
    key = hmac.new(settings.SECRET_KEY.encode(), b"tocsin webhook signing", hashlib.sha256)
    return "whsec_" + base64.b64encode(key.digest()).decode()


def masked_secret() -> str:
    """The signing secret as the admin shows it: enough to tell two apart, not to use one."""
    secret = signing_secret()
    return f"{secret[:10]}…{secret[-2:]}"


def signature_headers(*, message_id: str, body: str, at: float | None = None) -> dict[str, str]:
    stamp = int(at if at is not None else time.time())
    signature = Webhook(signing_secret()).sign(
        msg_id=message_id, timestamp=datetime.fromtimestamp(stamp, tz=UTC), data=body
    )
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(stamp),
        "webhook-signature": signature,
    }


def _same_origin(a: httpx.URL, b: httpx.URL) -> bool:
    return (a.scheme, a.host, a.port) == (b.scheme, b.host, b.port)


async def _post(origin: httpx.URL, body: bytes, headers: dict, per_read: float) -> None:
    async with httpx.AsyncClient(timeout=per_read, follow_redirects=False) as client:
        response = await outbound.post(client, origin, content=body, headers=headers)
        current = origin
        for _ in range(3):
            if not response.is_redirect:
                break
            current = current.join(response.headers.get("location", ""))
            if not _same_origin(origin, current):
                raise DeliveryError(f"refused redirect to another host: {current.host}")
            response = await outbound.post(client, current, content=body, headers=headers)
        if response.is_redirect:
            raise DeliveryError("too many redirects")
        if response.status_code >= 300:
            # By its status only: a refusal's body may echo the secret URL.
            raise DeliveryError(f"HTTP {response.status_code} {response.reason_phrase}"[:100])


async def _within(limit: float, work) -> None:
    async with asyncio.timeout(limit):
        await work


def post_webhook(
    url: str,
    text: str,
    *,
    markup: bool = False,
    message_id: str | None = None,
    deadline: float | None = None,
) -> None:
    """POST `{"text": ...}` to a destination the outbound policy allows (checked on what the
    host resolves to now); follows at most 3 redirects, and only on the same host. `text` is
    plain text, escaped for Slack's markup here; pass `markup=True` for text already built as
    markup. `message_id` is the stable `webhook-id` (a fresh one if none is given)."""
    origin = httpx.URL(url)
    body = json.dumps({"text": text if markup else slack_escape(text)})
    headers = {
        "Content-Type": "application/json",
        **signature_headers(message_id=message_id or f"msg_{time.time_ns():x}", body=body),
    }
    limit = deadline if deadline is not None else deadline_seconds()
    per_read = min(settings.TOCSIN_WEBHOOK_TIMEOUT_SECONDS, limit)
    try:
        asyncio.run(_within(limit, _post(origin, body.encode(), headers, per_read)))
    except TimeoutError:
        raise DeliveryError(f"no complete answer within the {limit:g} s send deadline") from None
