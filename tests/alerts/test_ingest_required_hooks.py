"""A required hook that fails (starting or stopping an incident's escalation) fails the whole
ingestion request: 503 with Retry-After, nothing stored, and the sender's retry goes through."""

import json
from datetime import timedelta

import pytest

from incidents.models import Alert, Incident, IncidentEscalation, TimelineEvent
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


def nothing_stored():
    return not (
        Alert.objects.exists()
        or Incident.objects.exists()
        or TimelineEvent.objects.exists()
        or IncidentEscalation.objects.exists()
    )


@pytest.fixture
def default_policy(db):
    lee = UserFactory(username="lee-lead", email="lee@example.com")
    return escalation_policy_create(
        name="Platform", default=True, steps=[StepInput(delay=timedelta(0), targets=[lee])]
    )


def test_generic_alert_whose_escalation_cannot_start_is_refused_with_503_and_kept_nowhere(
    client, broken_start, default_policy
):
    _, token = make_integration(name="cron", kind="generic")
    answer = generic(client, token, severity="critical")
    assert answer.status_code == 503, answer.content
    assert answer["Retry-After"] == "5"
    detail = answer.json()["detail"]
    assert "Could not start the incident's escalation" in detail
    assert "nothing was saved" in detail
    assert nothing_stored()

    # The sender retries once the escalation works again: the alert opens its incident then,
    # and its escalation with it.
    broken_start.on = False
    answer = generic(client, token, severity="critical")
    assert answer.status_code == 202, answer.content
    alert = Alert.objects.get()
    assert alert.incident.status == "triggered"
    assert IncidentEscalation.objects.get(incident=alert.incident).policy == default_policy


def test_alertmanager_request_is_rolled_back_whole(client, broken_start):
    _, token = make_integration(name="prometheus", kind="alertmanager")
    body = am_notification(am_alert(fingerprint="aaaa0001"), am_alert(fingerprint="aaaa0002"))
    answer = post(
        client, "/api/v1/integrations/alertmanager/", body, HTTP_AUTHORIZATION=f"Bearer {token}"
    )
    assert answer.status_code == 503
    assert answer["Retry-After"] == "5"
    assert nothing_stored()


def test_pagerduty_event_gets_a_pagerduty_shaped_503(client, broken_start):
    _, token = make_integration(name="pd", kind="pagerduty")
    answer = post(client, "/v2/enqueue", pd_trigger(token, dedup_key="disk-1"))
    assert answer.status_code == 503
    assert answer["Retry-After"] == "5"
    body = answer.json()
    assert body["status"] == "unavailable"
    assert "nothing was saved" in body["errors"][0]
    assert nothing_stored()


def test_resolve_whose_escalation_cannot_stop_leaves_the_alert_and_incident_as_they_were(
    client, broken_stop
):
    broken_stop.on = False
    _, token = make_integration(name="cron", kind="generic")
    assert generic(client, token).status_code == 202
    incident = Incident.objects.get()
    broken_stop.on = True

    answer = generic(client, token, status="resolved")

    assert answer.status_code == 503
    assert answer["Retry-After"] == "5"
    assert "Could not stop the incident's escalation" in answer.json()["detail"]
    assert Alert.objects.get().status == "firing"
    incident.refresh_from_db()
    assert incident.status == "triggered"
    assert not incident.timeline.filter(message__startswith="Alert resolved").exists()
