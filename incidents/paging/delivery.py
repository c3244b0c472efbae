"""Delivering the outbox (issue #5, issue #12): claim, send outside any transaction, record.

A row is delivered in three steps, so no transaction and no row lock is held while a receiver
takes its time:

1. **claim** — in a short transaction, take a due row with `SKIP LOCKED`, mark it `sending` with
   a fresh claim token and a lease (`claimed_until`), commit;
2. **send** — by e-mail or webhook, within one total deadline (channels/);
3. **record** — in a new short transaction, and only if the claim token is still ours: `sent`,
   or back to `queued` with its next attempt due a backoff after the attempt *ended*, or
   `failed` after the last attempt.

A worker that dies between 1 and 3 leaves the row `sending`; once its lease runs out the sweep
hands it to the delivery queue again (at least once on the wire: the receiver may get it twice,
with the same `webhook-id` both times).
"""

import logging
import os
import time
import uuid
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from incidents.core.choices import IncidentStatus, TimelineKind
from incidents.core.contacts import check_person_contact, mask_address
from incidents.core.errors import DomainError
from incidents.core.timeline import actor_label, timeline_record
from incidents.models import (
    ContactKind,
    ContactMethod,
    Notification,
    NotificationReason,
    NotificationRule,
    NotificationStatus,
)
from incidents.paging import deadlines as timers
from incidents.paging.channels import chat
from incidents.paging.channels.apprise import send_apprise
from incidents.paging.channels.email import send_email
from incidents.paging.channels.webhook import (  # noqa: F401 (DeliveryError: for callers)
    DeliveryError,
    deadline_seconds,
    post_webhook,
)

# The queueing half lives in the outbox; these names are imported from here by older callers.
from incidents.paging.outbox import (  # noqa: F401
    DELIVER_TASK,
    Route,
    _queue_all,
    admin_url,
    followup,
    page,
    person_pages,
    remind,
    render,
    routes_for,
)

logger = logging.getLogger(__name__)

VIA = "Notifications"
FAULT_AFTER_SEND = "TOCSIN_FAULT_AFTER_SEND"


def max_attempts() -> int:
    return settings.TOCSIN_NOTIFY_MAX_ATTEMPTS


def retry_delay(attempts: int) -> timedelta:
    """Exponential backoff after the `attempts`-th failure: base, 2 x base, 4 x base, ... capped."""
    base = settings.TOCSIN_NOTIFY_RETRY_SECONDS
    cap = settings.TOCSIN_NOTIFY_RETRY_MAX_SECONDS
    return timedelta(seconds=min(base * 2 ** max(attempts - 1, 0), cap))


def lease() -> timedelta:
    """How long a claim lasts: longer than any send may take (the total deadline)."""
    return timedelta(seconds=max(settings.TOCSIN_DELIVERY_LEASE_SECONDS, deadline_seconds() + 1))


# --- contact methods ---------------------------------------------------------------------------


@transaction.atomic
def contact_method_create(
    *, user, kind: str, address: str, label: str = "", notify_after: timedelta | None = None
) -> ContactMethod:
    """Add a contact method; with `notify_after`, also a personal rule using it."""
    address = (address or "").strip()
    check_person_contact(kind, address)
    if ContactMethod.objects.filter(user=user, kind=kind, address=address).exists():
        raise DomainError(
            f"{user.get_username()} already has this {kind} address.", field="address"
        )
    method = ContactMethod.objects.create(user=user, kind=kind, address=address, label=label)
    if notify_after is not None:
        if notify_after < timedelta(0):
            raise DomainError("The delay cannot be negative.", field="notify_after_seconds")
        order = NotificationRule.objects.filter(user=user).count()
        NotificationRule.objects.create(
            user=user, contact_method=method, order=order, delay=notify_after
        )
    return method


def account_email_notice(user) -> str:
    """What to tell someone whose contact methods now stand in for their account e-mail.

    Without contact methods a person is paged at their account address; their first method
    takes its place. That must never happen unsaid (empty: nothing to tell)."""
    if not user.email:
        return ""
    methods = set(user.contact_methods.values_list("kind", flat=True))
    if not methods or ContactKind.EMAIL in methods:
        return ""
    return (
        f"Pages for {user.get_username()} now go to their contact methods instead of "
        f"{mask_address(user.email)}: that address gets a page only when every "
        "method fails on its first try. Add an e-mail contact method to keep both."
    )


# --- sending -----------------------------------------------------------------------------------


def send(notification: Notification) -> None:
    """Send one row by its channel, within the total deadline; raises on any failure."""
    subject, body = render(notification)  # rows queued before the outbox had no text yet
    if notification.kind == ContactKind.EMAIL:
        send_email(
            to=notification.address, subject=subject, body=body, headers=notification.headers
        )
        return
    if notification.kind == ContactKind.APPRISE:
        send_apprise(notification.address, title=subject, body=body, links=notification.links)
        return
    if notification.kind in (ContactKind.SLACK, ContactKind.MATTERMOST):
        chat.send(notification, subject, body)  # buttons on pages; a click's update (CHAT)
        return
    # A handoff is its own markup-free text; everything else leads with its subject.
    text = body if notification.reason == NotificationReason.HANDOFF else f"*{subject}*\n{body}"
    post_webhook(notification.address, text, message_id=notification.delivery_id)


def _fault_after_send() -> None:
    """Fault injection for tests: with TOCSIN_FAULT_AFTER_SEND naming a marker file that does
    not exist yet, the first send that gets here creates it and the process exits on the spot,
    after the receiver got the message and before the result is recorded."""
    marker = os.environ.get(FAULT_AFTER_SEND)
    if not marker:
        return
    try:
        os.close(os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
    except FileExistsError:
        return
    logger.error("%s: exiting after the send, before recording it.", FAULT_AFTER_SEND)
    os._exit(70)


def _describe(error: Exception) -> str:
    text = str(error) or error.__class__.__name__
    return f"{error.__class__.__name__}: {text}"[:2000]


def _label(notification: Notification) -> str:
    reason = notification.get_reason_display().lower()
    return f"{reason} to {notification.recipient} by {notification.kind}"


def _note(notification: Notification, message: str, *, via: str | None = VIA, **fields) -> bool:
    """Write `message` on the timeline of the row's incident; False if it is about none."""
    if notification.incident_id is None:
        return False
    timeline_record(
        incident=notification.incident,
        kind=TimelineKind.NOTIFICATION,
        via=via,
        message=message,
        after={"notification": notification.pk, "status": notification.status},
        **fields,
    )
    return True


def _still_wanted(notification: Notification) -> bool:
    if notification.incident_id is None or notification.reason in (
        NotificationReason.FOLLOWUP,
        NotificationReason.RESOLVED,
        NotificationReason.CHAT,
    ):
        return True  # about no incident, or about a resolved one (a chat update says who)
    incident = notification.incident
    if incident.status == IncidentStatus.RESOLVED:
        return False
    return (
        notification.reason != NotificationReason.PAGE
        or incident.status == IncidentStatus.TRIGGERED
    )


def _fail(notification: Notification) -> None:
    notification.status = NotificationStatus.FAILED
    _note(
        notification,
        f"The {_label(notification)} ({mask_address(notification.address)}) failed after "
        f"{notification.attempts} attempts: {notification.last_error}",
    )


def _claim(now: datetime, **filters) -> Notification | None:
    """Step 1: take one claimable row and mark it `sending` under a fresh token (committed
    when this returns). A row whose last sender died mid-send counts that attempt. Returns the
    row (cancelled or failed instead when it is no longer to be sent), or None."""
    with transaction.atomic():
        row = (
            Notification.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("incident", "incident__severity")
            .claimable(now)
            .filter(**filters)
            .order_by("due_at")
            .first()
        )
        if row is None:
            return None
        fields = ["status", "claim_token", "claimed_until", "updated_at"]
        if row.status == NotificationStatus.SENDING:
            row.attempts += 1
            row.last_error = "The worker sending it stopped before recording the result."
            fields += ["attempts", "last_error"]
            if row.attempts >= max_attempts():
                _fail(row)
                row.claim_token = row.claimed_until = None
                row.save(update_fields=fields)
                return row
        if not _still_wanted(row):
            row.status = NotificationStatus.CANCELLED
            row.claim_token = row.claimed_until = None
        else:
            row.status = NotificationStatus.SENDING
            row.claim_token = uuid.uuid4()
            row.claimed_until = now + lease()
        row.save(update_fields=fields)
    return row


def _record(claimed: Notification, error: Exception | None, ended: datetime) -> str | None:
    """Step 3: write the outcome, if the claim is still ours (else another worker took the row
    over after our lease ran out, and its outcome counts)."""
    with transaction.atomic():
        row = (
            Notification.objects.select_for_update(of=("self",))
            .select_related("incident")
            .filter(pk=claimed.pk, status=NotificationStatus.SENDING)
            .filter(claim_token=claimed.claim_token)
            .first()
        )
        if row is None:
            logger.warning("Notification %s: lease lost before the result was recorded", claimed.pk)
            return None
        row.attempts += 1
        row.last_attempt_at = ended
        row.claim_token = row.claimed_until = None
        fields = ["attempts", "last_attempt_at", "claim_token", "claimed_until", "status"]
        fields += ["last_error", "due_at", "sent_at", "updated_at"]
        address = mask_address(row.address)
        if error is None:
            row.status = NotificationStatus.SENT
            row.sent_at = ended
            row.save(update_fields=fields)
            _note(row, f"Sent {_label(row)} ({address}).")
            return row.status
        row.last_error = _describe(error)
        logger.warning("Notification %s failed: %s", row.pk, row.last_error)
        if row.attempts >= max_attempts():
            _fail(row)
        else:
            row.status = NotificationStatus.QUEUED
            row.due_at = ended + retry_delay(row.attempts)
            timers.publish_on_commit(DELIVER_TASK, [row.pk], row.due_at)
        row.save(update_fields=fields)
        if row.attempts == 1:
            _email_fallback(row, ended)
        return row.status


def _deliver(claimed: Notification | None, now: datetime) -> str | None:
    if claimed is None:
        return None
    if claimed.status != NotificationStatus.SENDING:
        return claimed.status  # cancelled, or failed for good
    started = time.monotonic()
    error = None
    try:
        send(claimed)  # step 2: no transaction, no lock
    except Exception as failure:  # every failure is recorded on the row and retried
        error = failure
    _fault_after_send()
    return _record(claimed, error, now + timedelta(seconds=time.monotonic() - started))


def _email_fallback(failed: Notification, now: datetime) -> Notification | None:
    """When a page has failed on every method of the person and none of them was email, email
    their account address too (once per page): a broken webhook must not silence a page."""
    if (
        failed.reason not in (NotificationReason.PAGE, NotificationReason.DIRECT)
        or failed.user_id is None
        or failed.kind == ContactKind.EMAIL
    ):
        return None
    # "<page>:user:<pk>:<kind>:<digest>": the rows of one page to one person share the head.
    group = failed.dedup_key.rsplit(":", 2)[0]
    siblings = list(
        Notification.objects.filter(dedup_key__startswith=f"{group}:").exclude(pk=failed.pk)
    )
    if any(
        row.kind == ContactKind.EMAIL or row.status == NotificationStatus.SENT or not row.attempts
        for row in siblings
    ):
        return None
    user = failed.user
    if not user.is_active or not user.email:
        return None
    row = Notification(
        incident=failed.incident,
        dedup_key=f"{group}:fallback-email",
        reason=failed.reason,
        user=user,
        recipient=failed.recipient,
        kind=ContactKind.EMAIL,
        address=user.email,
        round=failed.round,
        step=failed.step,
        subject=failed.subject,
        body=failed.body,
        due_at=now,
    )
    _queue_all([row])
    timeline_record(
        incident=failed.incident,
        kind=TimelineKind.NOTIFICATION,
        via=VIA,
        message=f"Every way to reach {failed.recipient} failed for this page "
        f"({failed.last_error[:200]}): emailing {user.email} as well.",
        after={"notification": row.pk, "fallback_for": failed.pk},
    )
    return row


# --- entry points ------------------------------------------------------------------------------


def notification_deliver(*, notification_id: int, now: datetime | None = None) -> str | None:
    """Try to send one due notification (or one whose sender died). Returns its new status, or
    None when there was nothing to do (sent, cancelled, not due yet, or being sent right now)."""
    now = now or timezone.now()
    return _deliver(_claim(now, pk=notification_id), now)


def notification_deliver_next(due_before: datetime | None = None) -> str | None:
    """Deliver the most overdue claimable notification nobody else holds (due before
    `due_before`, default now)."""
    now = timezone.now()
    return _deliver(_claim(min(due_before or now, now)), now)


def notification_deliver_and_due(
    *, notification_id: int, budget_seconds: float = 1.0
) -> str | None:
    """The task's work: deliver its own row, then other due rows for up to `budget_seconds`, so
    a burst of pages is sent by whichever workers are free instead of one task per page."""
    outcome = notification_deliver(notification_id=notification_id)
    if outcome is not None:
        stop_at = timezone.now() + timedelta(seconds=budget_seconds)
        while timezone.now() < stop_at and notification_deliver_next() is not None:
            pass
    return outcome


def deliver_due(*, limit: int = 500, **filters) -> int:
    """Deliver every claimable row (matching `filters`) in this process, one after the other:
    what the delivery workers do, for tests and the command line. Returns how many were tried."""
    tried = 0
    while tried < limit:
        now = timezone.now()  # rows queued by the last send (an e-mail fallback) count too
        if _deliver(_claim(now, **filters), now) is None:
            break
        tried += 1
    return tried


def notification_sweep(due_before: datetime | None = None, *, limit: int = 200) -> int:
    """The sweep's part: hand rows whose task is late (due before `due_before`), and rows whose
    sender's lease ran out, to the delivery queue. Never sends itself: a slow receiver can hold
    a delivery worker, never the sweep. Returns how many were handed over."""
    now = timezone.now()
    due = Notification.objects.claimable(now).exclude(
        status=NotificationStatus.QUEUED, due_at__gt=due_before or now
    )
    ids = list(due.order_by("due_at").values_list("pk", flat=True)[:limit])
    for pk in ids:
        timers.publish(DELIVER_TASK, [pk])
    return len(ids)


def notification_due_at(notification_id: int) -> datetime | None:
    return (
        Notification.objects.filter(pk=notification_id, status=NotificationStatus.QUEUED)
        .values_list("due_at", flat=True)
        .first()
    )


@transaction.atomic
def notification_retry(
    *, notification: Notification, actor=None, via: str | None = None
) -> Notification:
    """Send a failed or cancelled notification again now, with a fresh set of attempts.

    A no-op for one still queued; one already sent (it arrived) or being sent is refused.
    """
    notification = (
        Notification.objects.select_for_update(of=("self",))
        .select_related("incident")
        .get(pk=notification.pk)
    )
    if notification.status == NotificationStatus.QUEUED:
        return notification
    if notification.status == NotificationStatus.SENT:
        raise DomainError(f"The notification to {notification.recipient} was sent already.")
    if notification.status == NotificationStatus.SENDING:
        raise DomainError(f"The notification to {notification.recipient} is being sent now.")
    before = notification.status
    notification.status = NotificationStatus.QUEUED
    notification.attempts = 0
    notification.due_at = timezone.now()
    notification.save(update_fields=["status", "attempts", "due_at", "updated_at"])
    message = (
        f"{actor_label(actor, via)} retried the {notification.kind} to {notification.recipient}."
    )
    if not _note(notification, message, via=via, actor=actor, before={"status": before}):
        logger.info("%s (notification %s)", message, notification.pk)
    timers.publish_on_commit(DELIVER_TASK, [notification.pk], notification.due_at)
    return notification
