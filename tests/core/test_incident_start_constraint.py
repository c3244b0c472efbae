"""An incident never starts after it was detected: the database refuses it, the domain and the
admin form say so on the field."""

from datetime import timedelta

import pytest
from django.db import IntegrityError, transaction

from incidents.core.errors import DomainError
from incidents.core.lifecycle import incident_update_details
from incidents.models import Incident
from tests.admin.test_admin_incidents import change_form_data, change_url, client_as
from tests.factories import make_incident

pytestmark = pytest.mark.django_db


def test_the_database_refuses_a_start_after_detection():
    incident = make_incident()
    with pytest.raises(IntegrityError), transaction.atomic():
        Incident.objects.filter(pk=incident.pk).update(
            started_at=incident.detected_at + timedelta(minutes=1)
        )
    incident.refresh_from_db()
    assert incident.started_at <= incident.detected_at


def test_the_domain_names_the_field():
    incident = make_incident()
    with pytest.raises(DomainError) as refused:
        incident_update_details(
            incident=incident, started_at=incident.detected_at + timedelta(hours=1)
        )
    assert refused.value.field == "started_at"
    assert "cannot start after it was detected" in refused.value.message


def test_a_start_equal_to_detection_or_earlier_is_kept():
    incident = make_incident()
    earlier = incident.detected_at - timedelta(hours=2)
    incident_update_details(incident=incident, started_at=earlier)
    incident.refresh_from_db()
    assert incident.started_at == earlier


def test_the_admin_form_shows_the_error_on_the_start_field(client, manager):
    incident = make_incident(title="Checkout 502s")
    client_as(client, manager)
    data = change_form_data(client.get(change_url(incident)))
    later = incident.detected_at + timedelta(days=1)
    data.update(started_at_0=later.strftime("%Y-%m-%d"), started_at_1=later.strftime("%H:%M:%S"))

    answer = client.post(change_url(incident), data)

    assert answer.status_code == 200
    errors = answer.context["adminform"].form.errors
    assert "cannot start after it was detected" in " ".join(errors["started_at"])
    incident.refresh_from_db()
    assert incident.started_at <= incident.detected_at
