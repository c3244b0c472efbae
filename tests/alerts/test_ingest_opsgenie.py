import json
import uuid

import pytest

from incidents.core.choices import IncidentStatus
from incidents.models import Alert, Incident
from tests.factories import make_integration
from tests.ingest_payloads import opsgenie_create


@pytest.fixture
def og(db, service):
    return make_integration(name="opsgenie-bridge", kind="opsgenie", service=service)


def post(client, token, url, payload=None):
    return client.post(
        url,
        data=json.dumps(payload) if payload is not None else "",
        content_type="application/json",
        HTTP_AUTHORIZATION=f"GenieKey {token}",
    )


def test_create_answers_like_opsgenie_and_opens_an_incident(client, og):
    _, token = og

    response = post(client, token, "/v2/alerts", opsgenie_create())

    assert response.status_code == 202, response.content
    body = response.json()
    assert body["result"] == "Request will be processed"
    assert isinstance(body["took"], float)
    uuid.UUID(body["requestId"])
    alert = Alert.objects.get()
    assert alert.dedup_key == "life-is-too-short-for-no-alias"
    assert alert.summary == "An example alert message"
    assert alert.labels == {"key1": "value1", "key2": "value2"}
    assert alert.annotations["tags"] == ["OverwriteQuietHours", "Critical"]
    assert alert.incident.severity.key == "P1"
    assert alert.incident.title == "An example alert message"


def test_repeats_of_an_alias_increase_the_count(client, og):
    _, token = og

    for _ in range(4):
        post(client, token, "/v2/alerts", opsgenie_create())

    assert Alert.objects.get().count == 4
    assert Incident.objects.count() == 1


@pytest.mark.parametrize(
    ("priority", "ours"), [("P1", "P1"), ("P2", "P2"), ("P4", "P3"), ("P5", "P3")]
)
def test_priorities_map_to_our_severities(client, og, priority, ours):
    _, token = og

    post(client, token, "/v2/alerts", opsgenie_create(alias=f"a-{priority}", priority=priority))

    assert Alert.objects.get().incident.severity.key == ours


def test_message_over_130_characters_is_cut_like_opsgenie_does(client, og):
    _, token = og
    payload = {"message": "x" * 200, "alias": "long"}

    post(client, token, "/v2/alerts", payload)

    assert Alert.objects.get().summary == "x" * 130


def test_close_by_alias_resolves_the_alert_and_its_incident(client, og):
    _, token = og
    post(client, token, "/v2/alerts", opsgenie_create(alias="db-down"))

    response = post(
        client, token, "/v2/alerts/db-down/close?identifierType=alias", {"user": "Monitoring"}
    )

    assert response.status_code == 202
    assert response.json()["result"] == "Request will be processed"
    assert Alert.objects.get().status == "resolved"
    assert Incident.objects.get().status == IncidentStatus.RESOLVED


def test_close_by_id_resolves_the_alert(client, og):
    _, token = og
    post(client, token, "/v2/alerts", opsgenie_create(alias="db-down"))
    alert = Alert.objects.get()

    response = post(client, token, f"/v2/alerts/{alert.pk}/close")

    assert response.status_code == 202
    alert.refresh_from_db()
    assert alert.status == "resolved"


def test_close_by_tiny_id_resolves_the_alert(client, og):
    _, token = og
    post(client, token, "/v2/alerts", opsgenie_create(alias="db-down"))
    alert = Alert.objects.get()

    post(client, token, f"/v2/alerts/{alert.pk}/close?identifierType=tiny")

    alert.refresh_from_db()
    assert alert.status == "resolved"


def test_acknowledge_by_alias_acknowledges_the_incident(client, og):
    _, token = og
    post(client, token, "/v2/alerts", opsgenie_create(alias="db-down"))

    response = post(client, token, "/v2/alerts/db-down/acknowledge?identifierType=alias", {})

    assert response.status_code == 202
    assert Incident.objects.get().status == IncidentStatus.ACKNOWLEDGED
    assert Alert.objects.get().acknowledged_at is not None


def test_alias_reopens_a_new_alert_after_close(client, og):
    _, token = og
    post(client, token, "/v2/alerts", opsgenie_create(alias="db-down"))
    post(client, token, "/v2/alerts/db-down/close?identifierType=alias")

    post(client, token, "/v2/alerts", opsgenie_create(alias="db-down"))

    assert list(Alert.objects.order_by("id").values_list("status", flat=True)) == [
        "resolved",
        "firing",
    ]


def test_close_of_unknown_alert_is_accepted_and_ignored(client, og):
    _, token = og

    response = post(client, token, "/v2/alerts/nope/close?identifierType=alias")

    assert response.status_code == 202
    assert not Alert.objects.exists()


def test_unknown_identifier_type_is_refused(client, og):
    _, token = og

    response = post(client, token, "/v2/alerts/x/close?identifierType=name")

    assert response.status_code == 400
    assert "identifierType" in response.json()["errors"]


def test_missing_message_is_refused_naming_it(client, og):
    _, token = og

    response = post(client, token, "/v2/alerts", {"alias": "x"})

    assert response.status_code == 400
    body = response.json()
    assert "message" in body["errors"]
    uuid.UUID(body["requestId"])
    assert not Alert.objects.exists()


def test_geniekey_header_is_required(client, og):
    response = client.post(
        "/v2/alerts", data=json.dumps(opsgenie_create()), content_type="application/json"
    )

    assert response.status_code == 401
    assert not Alert.objects.exists()
