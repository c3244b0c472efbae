"""A REST write whose required hook fails answers 503 with Retry-After and changes nothing."""

import pytest

from incidents.models import Incident, TimelineEvent
from tests.api.test_incidents_api import client_for
from tests.broken_hooks import broken_start, broken_stop
from tests.factories import make_incident

pytestmark = pytest.mark.django_db


def test_opening_an_incident_when_paging_cannot_start_is_503_and_stores_nothing(manager):
    with broken_start():
        answer = client_for(manager).post(
            "/api/v1/incidents/", {"title": "Checkout down", "severity": "P1"}, format="json"
        )
    assert answer.status_code == 503
    assert answer["Retry-After"] == "5"
    assert "escalation" in answer.json()["detail"]
    assert not Incident.objects.exists()
    assert not TimelineEvent.objects.exists()


def test_acknowledging_when_paging_cannot_stop_is_503_and_the_incident_stays_triggered(manager):
    incident = make_incident(title="Checkout down")
    with broken_stop():
        answer = client_for(manager).post(f"/api/v1/incidents/{incident.pk}/acknowledge/")
    assert answer.status_code == 503
    assert answer["Retry-After"] == "5"
    incident.refresh_from_db()
    assert incident.status == "triggered"
