import base64
import json
from datetime import UTC, datetime

import pytest

from incidents.core.choices import IncidentStatus, TimelineKind
from incidents.models import Alert, InboxEvent, Incident, Integration, TimelineEvent
from tests.factories import make_integration
from tests.ingest_payloads import am_alert, am_notification

URL = "/api/v1/integrations/alertmanager/"


@pytest.fixture
def am(db, service):
    return make_integration(name="prometheus", kind="alertmanager", service=service)


def post(client, token, payload, **headers):
    headers.setdefault("HTTP_AUTHORIZATION", f"Bearer {token}")
    return client.post(URL, data=json.dumps(payload), content_type="application/json", **headers)


def test_firing_alert_opens_a_triggered_incident_on_the_integration_service(client, am, service):
    _, token = am

    response = post(client, token, am_notification())

    assert response.status_code == 202, response.content
    incident = Incident.objects.get()
    body = response.json()
    assert body == {
        "status": "accepted",
        "alerts": 1,
        "incidents": [incident.pk],
        "request_id": str(InboxEvent.objects.get().request_id),
    }
    assert incident.title == "Checkout 5xx rate above 5%"
    assert incident.status == IncidentStatus.TRIGGERED
    assert incident.severity.key == "P1"  # severity=critical
    assert list(incident.services.all()) == [service]
    alert = Alert.objects.get()
    assert alert.incident == incident
    assert alert.dedup_key == "4f3c5a9b1d2e6f70"
    assert alert.status == "firing"
    assert alert.count == 1
    assert alert.severity == "critical"
    assert alert.labels["alertname"] == "HighErrorRate"
    assert alert.link.startswith("http://prometheus.example:9090/graph")
    assert alert.source == "checkout-1:9100"
    assert alert.resolved_at is None
    kinds = list(
        incident.timeline.exclude(kind=TimelineKind.ESCALATION).values_list("kind", "actor_label")
    )
    assert kinds == [
        (TimelineKind.CREATED, "alertmanager: prometheus"),
        (TimelineKind.ALERT, "alertmanager: prometheus"),
    ]


def test_nanosecond_start_time_parses_and_go_zero_end_means_open(client, am):
    _, token = am

    post(client, token, am_notification())

    incident = Incident.objects.get()
    assert incident.started_at == datetime(2026, 11, 23, 1, 54, 28, 414119, tzinfo=UTC)
    assert Alert.objects.get().status == "firing"


def test_title_falls_back_to_alertname_without_summary_annotation(client, am):
    _, token = am

    post(client, token, am_notification(am_alert("NodeDown", summary=None, severity="warning")))

    incident = Incident.objects.get()
    assert incident.title == "NodeDown"
    assert incident.severity.key == "P2"


def test_replaying_the_same_notification_20_times_makes_one_incident_and_counts(client, am):
    integration, token = am
    payload = am_notification(
        am_alert(fingerprint="aaaaaaaaaaaaaaa1", instance="checkout-1:9100"),
        am_alert(fingerprint="aaaaaaaaaaaaaaa2", instance="checkout-2:9100"),
        truncated=3,
    )

    for _ in range(20):
        assert post(client, token, payload).status_code == 202

    assert Incident.objects.count() == 1
    alerts = Alert.objects.order_by("dedup_key")
    assert [(a.dedup_key, a.count, a.status) for a in alerts] == [
        ("aaaaaaaaaaaaaaa1", 20, "firing"),
        ("aaaaaaaaaaaaaaa2", 20, "firing"),
    ]
    assert alerts[0].last_payload["truncatedAlerts"] == 3
    assert alerts[0].last_payload["alerts"][0]["fingerprint"] == "aaaaaaaaaaaaaaa1"
    # Two first sightings, not forty rows of repeats.
    assert TimelineEvent.objects.filter(kind=TimelineKind.ALERT).count() == 2
    integration.refresh_from_db()
    assert integration.alert_count == 40
    assert integration.last_alert_at is not None


def test_partial_resolve_resolves_that_alert_only_and_full_resolve_resolves_the_incident(
    client, am
):
    _, token = am
    one = am_alert(fingerprint="bbbbbbbbbbbbbbb1", instance="checkout-1:9100")
    two = am_alert(fingerprint="bbbbbbbbbbbbbbb2", instance="checkout-2:9100")
    post(client, token, am_notification(one, two))

    one_resolved = {**one, "status": "resolved", "endsAt": "2026-11-23T02:10:00.5Z"}
    response = post(client, token, am_notification(one_resolved, two))

    assert response.status_code == 202
    incident = Incident.objects.get()
    assert incident.status == IncidentStatus.TRIGGERED
    statuses = dict(Alert.objects.values_list("dedup_key", "status"))
    assert statuses == {"bbbbbbbbbbbbbbb1": "resolved", "bbbbbbbbbbbbbbb2": "firing"}
    assert Alert.objects.get(dedup_key="bbbbbbbbbbbbbbb1").resolved_at is not None

    two_resolved = {**two, "status": "resolved", "endsAt": "2026-11-23T02:12:00Z"}
    post(client, token, am_notification(one_resolved, two_resolved))

    incident.refresh_from_db()
    assert incident.status == IncidentStatus.RESOLVED
    assert incident.resolved_at is not None
    assert set(Alert.objects.values_list("status", flat=True)) == {"resolved"}
    messages = list(incident.timeline.values_list("message", flat=True))
    assert sum("Alert resolved" in m for m in messages) == 2
    moves = incident.timeline.filter(kind=TimelineKind.STATUS).values_list("message", flat=True)
    assert list(moves)[-1].startswith("alertmanager: prometheus changed status from Triggered")


def test_incident_stays_open_when_the_integration_does_not_resolve_incidents(client, am):
    integration, token = am
    Integration.objects.filter(pk=integration.pk).update(resolve_incident_on_alert_resolve=False)
    post(client, token, am_notification())

    post(client, token, am_notification(am_alert(status="resolved")))

    assert Alert.objects.get().status == "resolved"
    assert Incident.objects.get().status == IncidentStatus.TRIGGERED


def test_new_alert_in_the_group_joins_the_open_incident(client, am):
    _, token = am
    post(client, token, am_notification(am_alert(fingerprint="ccccccccccccccc1")))

    post(
        client,
        token,
        am_notification(
            am_alert(fingerprint="ccccccccccccccc1"),
            am_alert(fingerprint="ccccccccccccccc2", instance="checkout-2:9100"),
        ),
    )

    incident = Incident.objects.get()
    assert incident.alerts.count() == 2
    assert incident.timeline.filter(kind=TimelineKind.ALERT).count() == 2


def test_another_group_opens_another_incident(client, am):
    _, token = am
    post(client, token, am_notification(am_alert(fingerprint="ddddddddddddddd1")))

    post(
        client,
        token,
        am_notification(am_alert("DiskFull", fingerprint="ddddddddddddddd2"), group="DiskFull"),
    )

    assert Incident.objects.count() == 2


def test_refiring_after_resolve_opens_a_new_alert_and_incident(client, am):
    _, token = am
    post(client, token, am_notification())
    post(client, token, am_notification(am_alert(status="resolved")))

    post(client, token, am_notification())

    assert Alert.objects.filter(dedup_key="4f3c5a9b1d2e6f70").count() == 2
    assert Alert.objects.firing().count() == 1
    assert Incident.objects.count() == 2
    assert Incident.objects.open().count() == 1


def test_resolve_for_an_alert_never_seen_is_accepted_and_ignored(client, am):
    _, token = am

    response = post(client, token, am_notification(am_alert(status="resolved")))

    assert response.status_code == 202
    assert not Alert.objects.exists()
    assert not Incident.objects.exists()


def test_basic_auth_with_the_token_as_password_is_accepted(client, am):
    _, token = am
    credentials = base64.b64encode(f"alertmanager:{token}".encode()).decode()

    response = post(client, token, am_notification(), HTTP_AUTHORIZATION=f"Basic {credentials}")

    assert response.status_code == 202
    assert Alert.objects.count() == 1


def test_severity_mapping_of_the_integration_overrides_the_defaults(client, am):
    integration, token = am
    integration.severity_mapping = {"critical": "P0"}
    integration.save()

    post(client, token, am_notification())

    assert Incident.objects.get().severity.key == "P0"


def test_more_severe_alert_raises_the_group_incident_severity(client, am):
    _, token = am
    post(client, token, am_notification(am_alert(fingerprint="eeeeeeeeeeeeeee1", severity="info")))
    assert Incident.objects.get().severity.key == "P3"

    post(
        client,
        token,
        am_notification(
            am_alert(fingerprint="eeeeeeeeeeeeeee1", severity="info"),
            am_alert(fingerprint="eeeeeeeeeeeeeee2", severity="critical", instance="x:1"),
        ),
    )

    assert Incident.objects.get().severity.key == "P1"
