"""Every refusal answers the right status and writes nothing."""

import json

import pytest

from incidents.models import Alert, InboxEvent, Incident, Integration, TimelineEvent
from tests.factories import make_integration
from tests.ingest_payloads import am_notification, opsgenie_create, pd_event, pd_trigger

AM_URL = "/api/v1/integrations/alertmanager/"


@pytest.fixture
def am(db, service):
    return make_integration(name="prometheus", kind="alertmanager", service=service)


@pytest.fixture
def nothing_written(db):
    """Assert after the test that no alert, incident or timeline row was written."""
    yield
    assert not Alert.objects.exists()
    assert not Incident.objects.exists()
    assert not TimelineEvent.objects.exists()


def post(client, body, token=None, url=AM_URL, **extra):
    if token:
        extra.setdefault("HTTP_AUTHORIZATION", f"Bearer {token}")
    data = body if isinstance(body, str | bytes) else json.dumps(body)
    return client.post(url, data=data, content_type="application/json", **extra)


def test_malformed_json_is_400(client, am, nothing_written):
    _, token = am

    response = post(client, '{"version": "4", "alerts": [', token)

    assert response.status_code == 400
    assert "Malformed JSON" in response.json()["detail"]


def test_missing_fields_are_named(client, am, nothing_written):
    _, token = am
    payload = am_notification()
    del payload["status"]
    del payload["alerts"][0]["labels"]
    payload["alerts"][0]["startsAt"] = "yesterday"

    response = post(client, payload, token)

    assert response.status_code == 400
    body = response.json()
    assert "status" in body
    assert "alerts[0].labels" in body
    assert "alerts[0].startsAt" in body


def test_empty_body_names_the_missing_fields(client, am, nothing_written):
    _, token = am

    response = post(client, "", token)

    assert response.status_code == 400
    assert {"status", "alerts"} <= set(response.json())


def test_json_that_is_not_an_object_is_refused(client, am, nothing_written):
    _, token = am

    response = post(client, "[1, 2, 3]", token)

    assert response.status_code == 400


def test_no_token_is_401(client, am, nothing_written):
    response = post(client, am_notification())

    assert response.status_code == 401


def test_wrong_token_is_401(client, am, nothing_written):
    response = post(client, am_notification(), "not-the-token")

    assert response.status_code == 401
    assert response.json() == {"detail": "Unknown integration token."}


def test_token_of_another_kind_is_403(client, db, nothing_written):
    _, token = make_integration(name="pd", kind="pagerduty")

    response = post(client, am_notification(), token)

    assert response.status_code == 403


def test_alertmanager_token_at_pagerduty_endpoint_is_403(client, am, nothing_written):
    _, token = am

    response = post(client, pd_trigger(token), url="/v2/enqueue")

    assert response.status_code == 403
    assert response.json()["status"] == "forbidden"


def test_disabled_integration_is_403_with_a_clear_message(client, am, nothing_written):
    integration, token = am
    Integration.objects.filter(pk=integration.pk).update(enabled=False)

    response = post(client, am_notification(), token)

    assert response.status_code == 403
    assert response.json() == {"detail": "The integration 'prometheus' is disabled."}


def test_body_over_512_kb_is_413_before_parsing(client, am, nothing_written):
    _, token = am
    big = "x" * (512 * 1024 + 1)  # not even JSON: refused on its size alone

    response = post(client, big, token)

    assert response.status_code == 413


def test_declared_length_over_512_kb_is_413_without_reading(client, am, nothing_written):
    _, token = am

    response = post(client, "{}", token, CONTENT_LENGTH=str(600 * 1024))

    assert response.status_code == 413


def test_pagerduty_body_over_512_kb_is_413(client, db, nothing_written):
    _, token = make_integration(name="pd", kind="pagerduty")
    event = pd_trigger(token)
    event["payload"]["custom_details"] = {"blob": "y" * (520 * 1024)}

    response = post(client, event, url="/v2/enqueue")

    assert response.status_code == 413


def test_a_burst_over_the_rate_limit_is_429_with_retry_after(client, am):
    integration, token = am
    Integration.objects.filter(pk=integration.pk).update(
        rate_limit_per_second=1, rate_limit_burst=3
    )

    answers = [post(client, am_notification(), token) for _ in range(4)]

    assert [a.status_code for a in answers] == [202, 202, 202, 429]
    assert int(answers[-1]["Retry-After"]) >= 1
    assert "limit of 1 requests a second (bursts of up to 3)" in answers[-1].json()["detail"]
    assert InboxEvent.objects.count() == 3  # the refused request stored nothing
    alert = Alert.objects.get()
    assert alert.count == 3
    integration.refresh_from_db()
    assert integration.alert_count == 3


def test_pagerduty_rate_limit_answers_429_in_its_shape(client, db, nothing_written):
    _, token = make_integration(
        name="pd", kind="pagerduty", rate_limit_per_second=1, rate_limit_burst=1
    )
    assert post(client, pd_event(token, "resolve", "x"), url="/v2/enqueue").status_code == 202

    response = post(client, pd_event(token, "resolve", "x"), url="/v2/enqueue")

    assert response.status_code == 429
    assert int(response["Retry-After"]) >= 1
    body = response.json()
    assert body["status"] == "throttle event"
    assert "limit of 1 requests a second" in body["message"]
    assert body["errors"] == [body["message"]]
    assert InboxEvent.objects.count() == 1


def test_opsgenie_rate_limit_answers_429_in_its_shape(client, db, nothing_written):
    _, token = make_integration(
        name="og", kind="opsgenie", rate_limit_per_second=1, rate_limit_burst=1
    )
    genie = {"url": "/v2/alerts", "HTTP_AUTHORIZATION": f"GenieKey {token}"}
    url = "/v2/alerts/some-alias/close?identifierType=alias"
    assert post(client, {}, url=url, HTTP_AUTHORIZATION=f"GenieKey {token}").status_code == 202

    response = post(client, opsgenie_create(), **genie)

    assert response.status_code == 429
    assert int(response["Retry-After"]) >= 1
    body = response.json()
    assert "limit of 1 requests a second" in body["message"]
    assert "requestId" in body and "took" in body
    assert InboxEvent.objects.count() == 1


def test_under_the_rate_limit_nothing_is_refused(client, am):
    _, token = am  # the defaults: 100 a second, bursts of 1000

    answers = [post(client, am_notification(), token).status_code for _ in range(30)]

    assert answers == [202] * 30
    assert InboxEvent.objects.count() == 30


def test_no_limit_when_the_rate_or_the_burst_is_zero(client, am):
    integration, token = am
    Integration.objects.filter(pk=integration.pk).update(
        rate_limit_per_second=0, rate_limit_burst=1
    )

    answers = [post(client, am_notification(), token).status_code for _ in range(5)]

    assert answers == [202] * 5


def test_invalid_payload_does_not_count_against_the_limit(client, am):
    integration, token = am
    Integration.objects.filter(pk=integration.pk).update(
        rate_limit_per_second=1, rate_limit_burst=1
    )

    assert post(client, {"alerts": "nope"}, token).status_code == 400
    assert post(client, {"alerts": "nope"}, token).status_code == 400

    assert post(client, am_notification(), token).status_code == 202
    integration.refresh_from_db()
    assert integration.alert_count == 1


def test_nul_characters_are_dropped_not_a_server_error(client, am):
    _, token = am
    payload = am_notification()
    payload["alerts"][0]["annotations"]["summary"] = "bad\u0000byte"

    response = post(client, payload, token)

    assert response.status_code == 202
    assert Alert.objects.get().summary == "badbyte"


def test_lone_surrogate_is_refused_not_a_server_error(client, am, nothing_written):
    _, token = am
    body = json.dumps(am_notification()).replace("Checkout 5xx", "\\ud800 Checkout")

    response = post(client, body, token)

    assert response.status_code == 400
