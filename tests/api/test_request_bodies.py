"""Hostile bodies: deep nesting answers 400 everywhere (ingestion and REST writes), and REST
bodies are bounded in size (413). Nothing is written."""

import json

import pytest

from incidents.models import Alert, Incident, Integration, Service, TimelineEvent
from tests.factories import UserFactory, api_client_for, make_integration

pytestmark = pytest.mark.django_db

DEEP_ARRAYS = "[" * 10_000 + "]" * 10_000
DEEP_OBJECTS = '{"a":' * 10_000 + "1" + "}" * 10_000


def nested(depth: int):
    value = "leaf"
    for _ in range(depth):
        value = {"next": value}
    return value


@pytest.fixture
def nothing_written(db):
    yield
    assert not Alert.objects.exists()
    assert not Incident.objects.exists()
    assert not TimelineEvent.objects.exists()


@pytest.fixture
def api(db):
    return api_client_for(UserFactory(username="scripted", is_superuser=True))


INGESTION = [
    ("/api/v1/integrations/alertmanager/", "alertmanager", "Bearer"),
    ("/api/v1/integrations/grafana/", "grafana", "Bearer"),
    ("/api/v1/integrations/generic/", "generic", "Bearer"),
    ("/v2/alerts", "opsgenie", "GenieKey"),
    ("/v2/alerts/web-1/close?identifierType=alias", "opsgenie", "GenieKey"),
    ("/v2/alerts/web-1/acknowledge?identifierType=alias", "opsgenie", "GenieKey"),
]


@pytest.mark.parametrize("body", [DEEP_ARRAYS, DEEP_OBJECTS], ids=["arrays", "objects"])
@pytest.mark.parametrize(("url", "kind", "scheme"), INGESTION)
def test_deeply_nested_json_is_400_on_every_ingestion_endpoint(
    client, nothing_written, body, url, kind, scheme
):
    _, token = make_integration(name=kind, kind=kind, rate_limit_per_second=0)

    answer = client.post(
        url, body, content_type="application/json", HTTP_AUTHORIZATION=f"{scheme} {token}"
    )

    assert answer.status_code == 400, answer.content
    assert "nested deeper than 64 levels" in answer.content.decode()


@pytest.mark.parametrize("body", [DEEP_ARRAYS, DEEP_OBJECTS], ids=["arrays", "objects"])
def test_deeply_nested_json_is_400_on_pagerduty_enqueue_without_any_token(
    client, nothing_written, body
):
    # The routing key is inside the body: the body is parsed before anyone is authenticated.
    answer = client.post("/v2/enqueue", body, content_type="application/json")

    assert answer.status_code == 400
    assert answer.json()["status"] == "invalid event"
    assert "nested deeper than 64 levels" in answer.json()["errors"][0]


def post_generic(client, body):
    _, token = make_integration(name="cron", kind="generic")
    return client.post(
        "/api/v1/integrations/generic/",
        json.dumps(body),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )


def test_an_alert_nesting_details_past_the_limit_is_400(client, nothing_written):
    answer = post_generic(client, {"summary": "Backup failed", "details": nested(70)})

    assert answer.status_code == 400


def test_an_alert_nesting_details_within_the_limit_is_accepted(client):
    answer = post_generic(client, {"summary": "Backup failed", "details": nested(60)})

    assert answer.status_code == 202, answer.content
    assert Alert.objects.get().annotations == nested(60)


REST_WRITES = [
    "/api/v1/incidents/",
    "/api/v1/services/",
    "/api/v1/schedules/",
    "/api/v1/escalation-policies/",
    "/api/v1/integrations/",
]


@pytest.mark.parametrize("body", [DEEP_ARRAYS, DEEP_OBJECTS], ids=["arrays", "objects"])
@pytest.mark.parametrize("url", REST_WRITES)
def test_deeply_nested_json_is_400_on_rest_writes(api, nothing_written, body, url):
    answer = api.post(url, body, content_type="application/json")

    assert answer.status_code == 400, answer.content
    assert answer.json() == {
        "detail": "JSON parse error - arrays and objects are nested deeper than 64 levels"
    }
    assert not Service.objects.exists() and not Integration.objects.exists()


def test_a_20_mb_rest_body_is_413_and_nothing_is_stored(api, nothing_written):
    body = {"title": "Checkout down", "severity": "P1", "summary": "x" * (20 * 1024 * 1024)}

    answer = api.post("/api/v1/incidents/", json.dumps(body), content_type="application/json")

    assert answer.status_code == 413
    assert answer.json() == {"detail": "The body is larger than 1024 KB."}


def test_a_rest_body_just_over_the_setting_is_413(api, settings, nothing_written):
    settings.TOCSIN_API_MAX_BODY_BYTES = 1000
    body = json.dumps({"title": "Checkout down", "severity": "P1", "summary": "x" * 1000})

    answer = api.post("/api/v1/incidents/", body, content_type="application/json")

    assert answer.status_code == 413
    assert answer.json() == {"detail": "The body is larger than 1000 bytes."}
