import pytest
from knox.models import AuthToken
from rest_framework.test import APIClient

from incidents.alerts.events import TRIGGER, AlertEvent
from incidents.alerts.pipeline import alert_ingest
from tests.factories import UserFactory, make_integration

URL = "/api/v1/alerts/"


def api(user) -> APIClient:
    client = APIClient()
    _, key = AuthToken.objects.create(user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def fire(integration, n: int, prefix: str = "k"):
    events = [
        AlertEvent(action=TRIGGER, dedup_key=f"{prefix}{i}", summary=f"Alert {i}", severity="info")
        for i in range(n)
    ]
    return alert_ingest(integration=integration, events=events)


@pytest.fixture
def integration(db, service):
    return make_integration(name="generic", kind="generic", service=service)[0]


def test_lists_alerts_with_the_fixed_fields(viewer, integration):
    fire(integration, 1)

    response = api(viewer).get(URL)

    assert response.status_code == 200
    (row,) = response.json()["results"]
    assert {"id", "dedup_key", "status", "summary", "count", "incident"} <= set(row)
    assert row["dedup_key"] == "k0"
    assert row["status"] == "firing"
    assert row["count"] == 1
    assert row["integration_name"] == "generic"
    assert row["incident"] is not None


def test_filters_by_dedup_key_status_and_incident(viewer, integration):
    fire(integration, 3)
    outcome = fire(integration, 1, prefix="other")
    (incident_id,) = outcome.incidents
    client = api(viewer)

    assert [r["dedup_key"] for r in client.get(URL, {"dedup_key": "k1"}).json()["results"]] == [
        "k1"
    ]
    assert client.get(URL, {"status": "resolved"}).json()["count"] == 0
    assert client.get(URL, {"status": "firing"}).json()["count"] == 4
    by_incident = client.get(URL, {"incident": incident_id}).json()["results"]
    assert [r["dedup_key"] for r in by_incident] == ["other0"]


def test_unknown_status_filter_is_400_naming_it(viewer, integration):
    response = api(viewer).get(URL, {"status": "burning"})

    assert response.status_code == 400
    assert "status" in response.json()


def test_needs_a_token(db):
    assert APIClient().get(URL).status_code == 401


def test_needs_the_view_alert_permission(db):
    nobody = UserFactory(username="nobody")

    assert api(nobody).get(URL).status_code == 403


@pytest.mark.parametrize("rows", [5, 50])
def test_list_runs_a_fixed_number_of_queries(
    viewer, integration, rows, django_assert_max_num_queries
):
    fire(integration, rows)
    client = api(viewer)

    with django_assert_max_num_queries(6):
        response = client.get(URL)

    assert response.json()["count"] == rows
