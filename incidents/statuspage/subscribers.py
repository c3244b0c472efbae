"""Email subscriptions to public updates: double opt-in, one-click unsubscribe.

Every mail here is an outbox row (incidents/paging/outbox.py), rendered when it is queued and
delivered, retried and logged like a page. A row is keyed by its subscriber and its purpose, so
running `subscribers_notify` again for the same update (a retried task) mails nobody twice.
"""

import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from incidents.core.choices import ContactKind
from incidents.core.validators import fold_lines
from incidents.models import Notification, NotificationReason, Service, StatusUpdate, Subscriber
from incidents.paging import outbox
from incidents.statuspage.selectors import public_title

logger = logging.getLogger(__name__)

# A second sign-up for the same address within this window sends no second confirmation.
RESEND_AFTER = timedelta(minutes=10)

CONFIRM_TASK = "incidents.statuspage.send_confirmation"


def _absolute(path: str) -> str:
    return settings.TOCSIN_BASE_URL + path


def _queue(
    subscriber: Subscriber, *, key: str, reason: str, subject: str, template: str, context: dict
) -> Notification:
    unsubscribe = _absolute(reverse("status:unsubscribe", args=[subscriber.token]))
    return outbox.message(
        key=key,
        reason=reason,
        kind=ContactKind.EMAIL,
        address=subscriber.email,
        recipient=subscriber.email,
        subject=subject,
        body=render_to_string(template, {**context, "unsubscribe_url": unsubscribe}),
        headers={
            "List-Unsubscribe": f"<{unsubscribe}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        },
    )


@transaction.atomic
def subscriber_subscribe(*, email: str, services: list[Service]) -> Subscriber:
    """Record the wish and send a confirmation link; nothing is sent until it is followed."""
    email = email.strip().lower()
    subscriber, created = Subscriber.objects.select_for_update().get_or_create(email=email)
    now = timezone.now()
    if not created and subscriber.is_active:
        subscriber.services.set(services)
        return subscriber
    recently_asked = not created and subscriber.created_at > now - RESEND_AFTER
    if not created:
        subscriber.unsubscribed_at = None
        subscriber.confirmed_at = None
        subscriber.save(update_fields=["unsubscribed_at", "confirmed_at"])
    subscriber.services.set(services)
    if created or not recently_asked:
        _queue_confirmation(subscriber, asked_at=now)
    return subscriber


def _queue_confirmation(subscriber: Subscriber, *, asked_at) -> Notification:
    # One confirmation per sign-up (the moment it was asked for); the outbox retries it while the
    # mail server is down, and the visitor's request never waits on the mail server.
    return _queue(
        subscriber,
        key=f"confirm:subscriber:{subscriber.pk}:{asked_at:%Y%m%dT%H%M%S}",
        reason=NotificationReason.CONFIRM,
        subject="Confirm your status updates subscription",
        template="emails/status_confirm.txt",
        context={
            "confirm_url": _absolute(reverse("status:confirm", args=[subscriber.token])),
            "services": list(subscriber.services.all()),
        },
    )


@transaction.atomic
def subscriber_send_confirmation(*, subscriber_id: int) -> bool:
    """Queue the confirmation link for a subscriber who has not confirmed yet, unless one is
    queued or sent already; False if none is due (for tasks published before the outbox)."""
    subscriber = Subscriber.objects.filter(pk=subscriber_id, confirmed_at__isnull=True).first()
    if subscriber is None:
        return False
    if Notification.objects.filter(dedup_key__startswith=f"confirm:subscriber:{subscriber.pk}:"):
        return False
    _queue_confirmation(subscriber, asked_at=subscriber.created_at)
    return True


@transaction.atomic
def subscriber_confirm(*, token: str) -> Subscriber | None:
    subscriber = Subscriber.objects.select_for_update().filter(token=token).first()
    if subscriber is None:
        return None
    if subscriber.confirmed_at is None or subscriber.unsubscribed_at is not None:
        subscriber.confirmed_at = timezone.now()
        subscriber.unsubscribed_at = None
        subscriber.save(update_fields=["confirmed_at", "unsubscribed_at"])
    return subscriber


@transaction.atomic
def subscriber_unsubscribe(*, token: str) -> Subscriber | None:
    subscriber = Subscriber.objects.select_for_update().filter(token=token).first()
    if subscriber is not None and subscriber.unsubscribed_at is None:
        subscriber.unsubscribed_at = timezone.now()
        subscriber.save(update_fields=["unsubscribed_at"])
    return subscriber


@transaction.atomic
def subscribers_notify(*, update_id: int) -> int:
    """Queue a public update for the confirmed subscribers of its public services: one outbox
    row each, keyed by (update, subscriber), so running this again queues nothing new.
    Returns how many subscribers it is for."""
    update = (
        StatusUpdate.objects.select_related("incident")
        .filter(pk=update_id, public=True, incident__services__is_public=True)
        .first()
    )
    if update is None:
        return 0
    incident = update.incident
    services = list(incident.services.filter(is_public=True))
    incident.public_services = services
    recipients = Subscriber.objects.for_services([s.pk for s in services])
    context = {
        "update": update,
        "title": public_title(incident),
        "services": services,
        "page_url": _absolute(reverse("status:incident", args=[incident.number])),
    }
    # Titles are refused with line breaks; one stored before that still makes a subject.
    subject = f"[{update.get_status_display()}] {fold_lines(context['title'])}"
    count = 0
    for subscriber in recipients:
        _queue(
            subscriber,
            key=f"status:{update.pk}:subscriber:{subscriber.pk}",
            reason=NotificationReason.STATUS,
            subject=subject,
            template="emails/status_update.txt",
            context=context,
        )
        count += 1
    return count
