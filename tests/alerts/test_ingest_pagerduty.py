import json

import pytest

from incidents.core.choices import IncidentStatus, TimelineKind
from incidents.models import Alert, Incident, TimelineEvent
from tests.factories import make_integration
from tests.ingest_payloads import pd_event, pd_trigger

URL = "/v2/enqueue"


@pytest.fixture
def pd(db, service):
    return make_integration(name="datadog", kind="pagerduty", service=service)


def post(client, payload):
    return client.post(URL, data=json.dumps(payload), content_type="application/json")


def test_routing_key_is_32_characters(pd):
    _, token = pd
    assert len(token) == 32


def test_trigger_without_dedup_key_gets_one_generated_and_returned(client, pd):
    _, token = pd

    first = post(client, pd_trigger(token))
    second = post(client, pd_trigger(token))

    assert first.status_code == 202, first.content
    body = first.json()
    assert body["status"] == "success"
    assert body["message"] == "Event processed"
    assert body["dedup_key"]
    assert second.json()["dedup_key"] != body["dedup_key"]
    assert Alert.objects.count() == 2
    alert = Alert.objects.get(dedup_key=body["dedup_key"])
    assert alert.summary == "DISK at 99% on machine prod-datapipe03.example.com"
    assert alert.source == "prod-datapipe03.example.com"
    assert alert.link == "https://example.com/"
    assert alert.labels == {
        "component": "mysql",
        "group": "prod-datapipe",
        "class": "disk",
        "source": "prod-datapipe03.example.com",
    }
    assert alert.annotations["custom_details"]["free space"] == "1%"
    assert alert.annotations["images"][0]["alt"] == "Example text"
    assert Incident.objects.count() == 2


def test_triggers_with_the_same_dedup_key_fold_into_one_alert(client, pd):
    _, token = pd

    for _ in range(3):
        response = post(client, pd_trigger(token, dedup_key="srv01/mysql"))
        assert response.json()["dedup_key"] == "srv01/mysql"

    alert = Alert.objects.get()
    assert alert.count == 3
    assert Incident.objects.count() == 1


def test_severity_maps_pagerduty_levels(client, pd):
    _, token = pd

    post(client, pd_trigger(token, dedup_key="a", severity="critical"))
    post(client, pd_trigger(token, dedup_key="b", severity="error"))
    post(client, pd_trigger(token, dedup_key="c", severity="warning"))

    keys = {a.dedup_key: a.incident.severity.key for a in Alert.objects.select_related("incident")}
    assert keys == {"a": "P1", "b": "P2", "c": "P3"}


def test_acknowledge_acknowledges_the_incident_and_resolve_resolves_it(client, pd):
    _, token = pd
    post(client, pd_trigger(token, dedup_key="srv01/mysql"))

    ack = post(client, pd_event(token, "acknowledge", "srv01/mysql"))

    assert ack.status_code == 202
    assert ack.json() == {
        "status": "success",
        "message": "Event processed",
        "dedup_key": "srv01/mysql",
    }
    incident = Incident.objects.get()
    assert incident.status == IncidentStatus.ACKNOWLEDGED
    assert Alert.objects.get().acknowledged_at is not None

    post(client, pd_event(token, "resolve", "srv01/mysql"))

    incident.refresh_from_db()
    assert incident.status == IncidentStatus.RESOLVED
    assert Alert.objects.get().status == "resolved"
    alert_rows = incident.timeline.filter(kind=TimelineKind.ALERT).values_list("message", flat=True)
    assert [m.split(":")[0] for m in alert_rows] == [
        "Alert firing",
        "Alert acknowledged by the sender",
        "Alert resolved",
    ]


def test_trigger_after_resolve_opens_a_new_alert(client, pd):
    _, token = pd
    post(client, pd_trigger(token, dedup_key="srv01/mysql"))
    post(client, pd_event(token, "resolve", "srv01/mysql"))

    post(client, pd_trigger(token, dedup_key="srv01/mysql"))

    alerts = Alert.objects.filter(dedup_key="srv01/mysql").order_by("id")
    assert [a.status for a in alerts] == ["resolved", "firing"]
    assert alerts[1].count == 1
    assert Incident.objects.open().count() == 1


@pytest.mark.parametrize("action", ["acknowledge", "resolve"])
def test_acknowledge_or_resolve_for_unknown_key_is_accepted_and_ignored(client, pd, action):
    _, token = pd

    response = post(client, pd_event(token, action, "never-seen"))

    assert response.status_code == 202
    assert response.json()["dedup_key"] == "never-seen"
    assert not Alert.objects.exists()
    assert not TimelineEvent.objects.exists()


def test_invalid_event_answers_like_pagerduty_and_names_the_fields(client, pd):
    _, token = pd
    event = pd_trigger(token)
    del event["payload"]["source"]
    event["payload"]["severity"] = "apocalyptic"

    response = post(client, event)

    assert response.status_code == 400
    body = response.json()
    assert body["status"] == "invalid event"
    assert body["message"] == "Event object is invalid"
    joined = " ".join(body["errors"])
    assert "payload.source" in joined
    assert "payload.severity" in joined
    assert not Alert.objects.exists()


def test_resolve_without_dedup_key_is_invalid(client, pd):
    _, token = pd

    response = post(client, {"routing_key": token, "event_action": "resolve"})

    assert response.status_code == 400
    assert any("dedup_key" in e for e in response.json()["errors"])


def test_unknown_routing_key_is_refused(client, pd):
    response = post(client, pd_trigger("0" * 32))

    assert response.status_code == 401
    assert response.json()["status"] == "unauthorized"
    assert not Alert.objects.exists()
