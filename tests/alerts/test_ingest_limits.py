"""Rate limits that protect the server without refusing storms, the server guard, and the
per-process token cache (docs/ingestion.md, "Rate limits and the server guard")."""

import json
import time
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.urls import reverse
from django.utils import timezone

from incidents.alerts.inbox import inbox_drain
from incidents.alerts.integrations import integration_rotate_token
from incidents.models import Alert, InboxEvent, InboxState, Incident, Integration
from tests.factories import ServiceFactory, make_integration
from tests.ingest_payloads import am_alert, am_notification, opsgenie_create, pd_trigger
from tests.worker_stack import wait_for

AM_URL = "/api/v1/integrations/alertmanager/"


def post(client, body, token, url=AM_URL, scheme="Bearer"):
    return client.post(
        url,
        data=json.dumps(body),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"{scheme} {token}",
    )


@pytest.fixture
def am(db, service):
    return make_integration(name="prometheus", kind="alertmanager", service=service)


@pytest.fixture
def worker_mode(settings):
    """Rows wait in the inbox for an ingest worker (PostgreSQL's default)."""
    settings.TOCSIN_INGEST_APPLY = "worker"


def backed_up(integration, *, rows=1, age_seconds=300):
    """Real pending rows, as requests left them, made old: the workers are behind."""
    old = timezone.now() - timedelta(seconds=age_seconds)
    for _ in range(rows):
        InboxEvent.objects.create(
            integration=integration,
            events=[],
            event_count=0,
            received_at=old,
            not_before=old,
        )


# --- the per-integration limit, across processes ----------------------------------------------
def test_requests_other_processes_admitted_count_against_this_ones_bucket(client, am, settings):
    settings.TOCSIN_INGEST_LIMIT_REFRESH_SECONDS = 0  # look at the inbox on every request
    integration, token = am
    Integration.objects.filter(pk=integration.pk).update(
        rate_limit_per_second=1, rate_limit_burst=5
    )
    assert post(client, am_notification(), token).status_code == 202
    # Another web process accepts 5 requests of the same integration: its inbox rows.
    now = timezone.now()
    for _ in range(5):
        InboxEvent.objects.create(
            integration=integration,
            events=[],
            event_count=0,
            received_at=now,
            not_before=now,
            state=InboxState.APPLIED,
            applied_at=now,
        )

    refused = post(client, am_notification(), token)

    assert refused.status_code == 429, refused.content
    assert int(refused["Retry-After"]) >= 1
    assert InboxEvent.objects.count() == 6


def test_the_bucket_refills_at_the_rate(client, am):
    integration, token = am
    Integration.objects.filter(pk=integration.pk).update(
        rate_limit_per_second=5, rate_limit_burst=1
    )
    assert post(client, am_notification(), token).status_code == 202
    refused = post(client, am_notification(), token)
    assert refused.status_code == 429
    assert refused["Retry-After"] == "1"

    wait_for(
        lambda: post(client, am_notification(), token).status_code == 202,
        10,
        "the bucket never refilled",
    )
    assert Alert.objects.get().count == 2


# --- the server guard ---------------------------------------------------------------------------
def test_the_guard_refuses_every_format_while_the_inbox_is_backed_up_then_lets_through(
    client, am, worker_mode, settings
):
    settings.TOCSIN_INGEST_LIMIT_REFRESH_SECONDS = 0  # read the inbox on every request
    _, token = am
    _, pd_token = make_integration(name="pd", kind="pagerduty")
    _, og_token = make_integration(name="og", kind="opsgenie")
    assert post(client, am_notification(), token).status_code == 202
    assert InboxEvent.objects.filter(state=InboxState.PENDING).count() == 1
    InboxEvent.objects.update(received_at=timezone.now() - timedelta(seconds=300))

    plain = post(client, am_notification(), token)
    pagerduty = post(client, pd_trigger(pd_token), pd_token, url="/v2/enqueue")
    opsgenie = post(client, opsgenie_create(), og_token, url="/v2/alerts", scheme="GenieKey")

    for answer in (plain, pagerduty, opsgenie):
        assert answer.status_code == 429, answer.content
        assert int(answer["Retry-After"]) >= 1
    assert "behind on applying alerts" in plain.json()["detail"]
    assert pagerduty.json()["status"] == "throttle event"
    assert "behind on applying alerts" in pagerduty.json()["message"]
    assert "behind on applying alerts" in opsgenie.json()["message"]
    assert "requestId" in opsgenie.json()
    assert InboxEvent.objects.count() == 1  # the refused requests stored nothing

    settings.TOCSIN_INGEST_LIMIT_REFRESH_SECONDS = 1  # the default: one reading a second
    inbox_drain()  # the workers catch up
    assert not InboxEvent.objects.filter(state=InboxState.PENDING).exists()

    wait_for(
        lambda: post(client, am_notification(), token).status_code == 202,
        10,
        "still refused after the inbox drained",
    )


def test_the_guard_counts_pending_rows(client, am, worker_mode, settings):
    settings.TOCSIN_INGEST_GUARD_DEPTH = 3
    settings.TOCSIN_INGEST_LIMIT_REFRESH_SECONDS = 0
    _, token = am
    answers = [post(client, am_notification(), token).status_code for _ in range(5)]

    # Fresh rows, but more of them than the depth allows: the fifth request is refused.
    assert answers == [202, 202, 202, 202, 429]
    assert InboxEvent.objects.filter(state=InboxState.PENDING).count() == 4


def test_a_row_waiting_for_its_retry_does_not_turn_the_guard_on(client, am, worker_mode):
    """A broken row (a failing hook) is retried with backoff; it is no backlog, and must not
    stop every sender while it waits."""
    integration, token = am
    backed_up(integration)
    InboxEvent.objects.update(
        attempts=3, last_error="HookFailed", not_before=timezone.now() + timedelta(seconds=200)
    )

    assert post(client, am_notification(), token).status_code == 202


def test_the_guard_reads_the_inbox_at_most_once_a_refresh(client, am, worker_mode, settings):
    settings.TOCSIN_INGEST_LIMIT_REFRESH_SECONDS = 3600
    integration, token = am
    assert post(client, am_notification(), token).status_code == 202  # read: all is well
    backed_up(integration)

    # Within the interval the process keeps its reading ...
    assert post(client, am_notification(), token).status_code == 202
    settings.TOCSIN_INGEST_LIMIT_REFRESH_SECONDS = 0
    # ... and sees the backlog at its next one.
    assert post(client, am_notification(), token).status_code == 429


def test_applying_in_the_request_is_never_refused_by_the_guard(client, am, settings):
    settings.TOCSIN_INGEST_LIMIT_REFRESH_SECONDS = 0
    settings.TOCSIN_INGEST_GUARD_DEPTH = 0  # any pending row at all would turn it on
    _, token = am

    answers = [post(client, am_notification(), token).status_code for _ in range(5)]

    assert answers == [202] * 5  # each request applied its own row before the next came
    assert not InboxEvent.objects.filter(state=InboxState.PENDING).exists()


# --- the admin -----------------------------------------------------------------------------------
def test_the_integration_page_shows_its_limit_its_traffic_and_the_guard(admin_client, am):
    integration, token = am
    for _ in range(3):
        assert post(admin_client, am_notification(), token).status_code == 202
    url = reverse("admin:incidents_integration_change", args=[integration.pk])

    page = admin_client.get(url).content.decode()

    assert "100 requests a second (bursts of up to 1000)" in page
    assert "Requests accepted in the last minute: 3." in page
    assert "Server guard: off" in page
    assert 'name="rate_limit_per_second"' in page
    assert 'name="rate_limit_burst"' in page

    backed_up(integration)
    page = admin_client.get(url).content.decode()
    assert "Server guard: ON, every ingestion request is refused with 429" in page


# --- the token cache ------------------------------------------------------------------------------
TTL = 0.5


def test_a_rotated_token_stops_working_within_the_cache_time(client, am, settings):
    settings.TOCSIN_INGEST_AUTH_CACHE_SECONDS = TTL
    integration, old = am
    before_cached = time.monotonic()
    assert post(client, am_notification(), old).status_code == 202  # cached now

    new = integration_rotate_token(integration=integration)
    at_once = post(client, am_notification(), old)
    at_once_done = time.monotonic()

    # The new token works at once (unknown tokens are never cached) ...
    assert post(client, am_notification(), new).status_code == 202
    # ... the old one may still be accepted within the cache time, and is refused after it.
    if at_once_done - before_cached < TTL:
        assert at_once.status_code == 202
    wait_for(
        lambda: post(client, am_notification(), old).status_code == 401,
        10,
        "the rotated token was still accepted",
    )
    assert time.monotonic() - before_cached >= TTL


def test_a_disabled_integration_is_refused_within_the_cache_time(client, am, settings):
    settings.TOCSIN_INGEST_AUTH_CACHE_SECONDS = TTL
    integration, token = am
    assert post(client, am_notification(), token).status_code == 202
    Integration.objects.filter(pk=integration.pk).update(enabled=False)

    wait_for(
        lambda: post(client, am_notification(), token).status_code == 403,
        10,
        "the disabled integration was still accepted",
    )


def test_a_changed_service_applies_at_once_through_the_cache(client, am, settings):
    settings.TOCSIN_INGEST_AUTH_CACHE_SECONDS = 3600
    integration, token = am
    assert post(client, am_notification(), token).status_code == 202  # cached now
    payments = ServiceFactory(name="Payments", slug="payments")
    Integration.objects.filter(pk=integration.pk).update(service=payments)

    other_group = am_notification(
        am_alert("DiskFull", fingerprint="0a1b2c3d4e5f6a7b"), group="DiskFull"
    )
    assert post(client, other_group, token).status_code == 202

    newest = Incident.objects.order_by("-id").first()
    assert list(newest.services.values_list("slug", flat=True)) == ["payments"]


# --- creating and converting ----------------------------------------------------------------------
def test_create_integration_takes_a_rate_per_second_and_a_burst(db):
    out = StringIO()
    call_command(
        "create_integration", "bench", "--kind", "generic", "--rate-limit", "7", "--burst", "70",
        stdout=out,
    )  # fmt: skip

    integration = Integration.objects.get(name="bench")
    assert (integration.rate_limit_per_second, integration.rate_limit_burst) == (7, 70)


def test_the_api_shows_and_takes_the_limit(manager, client):
    client.force_login(manager)
    created = client.post(
        "/api/v1/integrations/",
        {"name": "x", "kind": "generic", "rate_limit_per_second": 0},
        content_type="application/json",
    )

    assert created.status_code == 201, created.content
    assert created.json()["rate_limit_per_second"] == 0
    assert created.json()["rate_limit_burst"] == 1000


@pytest.mark.django_db(transaction=True)
def test_migration_0020_converts_the_per_minute_limit():
    executor = MigrationExecutor(connection)
    before, after = (
        ("incidents", "0018_ingest_inbox"),
        ("incidents", "0020_integration_token_bucket"),
    )
    executor.migrate([before])
    old = executor.loader.project_state([before]).apps.get_model("incidents", "Integration")
    for name, per_minute in [("fast", 600), ("slow", 30), ("off", 0), ("default", 120)]:
        old.objects.create(
            name=name, kind="generic", token_hash=name, token_prefix=name,
            rate_limit_per_minute=per_minute,
        )  # fmt: skip

    executor = MigrationExecutor(connection)
    executor.migrate([after])
    new = executor.loader.project_state([after]).apps.get_model("incidents", "Integration")
    limits = dict(new.objects.values_list("name", "rate_limit_per_second"))
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())

    assert limits == {"fast": 10, "slow": 1, "off": 0, "default": 2}
    assert set(new.objects.values_list("rate_limit_burst", flat=True)) == {1000}
