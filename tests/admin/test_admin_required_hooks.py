"""When a required hook fails (starting or stopping the escalation), the admin shows why as a
message, saves nothing, and never answers 500."""

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse
from django.utils.html import escape

from incidents.models import Incident, IncidentEscalation
from tests import broken_hooks
from tests.admin.test_admin_incidents import change_form_data
from tests.factories import ServiceFactory, make_incident, severity

pytestmark = pytest.mark.django_db

ADD = "/admin/incidents/incident/add/"


@pytest.fixture(autouse=True)
def _plain_static_files(settings):
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


def texts(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def test_adding_an_incident_whose_escalation_cannot_start_shows_the_error(client, manager):
    checkout = ServiceFactory(name="Checkout", slug="checkout")
    client.force_login(manager)
    form = {
        "title": "Checkout 502s",
        "severity": severity("P1").pk,
        "services": [checkout.pk],
        "summary": "Card payments fail",
        "started_at_0": "",
        "started_at_1": "",
    }
    with broken_hooks.broken_start():
        answer = client.post(ADD, form, follow=True)
    assert answer.status_code == 200
    assert answer.redirect_chain == [(ADD, 302)]
    [message] = texts(answer)
    assert message.startswith("Could not start the incident's escalation (RuntimeError: ")
    assert "nothing was saved" in message
    assert escape(message) in answer.content.decode()  # shown on the page
    assert not Incident.objects.exists()

    # Once it works again, the same form opens the incident.
    answer = client.post(ADD, form)
    assert answer.status_code == 302
    assert Incident.objects.get(title="Checkout 502s").status == "triggered"


def test_changing_an_incident_shows_a_required_hook_failure_as_a_message(client, manager):
    incident = make_incident(title="Checkout 502s", severity_key="P2")
    client.force_login(manager)
    url = reverse("admin:incidents_incident_change", args=[incident.pk])
    data = change_form_data(client.get(url))
    data.update(severity=severity("P1").pk)
    with broken_hooks.broken("incident_routing_changed", "recompute the incident's escalation"):
        answer = client.post(url, data, follow=True)
    assert answer.status_code == 200
    assert answer.redirect_chain == [(url, 302)]
    assert any("Could not recompute the incident's escalation" in m for m in texts(answer))
    incident.refresh_from_db()
    assert incident.severity.key == "P2"


def test_moving_an_incident_whose_escalation_cannot_stop_shows_the_error(client, manager):
    incident = make_incident(severity_key="P1")
    client.force_login(manager)
    url = reverse("admin:incidents_incident_move", args=[incident.pk])
    with broken_hooks.broken_stop():
        answer = client.post(url, {"to": "acknowledged", "reason": ""}, follow=True)
    assert answer.status_code == 200
    assert any(m.startswith("Could not stop the incident's escalation") for m in texts(answer))
    incident.refresh_from_db()
    assert incident.status == "triggered"
    assert incident.acknowledged_at is None
    escalation = IncidentEscalation.objects.filter(incident=incident).first()
    assert escalation is None or escalation.state == "active"


def test_the_acknowledge_action_reports_a_required_hook_failure(client, manager):
    incident = make_incident(severity_key="P1")
    client.force_login(manager)
    with broken_hooks.broken_stop():
        answer = client.post(
            "/admin/incidents/incident/",
            {"action": "acknowledge", "_selected_action": [incident.pk]},
            follow=True,
        )
    assert answer.status_code == 200
    assert any("Could not stop the incident's escalation" in m for m in texts(answer))
    incident.refresh_from_db()
    assert incident.status == "triggered"
