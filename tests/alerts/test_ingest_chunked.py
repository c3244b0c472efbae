"""Chunked request bodies (Go's net/http, Node streams, `requests` with a generator) under the
server the Procfile runs: read like any other body, with the same size limits."""

import json

import httpx
import pytest
from knox.models import AuthToken

from incidents.models import Alert, Incident
from tests.factories import UserFactory, make_integration
from tests.ingest_payloads import am_notification

pytestmark = pytest.mark.django_db(transaction=True)


def chunks(body: bytes, size: int = 1000):
    """A generator body: httpx sends it with Transfer-Encoding: chunked, no Content-Length."""
    for start in range(0, len(body), size):
        yield body[start : start + size]


def post_chunked(url: str, body: bytes, authorization: str) -> httpx.Response:
    return httpx.post(
        url,
        content=chunks(body),
        headers={"Content-Type": "application/json", "Authorization": authorization},
        timeout=30,
    )


def test_a_chunked_generic_alert_is_accepted_and_stored(gunicorn_url):
    _, token = make_integration(name="cron", kind="generic")
    body = json.dumps({"summary": "Nightly backup failed", "dedup_key": "backup"}).encode()

    answer = post_chunked(f"{gunicorn_url}/api/v1/integrations/generic/", body, f"Bearer {token}")

    assert answer.request.headers["Transfer-Encoding"] == "chunked"
    assert "Content-Length" not in answer.request.headers
    assert answer.status_code == 202, answer.text
    alert = Alert.objects.get()
    assert (alert.dedup_key, alert.summary, alert.status) == (
        "backup",
        "Nightly backup failed",
        "firing",
    )
    assert alert.incident.title == "Nightly backup failed"


def test_a_chunked_alertmanager_notification_is_accepted(gunicorn_url):
    _, token = make_integration(name="prometheus", kind="alertmanager")
    body = json.dumps(am_notification()).encode()

    answer = post_chunked(
        f"{gunicorn_url}/api/v1/integrations/alertmanager/", body, f"Bearer {token}"
    )

    assert answer.status_code == 202, answer.text
    assert Alert.objects.count() == 1


def test_a_chunked_opsgenie_close_is_read_not_ignored(gunicorn_url):
    _, token = make_integration(name="og", kind="opsgenie")
    key = f"GenieKey {token}"
    created = post_chunked(
        f"{gunicorn_url}/v2/alerts", b'{"message": "Disk full", "alias": "disk-1"}', key
    )
    assert created.status_code == 202, created.text

    refused = post_chunked(
        f"{gunicorn_url}/v2/alerts/disk-1/close?identifierType=alias", b'{"note": 5}', key
    )
    closed = post_chunked(
        f"{gunicorn_url}/v2/alerts/disk-1/close?identifierType=alias",
        b'{"note": "Cleaned /var/log", "user": "rita"}',
        key,
    )

    assert refused.status_code == 400, refused.text
    assert closed.status_code == 202, closed.text
    alert = Alert.objects.get()
    assert alert.status == "resolved"
    assert alert.last_payload == {"note": "Cleaned /var/log", "user": "rita"}


def test_an_oversized_chunked_alert_is_413_and_nothing_is_stored(gunicorn_url):
    _, token = make_integration(name="cron", kind="generic")
    body = json.dumps({"summary": "Big", "details": {"blob": "x" * (600 * 1024)}}).encode()

    answer = post_chunked(f"{gunicorn_url}/api/v1/integrations/generic/", body, f"Bearer {token}")

    assert answer.status_code == 413, answer.text
    assert answer.json() == {"detail": "The body is larger than 512 KB."}
    assert not Alert.objects.exists()


def test_chunked_rest_writes_are_read_and_bounded(gunicorn_url):
    user = UserFactory(username="scripted", is_superuser=True)
    _, key = AuthToken.objects.create(user=user)
    url = f"{gunicorn_url}/api/v1/incidents/"

    created = post_chunked(url, b'{"title": "Checkout down", "severity": "P1"}', f"Token {key}")
    too_big = post_chunked(
        url,
        json.dumps({"title": "Big", "severity": "P1", "summary": "x" * (2 * 1024 * 1024)}).encode(),
        f"Token {key}",
    )

    assert created.status_code == 201, created.text
    assert too_big.status_code == 413, too_big.text
    assert list(Incident.objects.values_list("title", flat=True)) == ["Checkout down"]


def test_a_server_that_cannot_decode_chunked_bodies_answers_411_not_an_empty_body(server_url):
    # Django's development server hands the raw, still-chunked stream over with no length.
    _, token = make_integration(name="cron", kind="generic")
    body = json.dumps({"summary": "Nightly backup failed"}).encode()

    answer = post_chunked(f"{server_url}/api/v1/integrations/generic/", body, f"Bearer {token}")

    assert answer.status_code == 411, answer.text
    assert answer.json() == {
        "detail": "This server cannot read a chunked body; send a Content-Length."
    }
    assert not Alert.objects.exists()
