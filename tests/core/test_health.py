"""Health probes: /health is liveness, /health/ready checks the database and the broker."""

import socket

import kombu.pools
import pytest

from config.celery import app as celery_app


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
