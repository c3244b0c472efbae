"""Opsgenie's request status (`GET /v2/alerts/requests/{requestId}`), asked through Opsgenie's
own Python SDK against a live server, and through the test client for the refusals."""

import json
import uuid
from datetime import timedelta

import opsgenie_sdk
import pytest
from opsgenie_sdk.exceptions import ApiException

from incidents.alerts.inbox import inbox_drain
from incidents.models import Alert, InboxEvent
from tests.factories import make_integration


@pytest.fixture
def alert_api(server_url):
    """Opsgenie's AlertApi for a token, speaking to the live server."""
    clients = []

    def api(token: str) -> opsgenie_sdk.AlertApi:
        conf = opsgenie_sdk.configuration.Configuration()
        conf.host = server_url
        conf.api_key["Authorization"] = token
        conf.retry_enabled = False  # an error answer is the test's to see, not the SDK's to retry
        clients.append(opsgenie_sdk.api_client.ApiClient(configuration=conf))
        return opsgenie_sdk.AlertApi(api_client=clients[-1])

    yield api
    # The SDK keeps its connections alive, and with them the server's request threads and their
    # database sessions: close them before the server stops and the test database is flushed.
    for client in clients:
        client.rest_client.pool_manager.clear()


def create(api: opsgenie_sdk.AlertApi, alias: str = "db-down") -> str:
    payload = opsgenie_sdk.CreateAlertPayload(message="Database down", alias=alias, priority="P1")
    return api.create_alert(create_alert_payload=payload).request_id


@pytest.fixture
def og(transactional_db, service):
    return make_integration(name="opsgenie-bridge", kind="opsgenie", service=service)


def test_a_create_waiting_for_a_worker_is_being_processed_then_created(settings, alert_api, og):
    settings.TOCSIN_INGEST_APPLY = "worker"
    integration, token = og
    api = alert_api(token)

    request_id = create(api)
    waiting = api.get_request_status(request_id=request_id)

    assert waiting.data.is_success is False
    assert waiting.data.status == "Request will be processed"
    assert waiting.data.action == "Create"
    assert waiting.data.alias == "db-down"
    assert waiting.data.integration_id == str(integration.pk)
    assert waiting.data.alert_id is None
    assert not Alert.objects.exists()

    assert inbox_drain() == 1
    done = api.get_request_status(request_id=request_id)

    alert = Alert.objects.get()
    assert done.data.is_success is True
    assert done.data.status == "Created alert"
    assert done.data.action == "Create"
    assert done.data.alert_id == str(alert.pk)
    assert done.data.alias == "db-down"
    assert done.data.integration_id == str(integration.pk)
    row = InboxEvent.objects.get()
    assert abs(done.data.processed_at - row.applied_at) < timedelta(milliseconds=1)
    uuid.UUID(done.request_id)  # the answer's own request id
    assert done.request_id != request_id


def test_requests_applied_in_the_request_answer_at_once(settings, alert_api, og):
    settings.TOCSIN_INGEST_APPLY = "request"
    _, token = og
    api = alert_api(token)

    created = api.get_request_status(request_id=create(api))
    alert = Alert.objects.get()
    assert (created.data.is_success, created.data.status) == (True, "Created alert")
    assert created.data.alert_id == str(alert.pk)

    ack = api.acknowledge_alert(
        identifier="db-down",
        identifier_type="alias",
        acknowledge_alert_payload=opsgenie_sdk.AcknowledgeAlertPayload(user="Monitoring"),
    )
    acknowledged = api.get_request_status(request_id=ack.request_id)
    assert (acknowledged.data.action, acknowledged.data.status) == (
        "Acknowledge",
        "Acknowledged alert",
    )
    assert acknowledged.data.is_success is True

    close = api.close_alert(identifier=str(alert.pk), identifier_type="id")
    closed = api.get_request_status(request_id=close.request_id)
    assert (closed.data.action, closed.data.status, closed.data.is_success) == (
        "Close",
        "Closed alert",
        True,
    )
    assert closed.data.alert_id == str(alert.pk)
    alert.refresh_from_db()
    assert alert.status == "resolved"


def test_a_close_of_an_alert_that_does_not_fire_is_applied_without_success(settings, alert_api, og):
    settings.TOCSIN_INGEST_APPLY = "request"
    _, token = og
    api = alert_api(token)

    close = api.close_alert(identifier="never-sent", identifier_type="alias")
    status = api.get_request_status(request_id=close.request_id)

    assert status.data.is_success is False
    assert status.data.action == "Close"
    assert status.data.status.startswith("Alert does not exist or does not fire")
    assert "ignored" in status.data.status  # what applying it did
    assert status.data.alert_id is None
    assert status.data.processed_at is not None


def test_another_integrations_request_is_not_found(settings, alert_api, og, service):
    settings.TOCSIN_INGEST_APPLY = "worker"
    _, token = og
    _, other_token = make_integration(name="other-bridge", kind="opsgenie", service=service)
    request_id = create(alert_api(token))

    with pytest.raises(ApiException) as refused:
        alert_api(other_token).get_request_status(request_id=request_id)

    assert refused.value.status == 404
    body = json.loads(refused.value.body)
    assert body["message"].startswith("Request not found")
    assert {"message", "took", "requestId"} <= set(body)  # (the SDK adds the "url" it asked)


# --- the same refusals, through the test client --------------------------------------------
@pytest.fixture
def og_here(db, service):
    return make_integration(name="opsgenie-bridge", kind="opsgenie", service=service)


def status(client, request_id: str, token: str | None):
    headers = {"HTTP_AUTHORIZATION": f"GenieKey {token}"} if token else {}
    return client.get(f"/v2/alerts/requests/{request_id}", **headers)


@pytest.mark.parametrize("request_id", ["6d1f0c5e-0b7a-4b1e-9a57-3f7c2d9e8a41", "not-a-uuid"])
def test_an_unknown_or_malformed_request_id_is_not_found(client, og_here, request_id):
    _, token = og_here

    answer = status(client, request_id, token)

    assert answer.status_code == 404
    assert answer.json()["message"].startswith("Request not found")
    assert "24 h" in answer.json()["message"]


def test_without_a_genie_key_the_status_is_refused(client, og_here):
    answer = status(client, str(uuid.uuid4()), None)

    assert answer.status_code == 401
    assert answer.json()["message"] == "Authenticate with the integration's token."


def test_another_kinds_token_is_refused(client, service):
    _, token = make_integration(name="prom", kind="alertmanager", service=service)

    answer = status(client, str(uuid.uuid4()), token)

    assert answer.status_code == 403
    assert "cannot post" in answer.json()["message"]
