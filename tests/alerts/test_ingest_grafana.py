import json

import pytest

from incidents.core.choices import IncidentStatus
from incidents.models import Alert, Incident
from tests.factories import make_integration
from tests.ingest_payloads import grafana_notification

URL = "/api/v1/integrations/grafana/"


@pytest.fixture
def grafana(db, service):
    return make_integration(name="grafana", kind="grafana", service=service)


def post(client, token, payload):
    return client.post(
        URL,
        data=json.dumps(payload),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )


def test_grafana_alert_opens_an_incident_linking_to_its_panel(client, grafana):
    _, token = grafana

    response = post(client, token, grafana_notification())

    assert response.status_code == 202, response.content
    incident = Incident.objects.get()
    assert incident.title == "Disk on db-1 is 91% full"
    assert incident.severity.key == "P2"  # severity=warning
    alert = Alert.objects.get()
    assert alert.dedup_key == "c6eafc1e2b5a0c3d"
    assert alert.link == "https://grafana.example/d/node/node-exporter?viewPanel=12"
    assert alert.last_payload["alerts"][0]["values"] == {"B": 91.2, "C": 1}
    assert alert.last_payload["title"].startswith("[FIRING:1]")


def test_grafana_resolved_notification_resolves_alert_and_incident(client, grafana):
    _, token = grafana
    post(client, token, grafana_notification())

    post(client, token, grafana_notification(status="resolved"))

    assert Alert.objects.get().status == "resolved"
    assert Incident.objects.get().status == IncidentStatus.RESOLVED


def test_grafana_repeats_fold_into_one_alert(client, grafana):
    _, token = grafana

    for _ in range(3):
        post(client, token, grafana_notification())

    assert Alert.objects.get().count == 3
    assert Incident.objects.count() == 1


def test_alertmanager_token_cannot_post_to_grafana(client, db):
    _, token = make_integration(name="am", kind="alertmanager")

    response = post(client, token, grafana_notification())

    assert response.status_code == 403
    assert "alertmanager" in response.json()["detail"].lower()
    assert not Alert.objects.exists()
