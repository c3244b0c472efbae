"""Titles become mail subjects: a line break is refused where a person types one, and folded
into a space where an alert's summary becomes an incident's title."""

import json

import pytest
from django.core import mail

from incidents.core import lifecycle
from incidents.core.errors import DomainError
from incidents.models import Incident, Subscriber
from incidents.paging.delivery import deliver_due
from incidents.statuspage.subscribers import subscribers_notify
from tests.admin.test_admin_incidents import change_form_data, change_url, client_as
from tests.api.test_incidents_api import client_for
from tests.factories import ServiceFactory, make_incident, make_integration, severity

pytestmark = pytest.mark.django_db

BROKEN = ["Checkout down\nBcc: everyone@example.com", "Checkout\r\ndown", "Checkout\u2028down"]


@pytest.mark.parametrize("title", BROKEN)
def test_admin_add_form_refuses_a_title_with_a_line_break(client, manager, title):
    response = client_as(client, manager).post(
        "/admin/incidents/incident/add/", {"title": title, "severity": severity("P1").pk}
    )
    assert response.status_code == 200
    assert "single line" in str(response.context["adminform"].form.errors["title"])
    assert not Incident.objects.exists()


@pytest.mark.parametrize("field", ["title", "public_title"])
def test_admin_change_form_refuses_a_line_break_and_changes_nothing(client, manager, field):
    incident = make_incident(title="Checkout 502s")
    client_as(client, manager)
    data = change_form_data(client.get(change_url(incident)))
    data[field] = "Checkout\nerrors"
    response = client.post(change_url(incident), data)
    assert response.status_code == 200
    assert "single line" in str(response.context["adminform"].form.errors[field])
    incident.refresh_from_db()
    assert (incident.title, incident.public_title) == ("Checkout 502s", "")


def test_post_update_form_refuses_a_public_title_with_a_line_break(client, manager):
    incident = make_incident()
    url = f"/admin/incidents/incident/{incident.pk}/post-update/"
    response = client_as(client, manager).post(
        url,
        {
            "status": "investigating",
            "public": "on",
            "public_title": "Errors\nat checkout",
            "message": "Looking",
            "confirmed": "on",
        },
    )
    assert response.status_code == 200
    assert "single line" in str(response.context["form"].errors["public_title"])
    assert not incident.updates.exists()


def test_api_refuses_a_title_with_a_line_break_naming_the_field(manager):
    api = client_for(manager)
    answer = api.post(
        "/api/v1/incidents/", {"title": "Checkout\ndown", "severity": "P1"}, format="json"
    )
    assert answer.status_code == 400
    assert "single line" in answer.json()["title"][0]
    assert not Incident.objects.exists()


def test_api_refuses_a_public_title_with_a_line_break_naming_the_field(manager):
    incident = make_incident()
    answer = client_for(manager).post(
        f"/api/v1/incidents/{incident.pk}/updates/",
        {"message": "Looking", "public": True, "public_title": "Errors\r\nat checkout"},
        format="json",
    )
    assert answer.status_code == 400
    assert "single line" in answer.json()["public_title"][0]
    assert not incident.updates.exists()


def test_domain_refuses_line_breaks_in_either_title():
    with pytest.raises(DomainError) as refused:
        lifecycle.incident_create(title="a\nb", severity=severity("P1"))
    assert refused.value.field == "title"
    incident = make_incident()
    with pytest.raises(DomainError) as refused:
        lifecycle.status_update_post(
            incident=incident, message="x", public=True, public_title="a\u2029b"
        )
    assert refused.value.field == "public_title"
    incident.refresh_from_db()
    assert incident.public_title == "" and not incident.updates.exists()


def test_an_alert_summary_with_line_breaks_opens_an_incident_with_a_folded_title(client):
    _, token = make_integration(name="cron", kind="generic")
    answer = client.post(
        "/api/v1/integrations/generic/",
        data=json.dumps({"summary": "Backup failed\n\n  on db-1\r\nexit 2", "status": "firing"}),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )
    assert answer.status_code == 202
    assert Incident.objects.get().title == "Backup failed on db-1 exit 2"


def test_subscribers_get_mail_for_an_incident_whose_public_title_was_set(mailoutbox):
    checkout = ServiceFactory(name="Checkout", slug="checkout", is_public=True)
    Subscriber.objects.create(email="c@example.com", confirmed_at="2026-01-01T00:00:00Z")
    incident = make_incident(services=[checkout])
    update = lifecycle.status_update_post(
        incident=incident, message="Looking", public=True, public_title="Errors at checkout"
    )
    # The update's hook queued the subscriber's message in the outbox; running the task again
    # adds no second one, and delivery sends it once.
    assert subscribers_notify(update_id=update.pk) == 1
    deliver_due()
    assert [m.subject for m in mail.outbox] == ["[Investigating] Errors at checkout"]


def test_a_title_stored_with_a_line_break_before_the_check_still_mails(mailoutbox):
    checkout = ServiceFactory(name="Checkout", slug="checkout", is_public=True)
    Subscriber.objects.create(email="c@example.com", confirmed_at="2026-01-01T00:00:00Z")
    incident = make_incident(services=[checkout])
    # A row written before titles were checked (no validation on a queryset update).
    Incident.objects.filter(pk=incident.pk).update(public_title="Errors\r\nat checkout")
    update = lifecycle.status_update_post(incident=incident, message="Looking", public=True)
    assert subscribers_notify(update_id=update.pk) == 1
    deliver_due()
    assert [m.subject for m in mail.outbox] == ["[Investigating] Errors at checkout"]
