"""A required hook that fails (starting or stopping an incident's escalation) while an inbox row
is applied: the request was accepted (202, its events are in the inbox), nothing of it is
applied half-way, the row stays pending with the error and a backoff, and once paging works
again it is applied, once."""

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from incidents.alerts.inbox import inbox_drain, inbox_retry_now
from incidents.models import Alert, InboxEvent, Incident, IncidentEscalation, TimelineEvent
from incidents.paging.policies import StepInput, escalation_policy_create
from tests import broken_hooks
from tests.factories import UserFactory, make_integration
from tests.ingest_payloads import am_alert, am_notification, pd_trigger


@pytest.fixture
def broken_start(db):
    with broken_hooks.broken_start() as hook:
        yield hook


@pytest.fixture
def broken_stop(db):
    with broken_hooks.broken_stop() as hook:
        yield hook


def post(client, url, payload, **headers):
    return client.post(url, data=json.dumps(payload), content_type="application/json", **headers)


def generic(client, token, **fields):
    payload = {"summary": "Nightly backup did not run", "dedup_key": "backup", **fields}
    return post(
        client, "/api/v1/integrations/generic/", payload, HTTP_AUTHORIZATION=f"Bearer {token}"
    )


def nothing_applied():
    return not (
        Alert.objects.exists()
        or Incident.objects.exists()
        or TimelineEvent.objects.exists()
        or IncidentEscalation.objects.exists()
    )


def pending_with_error(what: str) -> InboxEvent:
    row = InboxEvent.objects.get(state="pending")
    assert row.attempts == 1
    assert what in row.last_error
    # Retried with backoff, not in a tight loop.
    assert row.not_before > timezone.now() + timedelta(seconds=1)
    return row


@pytest.fixture
def default_policy(db):
    lee = UserFactory(username="lee-lead", email="lee@example.com")
    return escalation_policy_create(
        name="Platform", default=True, steps=[StepInput(delay=timedelta(0), targets=[lee])]
    )


def test_generic_alert_whose_escalation_cannot_start_waits_in_the_inbox_and_opens_once_it_can(
    client, broken_start, default_policy
):
    _, token = make_integration(name="cron", kind="generic")
    answer = generic(client, token, severity="critical")
    assert answer.status_code == 202, answer.content
    assert answer.json()["incidents"] == []
    assert nothing_applied()
    row = pending_with_error("Could not start the incident's escalation")
    assert str(row.request_id) == answer.json()["request_id"]

    # Not due yet: a drain leaves it alone.
    assert inbox_drain() == 0
    assert nothing_applied()

    # Paging works again and the retry comes: the alert opens its incident then, with its
    # escalation, once.
    broken_start.on = False
    inbox_retry_now(ids=[row.pk])
    assert inbox_drain() == 1
    alert = Alert.objects.get()
    assert alert.incident.status == "triggered"
    assert IncidentEscalation.objects.get(incident=alert.incident).policy == default_policy
    row.refresh_from_db()
    assert row.state == "applied"
    assert row.incident_ids == [alert.incident_id]
    assert inbox_drain() == 0
    assert Incident.objects.count() == 1


def test_an_alertmanager_request_is_never_applied_half_way(client, broken_start):
    _, token = make_integration(name="prometheus", kind="alertmanager")
    body = am_notification(am_alert(fingerprint="aaaa0001"), am_alert(fingerprint="aaaa0002"))
    answer = post(
        client, "/api/v1/integrations/alertmanager/", body, HTTP_AUTHORIZATION=f"Bearer {token}"
    )
    assert answer.status_code == 202
    assert nothing_applied()
    row = pending_with_error("Could not start the incident's escalation")
    assert row.event_count == 2

    broken_start.on = False
    inbox_retry_now(ids=[row.pk])
    inbox_drain()
    assert Alert.objects.count() == 2
    assert Incident.objects.count() == 1


def test_a_pagerduty_event_is_accepted_as_pagerduty_answers(client, broken_start):
    _, token = make_integration(name="pd", kind="pagerduty")
    answer = post(client, "/v2/enqueue", pd_trigger(token, dedup_key="disk-1"))
    assert answer.status_code == 202
    assert answer.json()["status"] == "success"
    assert nothing_applied()
    pending_with_error("Could not start the incident's escalation")


def test_a_resolve_whose_escalation_cannot_stop_leaves_the_alert_and_incident_as_they_were(
    client, broken_stop
):
    broken_stop.on = False
    _, token = make_integration(name="cron", kind="generic")
    assert generic(client, token).status_code == 202
    incident = Incident.objects.get()
    broken_stop.on = True

    answer = generic(client, token, status="resolved")

    assert answer.status_code == 202
    pending_with_error("Could not stop the incident's escalation")
    assert Alert.objects.get().status == "firing"
    incident.refresh_from_db()
    assert incident.status == "triggered"
    assert not incident.timeline.filter(message__startswith="Alert resolved").exists()
