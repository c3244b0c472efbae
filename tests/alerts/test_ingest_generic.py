import json

import pytest

from incidents.core.choices import IncidentStatus
from incidents.models import Alert, Incident
from tests.factories import make_integration

URL = "/api/v1/integrations/generic/"


@pytest.fixture
def generic(db, service):
    return make_integration(name="cron-checks", kind="generic", service=service)


def post(client, token, payload):
    return client.post(
        URL,
        data=json.dumps(payload),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )


def test_generic_alert_opens_an_incident_and_resolves_by_dedup_key(client, generic):
    _, token = generic
    payload = {
        "summary": "Nightly backup did not run",
        "dedup_key": "backup-nightly",
        "status": "firing",
        "severity": "error",
        "source": "cron@backup-1",
        "labels": {"team": "platform"},
        "details": {"last_success": "2026-11-21T03:00:00Z", "attempts": 3},
        "link": "https://runbooks.example/backup",
    }

    response = post(client, token, payload)

    assert response.status_code == 202, response.content
    assert response.json()["dedup_key"] == "backup-nightly"
    alert = Alert.objects.get()
    assert alert.annotations == {"last_success": "2026-11-21T03:00:00Z", "attempts": 3}
    assert alert.labels == {"team": "platform"}
    assert alert.link == "https://runbooks.example/backup"
    assert alert.incident.severity.key == "P2"
    assert alert.incident.title == "Nightly backup did not run"

    response = post(
        client,
        token,
        {"summary": "Nightly backup ran", "dedup_key": "backup-nightly", "status": "resolved"},
    )

    assert response.status_code == 202
    assert Alert.objects.get().status == "resolved"
    assert Incident.objects.get().status == IncidentStatus.RESOLVED


def test_without_dedup_key_the_same_summary_and_labels_are_one_alert(client, generic):
    _, token = generic
    payload = {"summary": "Queue depth high", "status": "firing", "labels": {"queue": "mail"}}

    keys = {post(client, token, payload).json()["dedup_key"] for _ in range(3)}

    assert len(keys) == 1
    assert Alert.objects.get().count == 3


def test_severity_equal_to_one_of_ours_is_taken_as_is(client, generic):
    _, token = generic

    post(client, token, {"summary": "Payments down", "status": "firing", "severity": "P0"})

    assert Incident.objects.get().severity.key == "P0"


def test_missing_summary_and_bad_status_are_named(client, generic):
    _, token = generic

    response = post(client, token, {"status": "burning"})

    assert response.status_code == 400
    assert "status" in response.json()
    response = post(client, token, {"status": "firing"})
    assert response.status_code == 400
    assert "summary" in response.json()
    assert not Alert.objects.exists()


def test_status_defaults_to_firing(client, generic):
    _, token = generic

    response = post(client, token, {"summary": "Disk 95% full on db-1", "dedup_key": "disk-db-1"})

    assert response.status_code == 202, response.content
    alert = Alert.objects.get()
    assert (alert.status, alert.dedup_key) == ("firing", "disk-db-1")
    assert alert.incident.title == "Disk 95% full on db-1"
    # And the schema says so, for integrators reading the contract.
    schema = client.get("/api/schema/?format=json").json()
    body = schema["components"]["schemas"]["GenericAlertRequest"]
    assert body["properties"]["status"].get("default") == "firing"
    assert "status" not in body.get("required", [])
