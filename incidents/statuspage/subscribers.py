"""Email subscriptions to public updates: double opt-in, one-click unsubscribe."""

import logging
from datetime import timedelta

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from incidents.core.validators import fold_lines
from incidents.models import Service, StatusUpdate, Subscriber
from incidents.paging import deadlines as timers
from incidents.statuspage.selectors import public_title

logger = logging.getLogger(__name__)

# A second sign-up for the same address within this window sends no second confirmation.
RESEND_AFTER = timedelta(minutes=10)

CONFIRM_TASK = "incidents.statuspage.send_confirmation"


def _absolute(path: str) -> str:
    return settings.TOCSIN_BASE_URL + path


def _send(subscriber: Subscriber, *, subject: str, template: str, context: dict) -> None:
    unsubscribe = _absolute(reverse("status:unsubscribe", args=[subscriber.token]))
    body = render_to_string(template, {**context, "unsubscribe_url": unsubscribe})
    message = EmailMultiAlternatives(
        subject=subject,
        body=body,
        to=[subscriber.email],
        headers={
            "List-Unsubscribe": f"<{unsubscribe}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        },
    )
    message.send()


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
        transaction.on_commit(lambda: _confirmation_try(subscriber.pk))
    return subscriber


def _confirmation_try(subscriber_id: int) -> None:
    """Send now if mail works; if the mail server is down, a worker retries until it is back.

    The visitor's request never fails on our mail server: the sign-up is recorded either way.
    """
    try:
        subscriber_send_confirmation(subscriber_id=subscriber_id)
    except OSError:  # smtplib's errors are OSErrors, as are refused and timed-out connections
        logger.warning("Confirmation mail to subscriber %s failed; retrying later.", subscriber_id)
        timers.publish(CONFIRM_TASK, [subscriber_id])


def subscriber_send_confirmation(*, subscriber_id: int) -> bool:
    """Mail the confirmation link to a subscriber who has not confirmed yet; False if none due."""
    subscriber = (
        Subscriber.objects.filter(pk=subscriber_id, confirmed_at__isnull=True)
        .prefetch_related("services")
        .first()
    )
    if subscriber is None:
        return False
    _send(
        subscriber,
        subject="Confirm your status updates subscription",
        template="emails/status_confirm.txt",
        context={
            "confirm_url": _absolute(reverse("status:confirm", args=[subscriber.token])),
            "services": list(subscriber.services.all()),
        },
    )
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


def subscribers_notify(*, update_id: int) -> int:
    """Email a public update to the confirmed subscribers of its public services."""
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
    sent = 0
    for subscriber in recipients:
        _send(
            subscriber,
            # Titles are refused with line breaks; one stored before that still makes a subject.
            subject=f"[{update.get_status_display()}] {fold_lines(context['title'])}",
            template="emails/status_update.txt",
            context=context,
        )
        sent += 1
    return sent
