"""Configuring an integration in the admin: its severity mapping is checked on save."""

import pytest
from django.urls import reverse

from incidents.models import Integration
from tests.factories import make_integration

pytestmark = pytest.mark.django_db


def add_form(**overrides):
    return {
        "name": "Prometheus prod",
        "kind": "alertmanager",
        "enabled": "on",
        "severity_mapping": "{}",
        "resolve_incident_on_alert_resolve": "on",
        "rate_limit_per_minute": "120",
        **overrides,
    }


def test_a_mapping_to_an_unknown_severity_is_refused_naming_it(admin_client):
    response = admin_client.post(
        reverse("admin:incidents_integration_add"),
        add_form(severity_mapping='{"critical": "P7", "warning": "P2"}'),
    )

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert errors["severity_mapping"] == [
        "Unknown severity: 'P7' (for 'critical'). Our severities are P0, P1, P2, P3."
    ]
    assert not Integration.objects.exists()


def test_changing_a_mapping_to_an_unknown_severity_is_refused(admin_client):
    integration, _ = make_integration(name="prom", kind="alertmanager")
    url = reverse("admin:incidents_integration_change", args=[integration.pk])

    response = admin_client.post(
        url, add_form(name="prom", severity_mapping='{"critical": "P7", "page": 1}')
    )

    assert response.status_code == 200
    (message,) = response.context["adminform"].form.errors["severity_mapping"]
    assert "'P7' (for 'critical')" in message and "1 (for 'page')" in message
    integration.refresh_from_db()
    assert integration.severity_mapping == {"critical": "P1", "warning": "P2", "info": "P3"}


def test_a_mapping_to_known_severities_saves_whatever_their_case(admin_client):
    integration, _ = make_integration(name="prom", kind="alertmanager")
    url = reverse("admin:incidents_integration_change", args=[integration.pk])

    response = admin_client.post(
        url, add_form(name="prom", severity_mapping='{"critical": "p0", "page": "P1"}')
    )

    assert response.status_code == 302
    integration.refresh_from_db()
    assert integration.severity_mapping == {"critical": "p0", "page": "P1"}
