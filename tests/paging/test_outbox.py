"""The outbox: every kind of message is a row, sent once per (recipient, purpose), signed, within
a total deadline, and never while a transaction or a row lock is held (real local HTTP server,
Django's mail outbox, a closed port for a mail server that is down)."""

import socket
import threading
from datetime import timedelta

import pytest
from django.core import mail
from django.db import connection
from django.utils import timezone
from standardwebhooks.webhooks import Webhook

from incidents.core import lifecycle
from incidents.models import Notification, Subscriber
from incidents.paging import engine as escalation
from incidents.paging.delivery import (
    contact_method_create,
    deliver_due,
    notification_deliver,
)
from incidents.paging.policies import StepInput, escalation_policy_create
from incidents.statuspage.tasks import statuspage_notify_subscribers
from runbooks.services import runbooks_remind_review
from tests.factories import ServiceFactory, UserFactory, make_incident, make_runbook
from tests.webhook_sink import WebhookSink

pytestmark = pytest.mark.django_db

SECRET = "whsec_" + "dG9jc2luLXRlc3Qtc2lnbmluZy1zZWNyZXQtMzJieXQ="


@pytest.fixture
def sink():
    with WebhookSink() as server:
        yield server


@pytest.fixture(autouse=True)
def _signing(settings):
    settings.TOCSIN_WEBHOOK_SIGNING_SECRET = SECRET


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def mail_server_down(settings) -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = (
        "127.0.0.1",
        _closed_port(),
        3,
    )


def mail_server_up(settings) -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"


def paged_incident(user, now=None):
    now = now or timezone.now()
    policy = escalation_policy_create(
        name=f"Page {user.username}", steps=[StepInput(delay=timedelta(0), targets=[user])]
    )
    service = ServiceFactory(escalation_policy=policy)
    incident = make_incident(title="Checkout returns 502", services=[service], detected_at=now)
    state = escalation.escalation_start(incident_id=incident.pk, now=now)
    assert escalation.escalation_fire_step(escalation_id=state.pk, now=now)
    return incident


def verified(request: dict) -> dict:
    """What a receiver does with a Standard Webhooks request: check the signature."""
    return Webhook(SECRET).verify(request["raw"], request["headers"])


# --- subscribers ---------------------------------------------------------------------------------


def confirmed_subscribers(service, count):
    now = timezone.now()
    return [
        Subscriber.objects.create(email=f"fan{n}@example.com", confirmed_at=now)
        for n in range(count)
    ]


def test_a_retried_subscriber_task_mails_every_subscriber_once(settings):
    service = ServiceFactory(name="Shop", slug="shop", is_public=True)
    subscribers = confirmed_subscribers(service, 3)
    incident = make_incident(services=[service])
    update = lifecycle.status_update_post(
        incident=incident, message="Checkout is slow.", public=True, public_title="Slow checkout"
    )
    # Posting the update queued one row per subscriber, in the update's own transaction.
    rows = list(Notification.objects.filter(reason="status").order_by("id"))
    assert sorted(r.address for r in rows) == sorted(s.email for s in subscribers)

    # The first delivery goes out; then the mail server goes down part-way through.
    assert notification_deliver(notification_id=rows[0].pk) == "sent"
    mail_server_down(settings)
    assert [notification_deliver(notification_id=r.pk) for r in rows[1:]] == ["queued"] * 2

    # The producer task is retried (and once more, for good measure): nothing new is queued.
    assert statuspage_notify_subscribers(update.pk) == 3
    assert statuspage_notify_subscribers(update.pk) == 3
    assert Notification.objects.filter(reason="status").count() == 3

    mail_server_up(settings)
    for row in Notification.objects.filter(status="queued"):
        assert notification_deliver(notification_id=row.pk, now=row.due_at) == "sent"
    assert deliver_due() == 0
    received = sorted(m.to[0] for m in mail.outbox)
    assert received == sorted(s.email for s in subscribers)  # each one, once
    assert all("Checkout is slow." in m.body for m in mail.outbox)


def test_a_confirmation_is_retried_until_the_mail_server_answers(client, settings):
    ServiceFactory(name="Shop", slug="shop", is_public=True)
    mail_server_down(settings)
    assert client.post("/status/subscribe/", {"email": "new@example.com"}).status_code == 200
    row = Notification.objects.get(reason="confirm")
    assert row.incident is None and row.address == "new@example.com"
    assert notification_deliver(notification_id=row.pk) == "queued"
    row.refresh_from_db()
    assert row.attempts == 1 and row.last_error and row.due_at > row.last_attempt_at

    mail_server_up(settings)
    assert notification_deliver(notification_id=row.pk, now=row.due_at) == "sent"
    assert [m.to for m in mail.outbox] == [["new@example.com"]]
    assert "/status/subscribe/confirm/" in mail.outbox[0].body


def test_runbook_review_mail_is_retried_after_a_failure(settings):
    owner = UserFactory(username="dana", email="dana@example.com")
    service = ServiceFactory(name="Database", slug="database", owner=owner)
    runbook = make_runbook(title="Pool exhausted", services=[service], review_every_days=30)
    type(runbook).objects.filter(pk=runbook.pk).update(
        created_at=timezone.now() - timedelta(days=100)
    )
    mail_server_down(settings)
    assert [r.pk for r in runbooks_remind_review()] == [runbook.pk]
    row = Notification.objects.get(reason="review")
    assert notification_deliver(notification_id=row.pk) == "queued"
    row.refresh_from_db()
    assert row.attempts == 1 and row.last_error

    mail_server_up(settings)
    assert notification_deliver(notification_id=row.pk, now=row.due_at) == "sent"
    assert [m.subject for m in mail.outbox] == ["Runbook due for review: Pool exhausted"]


# --- webhooks ------------------------------------------------------------------------------------


def test_every_attempt_carries_the_same_webhook_id_and_a_valid_signature(sink):
    pat = UserFactory(username="pat")
    contact_method_create(user=pat, kind="webhook", address=f"{sink.url}/pat")
    incident = paged_incident(pat)
    row = Notification.objects.get(incident=incident)
    sink.status = 503
    assert notification_deliver(notification_id=row.pk) == "queued"
    sink.status = 200
    row.refresh_from_db()
    assert notification_deliver(notification_id=row.pk, now=row.due_at) == "sent"

    first, second = sink.requests("/pat")
    assert first["headers"]["webhook-id"] == second["headers"]["webhook-id"] == row.delivery_id
    for request in (first, second):
        assert incident.reference in verified(request)["text"]
    # A body changed on the way no longer verifies.
    tampered = {**first, "raw": first["raw"].replace("502", "200")}
    with pytest.raises(Exception, match="signature"):
        verified(tampered)


def test_what_a_page_says_is_rendered_once_when_it_is_queued(sink):
    pat = UserFactory(username="pat")
    contact_method_create(user=pat, kind="webhook", address=f"{sink.url}/pat")
    incident = paged_incident(pat)
    row = Notification.objects.get(incident=incident)
    assert incident.reference in row.subject and "Open: http" in row.body
    # The incident is renamed before the page goes out: the page says what it said when queued.
    type(incident).objects.filter(pk=incident.pk).update(title="Renamed later")
    assert notification_deliver(notification_id=row.pk) == "sent"
    text = sink.bodies("/pat")[0]["text"]
    assert "Checkout returns 502" in text and "Renamed later" not in text


def test_a_receiver_trickling_its_answer_is_cut_off_at_the_total_deadline(sink, settings):
    settings.TOCSIN_SEND_DEADLINE_SECONDS = 2
    settings.TOCSIN_WEBHOOK_TIMEOUT_SECONDS = 5  # longer than the gap between two bytes
    sink.trickle = {"/slow"}
    sink.trickle_every = 0.5
    pat = UserFactory(username="pat")
    contact_method_create(user=pat, kind="webhook", address=f"{sink.url}/slow")
    row = Notification.objects.get(incident=paged_incident(pat))

    assert notification_deliver(notification_id=row.pk) == "queued"
    row.refresh_from_db()
    assert "send deadline" in row.last_error
    # The sender hung up while the receiver still had most of its minute of bytes to go.
    assert sink.requests("/slow")
    first_byte_at = sink.requests("/slow")[0]["at"]
    assert row.last_attempt_at.timestamp() < first_byte_at + sink.trickle_for


@pytest.mark.django_db(transaction=True)
def test_a_receiver_that_hangs_does_not_block_acknowledging(sink):
    sink.hold = {"/pat"}
    sink.hold_seconds = 10
    pat = UserFactory(username="pat")
    contact_method_create(user=pat, kind="webhook", address=f"{sink.url}/pat")
    incident = paged_incident(pat)
    row = Notification.objects.get(incident=incident)
    outcome = {}

    def worker():
        try:
            outcome["status"] = notification_deliver(notification_id=row.pk)
        finally:
            connection.close()

    sending = threading.Thread(target=worker)
    sending.start()
    try:
        assert sink.holding.wait(10), "the page never reached the receiver"
        # While the receiver hangs on to the page, acknowledging goes through at once.
        lifecycle.incident_acknowledge(incident=incident, actor=pat)
        still_in_flight = sink.holding.is_set()
        incident.refresh_from_db()
        assert incident.status == "acknowledged"
        assert still_in_flight, "acknowledging waited for the receiver"
        assert Notification.objects.get(pk=row.pk).status == "sending"
    finally:
        sink.release.set()
        sending.join(30)
    # The page reached the receiver: it is logged as sent, not cancelled.
    assert outcome["status"] == "sent"
    assert Notification.objects.get(pk=row.pk).status == "sent"


def test_a_row_left_sending_by_a_dead_worker_is_taken_back_after_its_lease(sink, settings):
    pat = UserFactory(username="pat")
    contact_method_create(user=pat, kind="webhook", address=f"{sink.url}/pat")
    row = Notification.objects.get(incident=paged_incident(pat))
    now = timezone.now()
    Notification.objects.filter(pk=row.pk).update(
        status="sending", claim_token="00000000-0000-0000-0000-000000000001", claimed_until=now
    )
    # Within its lease nobody else takes it.
    assert notification_deliver(notification_id=row.pk, now=now - timedelta(seconds=1)) is None
    assert notification_deliver(notification_id=row.pk, now=now + timedelta(seconds=1)) == "sent"
    row.refresh_from_db()
    assert row.attempts == 2  # the lost attempt counts
    assert len(sink.requests("/pat")) == 1
