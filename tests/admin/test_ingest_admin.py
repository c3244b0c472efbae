import re

import pytest
from django.urls import reverse

from incidents.alerts.events import TRIGGER, AlertEvent
from incidents.alerts.pipeline import alert_ingest
from incidents.models import Integration
from incidents.models.alert import hash_token
from tests.factories import make_integration

TOKEN_RE = re.compile(r'<code class="tocsin-token">([^<]+)</code>')


def fire(integration, n, prefix="k"):
    events = [
        AlertEvent(action=TRIGGER, dedup_key=f"{prefix}{i}", summary=f"Disk {i} full")
        for i in range(n)
    ]
    return alert_ingest(integration=integration, events=events)


def test_adding_an_integration_shows_its_token_once_and_stores_only_the_hash(admin_client, service):
    response = admin_client.post(
        reverse("admin:incidents_integration_add"),
        {
            "name": "Prometheus prod",
            "kind": "alertmanager",
            "enabled": "on",
            "service": service.pk,
            "severity_mapping": "{}",
            "resolve_incident_on_alert_resolve": "on",
            "rate_limit_per_second": "100",
            "rate_limit_burst": "1000",
        },
    )

    assert response.status_code == 200, response.content
    assert "no-store" in response["Cache-Control"]
    (token,) = TOKEN_RE.findall(response.content.decode())
    integration = Integration.objects.get(name="Prometheus prod")
    assert integration.token_hash == hash_token(token)
    assert integration.token_prefix == token[:8]
    assert integration.severity_mapping == {"critical": "P1", "warning": "P2", "info": "P3"}
    change_page = admin_client.get(
        reverse("admin:incidents_integration_change", args=[integration.pk])
    )
    assert token not in change_page.content.decode()
    assert f"{token[:8]}…" in change_page.content.decode()


def test_rotate_token_action_shows_the_new_token_and_the_old_one_stops_working(
    admin_client, client, db
):
    integration, old = make_integration(name="pd", kind="pagerduty")

    response = admin_client.post(
        reverse("admin:incidents_integration_changelist"),
        {"action": "rotate_token", "_selected_action": [integration.pk]},
    )

    (new,) = TOKEN_RE.findall(response.content.decode())
    assert new != old
    assert len(new) == 32
    integration.refresh_from_db()
    assert integration.token_hash == hash_token(new)
    refused = client.post(
        "/v2/enqueue",
        {"routing_key": old, "event_action": "resolve", "dedup_key": "x"},
        content_type="application/json",
    )
    assert refused.status_code == 401


@pytest.mark.parametrize("rows", [5, 50])
def test_integration_changelist_shows_stats_in_fixed_queries(
    admin_client, service, rows, django_assert_max_num_queries
):
    for i in range(rows):
        make_integration(name=f"source {i}", kind="generic", service=service)

    with django_assert_max_num_queries(10):
        response = admin_client.get(reverse("admin:incidents_integration_changelist"))

    assert response.status_code == 200
    assert "source 0" in response.content.decode()


@pytest.mark.parametrize("rows", [5, 50])
def test_alert_changelist_is_read_only_in_fixed_queries(
    admin_client, db, rows, django_assert_max_num_queries
):
    integration, _ = make_integration(name="generic", kind="generic")
    fire(integration, rows)

    with django_assert_max_num_queries(10):
        response = admin_client.get(reverse("admin:incidents_alert_changelist"))

    assert response.status_code == 200
    body = response.content.decode()
    assert "Disk 0 full" in body
    assert "INC-" in body
    assert admin_client.get(reverse("admin:incidents_alert_add")).status_code == 403


def test_alert_changelist_filters_and_search(admin_client, db):
    integration, _ = make_integration(name="generic", kind="generic")
    fire(integration, 3)
    url = reverse("admin:incidents_alert_changelist")

    assert admin_client.get(url, {"status__exact": "firing"}).status_code == 200
    response = admin_client.get(url, {"q": "k1"})
    assert "Disk 1 full" in response.content.decode()
    assert "Disk 2 full" not in response.content.decode()


def test_incident_page_lists_its_alerts_with_counts(admin_client, db):
    integration, _ = make_integration(name="generic", kind="generic")
    fire(integration, 1)
    outcome = fire(integration, 1)
    (incident_id,) = outcome.incidents

    response = admin_client.get(reverse("admin:incidents_incident_change", args=[incident_id]))

    assert response.status_code == 200
    body = response.content.decode()
    assert "Disk 0 full" in body
    assert "alerts" in body.lower()
