"""Concurrent first sightings of one alert, over real HTTP against the live server's database."""

from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from incidents.core.defaults import ensure_default_severities
from incidents.models import Alert, Incident, Integration, Severity, TimelineEvent
from tests.factories import make_integration
from tests.ingest_payloads import am_alert, am_notification

PARALLEL = 40


@pytest.fixture(autouse=True)
def severities(transactional_db):
    # serialized_rollback restores the seeded rows; this keeps the test honest without it.
    ensure_default_severities(Severity)


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_40_identical_first_seen_alerts_in_parallel_make_one_alert_counted_40(server_url):
    _, token = make_integration(name="prometheus", kind="alertmanager")
    url = f"{server_url}/api/v1/integrations/alertmanager/"
    payload = am_notification()
    headers = {"Authorization": f"Bearer {token}"}
    # A rate limit of 120 a minute would (rightly) refuse some of the 40: lift it.
    Integration.objects.update(rate_limit_per_second=0)

    def send(_):
        with httpx.Client(timeout=30) as http:
            return http.post(url, json=payload, headers=headers).status_code

    with ThreadPoolExecutor(max_workers=PARALLEL) as pool:
        statuses = list(pool.map(send, range(PARALLEL)))

    assert statuses == [202] * PARALLEL
    alert = Alert.objects.get()
    assert alert.count == PARALLEL
    assert Incident.objects.count() == 1
    assert alert.incident_id == Incident.objects.get().pk
    assert TimelineEvent.objects.filter(kind="alert").count() == 1


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_parallel_notifications_of_one_group_in_any_order_never_fail(server_url):
    """Alerts in different orders lock rows in one order: no deadlock reaches the sender."""
    _, token = make_integration(name="prometheus", kind="alertmanager", rate_limit_per_second=0)
    url = f"{server_url}/api/v1/integrations/alertmanager/"
    alerts = [am_alert(fingerprint=f"{i:016x}", instance=f"host-{i}:9100") for i in range(6)]
    payloads = [am_notification(*(alerts if n % 2 else alerts[::-1])) for n in range(20)]
    headers = {"Authorization": f"Bearer {token}"}

    def send(payload):
        with httpx.Client(timeout=30) as http:
            return http.post(url, json=payload, headers=headers).status_code

    with ThreadPoolExecutor(max_workers=10) as pool:
        statuses = list(pool.map(send, payloads))

    assert statuses == [202] * 20
    assert sorted(Alert.objects.values_list("count", flat=True)) == [20] * 6
    assert Alert.objects.values("incident").distinct().count() == 1
