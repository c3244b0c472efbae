"""Health probes: /health is liveness, /health/ready checks the database and the broker (and
reports the ingest inbox), /health/ingest judges the inbox's backlog."""

import socket
from datetime import timedelta

import kombu.pools
import pytest
from django.utils import timezone

from config.celery import app as celery_app
from incidents.models import InboxEvent
from tests.factories import make_integration


def test_health_answers_ok(client):
    answer = client.get("/health")
    assert answer.status_code == 200
    assert answer.json() == {"status": "ok"}


@pytest.mark.django_db
def test_ready_when_database_and_broker_answer(client):
    answer = client.get("/health/ready")
    assert answer.status_code == 200, answer.content
    assert answer.json()["checks"] == {"database": "ok", "broker": "ok"}


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def unreachable_broker():
    """Point Celery at a Redis port nobody listens on, for this test only."""
    saved = celery_app.conf.broker_url
    celery_app.conf.broker_url = f"redis://127.0.0.1:{_closed_port()}/0"
    _fresh_broker_pools()
    try:
        yield
    finally:
        celery_app.conf.broker_url = saved
        _fresh_broker_pools()


def _fresh_broker_pools() -> None:
    """Drop the pooled broker connections so the next publish connects to the broker_url now
    set. Closing the pools alone (force_close_all) would leave them closed for every later test
    in this process: their publishes fail with "Acquire on closed pool"."""
    kombu.pools.reset()
    celery_app._pool = None
    celery_app.amqp._producer_pool = None


@pytest.mark.django_db
def test_ready_is_503_naming_the_broker_when_it_is_down(client, unreachable_broker):
    answer = client.get("/health/ready")
    assert answer.status_code == 503
    body = answer.json()
    assert body["down"] == ["broker"]
    assert body["checks"]["database"] == "ok"
    assert body["checks"]["broker"] != "ok"


def test_health_is_not_redirected_to_https(client, settings):
    settings.SECURE_SSL_REDIRECT = True
    assert client.get("/health").status_code == 200


# --- the ingest inbox: reported by /health/ready, judged by /health/ingest -----------------
def _inbox_row(integration, *, received_seconds_ago: float, applied: bool = False):
    received = timezone.now() - timedelta(seconds=received_seconds_ago)
    return InboxEvent.objects.create(
        integration=integration,
        events=[],
        event_count=0,
        received_at=received,
        not_before=received,
        state="applied" if applied else "pending",
        applied_at=received if applied else None,
    )


@pytest.fixture
def og(db, service):
    integration, _ = make_integration(name="og", kind="opsgenie", service=service)
    return integration


def test_ready_reports_the_inbox_backlog_and_stays_ready_however_old(client, og, settings):
    settings.TOCSIN_INGEST_BACKLOG_SECONDS = 30
    _inbox_row(og, received_seconds_ago=600)
    _inbox_row(og, received_seconds_ago=5)
    _inbox_row(og, received_seconds_ago=900, applied=True)  # applied: not a backlog

    answer = client.get("/health/ready")

    assert answer.status_code == 200, answer.content
    body = answer.json()
    assert body["status"] == "ok"
    assert body["checks"] == {"database": "ok", "broker": "ok"}
    assert body["inbox"]["depth"] == 2
    assert 600 <= body["inbox"]["oldest_age_seconds"] < 660


def test_ingest_is_ok_with_an_empty_inbox(client, db):
    answer = client.get("/health/ingest")

    assert answer.status_code == 200
    assert answer.json() == {"status": "ok", "depth": 0, "oldest_age_seconds": 0.0}
    assert "no-cache" in answer["Cache-Control"]


def test_ingest_is_ok_while_the_oldest_pending_row_is_within_the_limit(client, og, settings):
    settings.TOCSIN_INGEST_BACKLOG_SECONDS = 30
    _inbox_row(og, received_seconds_ago=10)
    _inbox_row(og, received_seconds_ago=3600, applied=True)

    answer = client.get("/health/ingest")

    assert answer.status_code == 200
    body = answer.json()
    assert body["status"] == "ok"
    assert body["depth"] == 1
    assert 10 <= body["oldest_age_seconds"] < 30


def test_ingest_is_503_once_the_oldest_pending_row_waited_past_the_limit(client, og, settings):
    settings.TOCSIN_INGEST_BACKLOG_SECONDS = 30
    _inbox_row(og, received_seconds_ago=45)
    _inbox_row(og, received_seconds_ago=1)

    answer = client.get("/health/ingest")

    assert answer.status_code == 503
    body = answer.json()
    assert body["status"] == "backlogged"
    assert body["depth"] == 2
    assert 45 <= body["oldest_age_seconds"] < 90
    assert body["detail"].startswith("2 requests wait in the inbox; the oldest for 4")
    assert "limit TOCSIN_INGEST_BACKLOG_SECONDS = 30 s" in body["detail"]


def test_ingest_follows_the_setting(client, og, settings):
    _inbox_row(og, received_seconds_ago=45)

    settings.TOCSIN_INGEST_BACKLOG_SECONDS = 60
    assert client.get("/health/ingest").status_code == 200
    settings.TOCSIN_INGEST_BACKLOG_SECONDS = 40
    assert client.get("/health/ingest").status_code == 503
