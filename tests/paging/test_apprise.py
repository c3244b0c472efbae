"""Apprise channels (issue 13): pages to ntfy:// and json:// URLs received by a real local HTTP
server, the links in ntfy's click and action fields, retries, the send deadline, and personal
rules that mix an Apprise method with e-mail."""

import time
from datetime import timedelta

import pytest
from django.conf import settings
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from incidents.core.lifecycle import incident_acknowledge
from incidents.models import (
    Notification,
    NotificationRule,
    NotificationStatus,
    TeamChannel,
    TimelineEvent,
)
from incidents.paging import delivery
from incidents.paging import engine as escalation
from incidents.paging.channels.apprise import link_fields
from incidents.paging.delivery import contact_method_create, notification_deliver
from incidents.paging.policies import StepInput, escalation_policy_create
from tests.factories import ServiceFactory, UserFactory, make_incident
from tests.webhook_sink import WebhookSink

pytestmark = pytest.mark.django_db

LINKS = {
    "acknowledge": "https://tocsin.example.com/act/ack-token",
    "resolve": "https://tocsin.example.com/act/resolve-token",
    "escalate": "https://tocsin.example.com/act/escalate-token",
    "open": "https://tocsin.example.com/act/open-token",
}


@pytest.fixture
def sink():
    with WebhookSink() as server:
        yield server


@pytest.fixture
def port(sink):
    return sink.server.server_address[1]


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


def test_ntfy_page_names_the_incident_and_its_severity(pat, sink, port):
    contact_method_create(user=pat, kind="apprise", address=f"ntfy://127.0.0.1:{port}/pat-pager")
    incident = paged_incident(pat)

    assert delivery.deliver_due() == 1

    [request] = sink.requests()
    assert request["path"] == "/"
    assert request["body"]["topic"] == "pat-pager"
    assert incident.reference in request["body"]["title"]
    assert "(P1)" in request["body"]["title"]
    assert "Checkout returns 502" in request["body"]["message"]
    assert "Severity: P1" in request["body"]["message"]
    # Apprise channels are not signed: no Standard Webhooks headers.
    assert "webhook-signature" not in request["headers"]
    row = Notification.objects.get(incident=incident)
    assert (row.kind, row.status, row.attempts) == ("apprise", "sent", 1)
    assert TimelineEvent.objects.filter(
        incident=incident, message="Sent page to pat by apprise (ntfy://••••)."
    ).exists()


def test_a_delivered_ntfy_page_carries_the_acknowledge_link_that_acts(
    responder, sink, port, client
):
    """The outbox's own links, end to end: the phone's Acknowledge button is the page's link."""
    contact_method_create(
        user=responder, kind="apprise", address=f"ntfy://127.0.0.1:{port}/rita-pager"
    )
    incident = paged_incident(responder)

    assert delivery.deliver_due() == 1

    [request] = sink.requests()
    message = request["body"]["message"]
    link = next(line for line in message.splitlines() if line.startswith("Acknowledge: "))
    url = link.removeprefix("Acknowledge: ")
    assert "/act/" in url
    assert f"view, Acknowledge, {url}" in request["headers"]["x-actions"]
    path = url.removeprefix(settings.TOCSIN_BASE_URL)
    token = path.rsplit("/", 1)[-1]
    answer = client.post(path, {"token": token})
    assert answer.status_code == 200
    incident.refresh_from_db()
    assert incident.status == "acknowledged"
    assert incident.timeline.filter(
        actor=responder, actor_label__endswith="via page link", after__status="acknowledged"
    ).exists()


def test_json_page_reaches_its_path(pat, sink, port):
    contact_method_create(user=pat, kind="apprise", address=f"json://127.0.0.1:{port}/hooks/pat")
    incident = paged_incident(pat)

    assert delivery.deliver_due() == 1

    [body] = sink.bodies("/hooks/pat")
    assert incident.reference in body["title"] and "(P1)" in body["title"]
    assert "Severity: P1" in body["message"] and "Checkout returns 502" in body["message"]
    assert Notification.objects.get(incident=incident).status == "sent"


def test_ntfy_message_carries_the_links_in_click_and_actions(pat, sink, port):
    contact_method_create(user=pat, kind="apprise", address=f"ntfy://127.0.0.1:{port}/pat")
    incident = paged_incident(pat)
    # The links are the outbox's to make; here the row gets them by hand.
    Notification.objects.filter(incident=incident).update(links=LINKS)

    assert delivery.deliver_due() == 1

    [request] = sink.requests()
    assert request["headers"]["x-click"] == LINKS["open"]
    assert request["headers"]["x-actions"] == (
        f"view, Acknowledge, {LINKS['acknowledge']}; view, Resolve, {LINKS['resolve']}; "
        f"view, Escalate, {LINKS['escalate']}"
    )


def test_click_given_in_the_url_wins_over_the_links(pat, sink, port):
    address = f"ntfy://127.0.0.1:{port}/pat?click=https://wiki.example.com/oncall"
    contact_method_create(user=pat, kind="apprise", address=address)
    incident = paged_incident(pat)
    Notification.objects.filter(incident=incident).update(links=LINKS)

    delivery.deliver_due()

    [request] = sink.requests()
    assert request["headers"]["x-click"] == "https://wiki.example.com/oncall"
    assert request["headers"]["x-actions"].startswith("view, Acknowledge, ")


def test_pushover_gets_the_acknowledge_link_as_its_url():
    assert link_fields("pover://user@token", LINKS) == {
        "supplemental_url": LINKS["acknowledge"],
        "supplemental_url_title": "Acknowledge",
    }
    assert link_fields("pover://user@token", {}) == {}
    assert link_fields("tgram://bot/chat", LINKS) == {}


def test_a_failing_provider_is_retried_and_the_log_shows_its_answer(
    pat, sink, port, admin_client, settings
):
    settings.TOCSIN_NOTIFY_RETRY_SECONDS = 30
    sink.status = 500
    address = f"ntfy://pat:s3cretpass@127.0.0.1:{port}/pat-topic"
    contact_method_create(user=pat, kind="apprise", address=address)
    now = timezone.now()
    incident = paged_incident(pat, now=now)
    row = Notification.objects.get(incident=incident, kind="apprise")

    assert notification_deliver(notification_id=row.pk, now=now) == "queued"

    row.refresh_from_db()
    assert row.attempts == 1 and row.status == NotificationStatus.QUEUED
    assert row.due_at == row.last_attempt_at + timedelta(seconds=30)
    assert row.last_error.startswith("DeliveryError: ntfy:// Failed to send ntfy notification")
    assert "error=500" in row.last_error
    assert "s3cretpass" not in row.last_error
    log = admin_client.get(reverse("admin:incidents_notification_changelist")).content.decode()
    assert "Failed to send ntfy notification" in log and "s3cretpass" not in log
    page = admin_client.get(reverse("admin:incidents_notification_change", args=[row.pk]))
    assert "error=500" in page.content.decode() and "s3cretpass" not in page.content.decode()
    # Once the server is back, the retry goes out.
    sink.status = 200
    assert notification_deliver(notification_id=row.pk, now=row.due_at) == "sent"
    assert len(sink.requests()) == 2


def test_a_hung_provider_is_cut_at_the_send_deadline(pat, sink, port, settings):
    settings.TOCSIN_SEND_DEADLINE_SECONDS = 1
    settings.TOCSIN_WEBHOOK_TIMEOUT_SECONDS = 5
    sink.hold = {"/"}
    sink.hold_seconds = 30
    contact_method_create(user=pat, kind="apprise", address=f"ntfy://127.0.0.1:{port}/pat")
    now = timezone.now()
    incident = paged_incident(pat, now=now)
    row = Notification.objects.get(incident=incident, kind="apprise")

    started = time.monotonic()
    assert notification_deliver(notification_id=row.pk, now=now) == "queued"
    took = time.monotonic() - started

    assert sink.holding.is_set()  # the server got the request and is still holding it
    assert 1 <= took < 4
    row.refresh_from_db()
    assert row.last_error == "DeliveryError: no answer within the 1 s send deadline"


def test_a_destination_refused_since_saving_is_refused_at_send(pat, sink, port, settings):
    contact_method_create(user=pat, kind="apprise", address=f"json://127.0.0.1:{port}/hooks/pat")
    incident = paged_incident(pat)
    settings.TOCSIN_OUTBOUND_ALLOWED_NETWORKS = []

    delivery.deliver_due()

    row = Notification.objects.get(incident=incident, kind="apprise")
    assert row.status == "queued" and "refused destination: 127.0.0.1" in row.last_error
    assert sink.requests() == []


def test_push_at_once_then_email_after_two_minutes_is_cancelled_by_an_acknowledge(pat, sink, port):
    push = contact_method_create(user=pat, kind="apprise", address=f"ntfy://127.0.0.1:{port}/pat")
    email = contact_method_create(user=pat, kind="email", address="pat.sms@example.com")
    NotificationRule.objects.create(user=pat, contact_method=push, order=0, delay=timedelta(0))
    NotificationRule.objects.create(
        user=pat, contact_method=email, order=1, delay=timedelta(minutes=2)
    )
    now = timezone.now()
    incident = paged_incident(pat, now=now)
    rows = {r.kind: r for r in Notification.objects.filter(incident=incident)}
    assert rows["email"].due_at == now + timedelta(minutes=2)

    assert delivery.deliver_due() == 1  # the push only: the e-mail is not due yet
    assert len(sink.requests()) == 1 and mail.outbox == []
    incident_acknowledge(incident=incident, actor=pat)
    # Acknowledging cancels the queued e-mail; when its time comes, nothing is sent.
    later = now + timedelta(minutes=3)
    notification_deliver(notification_id=rows["email"].pk, now=later)
    delivery.deliver_due()

    assert mail.outbox == []
    statuses = dict(Notification.objects.filter(incident=incident).values_list("kind", "status"))
    assert statuses == {"apprise": "sent", "email": "cancelled"}


def test_without_acknowledge_the_email_follows_the_push(pat, sink, port):
    push = contact_method_create(user=pat, kind="apprise", address=f"ntfy://127.0.0.1:{port}/pat")
    email = contact_method_create(user=pat, kind="email", address="pat.sms@example.com")
    NotificationRule.objects.create(user=pat, contact_method=push, order=0, delay=timedelta(0))
    NotificationRule.objects.create(
        user=pat, contact_method=email, order=1, delay=timedelta(minutes=2)
    )
    now = timezone.now()
    incident = paged_incident(pat, now=now)
    delivery.deliver_due()
    row = Notification.objects.get(incident=incident, kind="email")

    assert notification_deliver(notification_id=row.pk, now=now + timedelta(minutes=3)) == "sent"
    assert [m.to for m in mail.outbox] == [["pat.sms@example.com"]]


def test_a_team_channel_of_kind_apprise_gets_the_page(sink, port):
    channel = TeamChannel.objects.create(
        name="#checkout-push", kind="apprise", address=f"json://127.0.0.1:{port}/team"
    )
    incident = paged_incident(channel)

    assert delivery.deliver_due() == 1

    [body] = sink.bodies("/team")
    assert incident.reference in body["title"] and "Severity: P1" in body["message"]
