"""The admin's Delivery log: every kind of message in one list, with Retry."""

import pytest
from django.urls import reverse

from incidents.models import Notification
from incidents.paging import outbox
from incidents.paging.delivery import notification_deliver
from tests.factories import make_incident

pytestmark = pytest.mark.django_db


def queue(key, reason, *, incident=None, address="someone@example.com"):
    return outbox.message(
        key=key,
        reason=reason,
        kind="email",
        address=address,
        recipient=address,
        subject=f"About {key}",
        body="Hello.",
        incident=incident,
    )


def test_the_delivery_log_lists_every_kind_with_its_status(admin_client, settings):
    settings.TOCSIN_WEBHOOK_SIGNING_SECRET = (
        "whsec_" + "c2VjcmV0LXNpZ25pbmcta2V5LWZvci10aGUtYWRtaW4="
    )
    incident = make_incident(title="Checkout returns 502")
    for reason in ("followup", "handoff", "status", "confirm", "review"):
        queue(f"{reason}:1", reason, incident=incident if reason == "followup" else None)
    sent = Notification.objects.get(reason="review")
    assert notification_deliver(notification_id=sent.pk) == "sent"

    answer = admin_client.get(reverse("admin:incidents_notification_changelist"))
    html = answer.content.decode()
    assert answer.status_code == 200
    assert "Delivery log" in html
    for label in (
        "Follow-up reminder",
        "On-call handoff",
        "Status-page update",
        "Subscription confirmation",
        "Runbook review",
    ):
        assert label in html
    assert "tocsin-tone--done" in html and ">Sent<" in html  # the badge of the sent row
    assert "tocsin-tone--waiting" in html and ">Queued<" in html
    # The signing secret shows masked, never whole.
    assert "whsec_c2Vj" in html and settings.TOCSIN_WEBHOOK_SIGNING_SECRET not in html


def test_retry_queues_a_failed_message_about_no_incident_again(admin_client):
    row = queue("status:9:subscriber:1", "status", address="fan@example.com")
    Notification.objects.filter(pk=row.pk).update(status="failed", attempts=6, last_error="down")
    answer = admin_client.post(
        reverse("admin:incidents_notification_changelist"),
        {"action": "retry", "_selected_action": [row.pk]},
        follow=True,
    )
    assert "Queued 1 notification(s) again." in answer.content.decode()
    row.refresh_from_db()
    assert (row.status, row.attempts) == ("queued", 0)


def test_retry_refuses_a_message_being_sent(admin_client):
    row = queue("confirm:subscriber:1:x", "confirm")
    Notification.objects.filter(pk=row.pk).update(status="sending")
    answer = admin_client.post(
        reverse("admin:incidents_notification_changelist"),
        {"action": "retry", "_selected_action": [row.pk]},
        follow=True,
    )
    assert "is being sent now" in answer.content.decode()
    assert Notification.objects.get(pk=row.pk).status == "sending"
