"""Notification delivery: email to the outbox, webhooks to a real local HTTP server, retries."""

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from incidents.core.errors import DomainError
from incidents.models import Notification, NotificationStatus, TeamChannel, TimelineEvent
from incidents.paging import engine as escalation
from incidents.paging.delivery import (
    contact_method_create,
    notification_deliver,
    notification_retry,
    retry_delay,
)
from incidents.paging.policies import StepInput, escalation_policy_create
from tests.factories import ServiceFactory, UserFactory, make_incident
from tests.webhook_sink import WebhookSink

pytestmark = pytest.mark.django_db


@pytest.fixture
def sink():
    with WebhookSink() as server:
        yield server


@pytest.fixture
def pat():
    return UserFactory(username="pat", email="pat@example.com", first_name="Pat", last_name="Doe")


def paged_incident(*targets, now=None):
    now = now or timezone.now()
    policy = escalation_policy_create(
        name="Page", steps=[StepInput(delay=timedelta(0), targets=list(targets))]
    )
    service = ServiceFactory(name="Checkout", slug="checkout", escalation_policy=policy)
    incident = make_incident(title="Checkout returns 502", services=[service], detected_at=now)
    state = escalation.escalation_start(incident_id=incident.pk, now=now)
    assert escalation.escalation_fire_step(escalation_id=state.pk, now=now)
    return incident


def deliver_all(incident, now=None) -> list[str]:
    return [
        notification_deliver(notification_id=pk, now=now)
        for pk in Notification.objects.filter(incident=incident)
        .order_by("id")
        .values_list("pk", flat=True)
    ]


def test_email_page_names_the_incident_and_links_the_admin(pat, settings):
    settings.TOCSIN_BASE_URL = "https://tocsin.example.com"
    contact_method_create(user=pat, kind="email", address="pat.pager@example.com")
    incident = paged_incident(pat)
    assert deliver_all(incident) == ["sent"]
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["pat.pager@example.com"]
    assert message.subject == f"[Tocsin] {incident.reference} (P1) Checkout returns 502"
    assert "Severity: P1" in message.body
    assert "Service: Checkout" in message.body
    assert (
        f"https://tocsin.example.com/admin/incidents/incident/{incident.pk}/change/" in message.body
    )
    row = Notification.objects.get(incident=incident)
    assert (row.status, row.attempts) == ("sent", 1) and row.sent_at is not None
    assert TimelineEvent.objects.filter(
        incident=incident, kind="notification", message__startswith="Sent page to pat by email"
    ).exists()


def test_user_without_contact_methods_is_emailed_at_their_account_address(pat):
    incident = paged_incident(pat)
    deliver_all(incident)
    assert [m.to for m in mail.outbox] == [["pat@example.com"]]


def test_webhook_page_is_slack_compatible_json_received_by_a_real_server(pat, sink):
    contact_method_create(user=pat, kind="webhook", address=f"{sink.url}/hooks/pat")
    incident = paged_incident(pat)
    assert deliver_all(incident) == ["sent"]
    assert len(sink.received) == 1
    request = sink.received[0]
    assert request["content_type"] == "application/json"
    assert list(request["body"]) == ["text"]
    assert incident.reference in request["body"]["text"]
    assert "Checkout returns 502" in request["body"]["text"]


def test_team_channel_gets_the_page(sink):
    channel = TeamChannel.objects.create(
        name="#checkout-oncall", kind="webhook", address=f"{sink.url}/team"
    )
    incident = paged_incident(channel)
    deliver_all(incident)
    assert len(sink.bodies("/team")) == 1


def test_failure_is_recorded_and_retried_with_exponential_backoff(pat, sink, settings):
    settings.TOCSIN_NOTIFY_RETRY_SECONDS = 10
    settings.TOCSIN_NOTIFY_MAX_ATTEMPTS = 3
    sink.status = 503
    contact_method_create(user=pat, kind="webhook", address=f"{sink.url}/down")
    now = timezone.now()
    incident = paged_incident(pat, now=now)
    row = Notification.objects.get(incident=incident)

    assert notification_deliver(notification_id=row.pk, now=now) == "queued"
    row.refresh_from_db()
    assert row.attempts == 1 and row.last_error.startswith("DeliveryError: HTTP 503")
    # The next attempt is due a backoff after this one ended (not after it began).
    assert row.last_attempt_at >= now
    assert row.due_at == row.last_attempt_at + timedelta(seconds=10)
    # Not due yet: nothing is sent early.
    assert notification_deliver(notification_id=row.pk, now=now + timedelta(seconds=9)) is None

    second = row.due_at
    assert notification_deliver(notification_id=row.pk, now=second) == "queued"
    row.refresh_from_db()
    assert row.due_at == row.last_attempt_at + timedelta(seconds=20)
    assert row.last_attempt_at >= second

    assert notification_deliver(notification_id=row.pk, now=row.due_at) == "failed"
    row.refresh_from_db()
    assert (row.status, row.attempts) == ("failed", 3)
    assert len(sink.received) == 3
    assert TimelineEvent.objects.filter(
        incident=incident, kind="notification", message__contains="failed after 3 attempts"
    ).exists()

    sink.status = 200
    notification_retry(notification=row, actor=pat)
    assert notification_deliver(notification_id=row.pk) == "sent"
    row.refresh_from_db()
    assert row.status == "sent"


def test_backoff_is_capped(settings):
    settings.TOCSIN_NOTIFY_RETRY_SECONDS = 15
    settings.TOCSIN_NOTIFY_RETRY_MAX_SECONDS = 600
    assert [retry_delay(n).total_seconds() for n in (1, 2, 3, 6, 10)] == [15, 30, 60, 480, 600]


def test_unreachable_webhook_records_the_connection_error(pat):
    contact_method_create(user=pat, kind="webhook", address="http://127.0.0.1:9/nothing-listens")
    incident = paged_incident(pat)
    deliver_all(incident)
    row = Notification.objects.get(incident=incident, kind="webhook")
    assert row.status == "queued" and row.attempts == 1
    assert row.last_error.startswith("ConnectError")


def test_redirect_to_another_host_is_refused(pat, sink):
    sink.redirects["/moved"] = "http://evil.example.net/steal"
    contact_method_create(user=pat, kind="webhook", address=f"{sink.url}/moved")
    incident = paged_incident(pat)
    deliver_all(incident)
    row = Notification.objects.get(incident=incident, kind="webhook")
    assert "refused redirect to another host: evil.example.net" in row.last_error
    assert sink.received == []


def test_redirect_on_the_same_host_is_followed(pat, sink):
    sink.redirects["/old"] = "/new"
    contact_method_create(user=pat, kind="webhook", address=f"{sink.url}/old")
    incident = paged_incident(pat)
    assert deliver_all(incident) == ["sent"]
    assert len(sink.bodies("/new")) == 1


def test_personal_rule_delays_the_second_method(pat, sink):
    contact_method_create(
        user=pat, kind="email", address="pat@example.com", notify_after=timedelta(0)
    )
    contact_method_create(
        user=pat, kind="webhook", address=f"{sink.url}/pat", notify_after=timedelta(minutes=2)
    )
    now = timezone.now()
    incident = paged_incident(pat, now=now)
    rows = {n.kind: n for n in Notification.objects.filter(incident=incident)}
    assert rows["email"].due_at == now
    assert rows["webhook"].due_at == now + timedelta(minutes=2)
    assert deliver_all(incident, now=now) == ["sent", None]
    assert sink.received == []
    assert (
        notification_deliver(notification_id=rows["webhook"].pk, now=now + timedelta(minutes=2))
        == "sent"
    )
    assert len(sink.received) == 1


def test_page_for_an_acknowledged_incident_is_cancelled_not_sent(pat):
    from incidents.core.lifecycle import incident_acknowledge

    incident = paged_incident(pat)
    incident_acknowledge(incident=incident)
    # Acknowledging cancels the queued page in the same transaction; delivery finds nothing.
    assert set(Notification.objects.filter(incident=incident).values_list("status", flat=True)) == {
        "cancelled"
    }
    assert deliver_all(incident) == [None]
    assert mail.outbox == []


def test_retrying_a_sent_notification_is_refused(pat):
    incident = paged_incident(pat)
    deliver_all(incident)
    with pytest.raises(DomainError):
        notification_retry(notification=Notification.objects.get(incident=incident))


def test_contact_method_refuses_bad_addresses(pat):
    with pytest.raises(DomainError) as error:
        contact_method_create(user=pat, kind="webhook", address="ftp://example.com/x")
    assert error.value.field == "address"
    with pytest.raises(DomainError) as error:
        contact_method_create(user=pat, kind="email", address="not-an-email")
    assert error.value.field == "address"


def test_status_of_every_page_is_kept(pat, sink):
    sink.status = 500
    contact_method_create(user=pat, kind="webhook", address=f"{sink.url}/x")
    contact_method_create(user=pat, kind="email", address="pat@example.com")
    incident = paged_incident(pat)
    deliver_all(incident)
    statuses = dict(Notification.objects.filter(incident=incident).values_list("kind", "status"))
    assert statuses == {"webhook": NotificationStatus.QUEUED, "email": NotificationStatus.SENT}
