"""The timer sweep audits: a triggered paging incident with neither an escalation nor a recorded
"nobody to page" gets its escalation started, once, with a timeline note saying so."""

from datetime import timedelta

import pytest

from incidents.core.lifecycle import incident_acknowledge
from incidents.models import IncidentEscalation, Notification, TimelineEvent
from incidents.paging.delivery import contact_method_create, deliver_due
from incidents.paging.policies import StepInput, escalation_policy_create
from incidents.paging.sweep import escalation_sweep
from tests.factories import ServiceFactory, UserFactory, make_incident
from tests.webhook_sink import WebhookSink

pytestmark = pytest.mark.django_db

AUDIT_NOTE = "Triggered with no escalation and no record that nobody is to be paged"


@pytest.fixture
def sink():
    with WebhookSink() as server:
        yield server


@pytest.fixture
def service(sink):
    pat = UserFactory(username="pat-primary")
    contact_method_create(user=pat, kind="webhook", address=f"{sink.url}/pat")
    policy = escalation_policy_create(
        name="Checkout", steps=[StepInput(delay=timedelta(0), targets=[pat])]
    )
    return ServiceFactory(name="Checkout", slug="checkout", escalation_policy=policy)


def sweep():
    """The beat sweep (no grace: nothing else will send the pages in this test), then what the
    delivery workers do with the rows it hands them."""
    counts = escalation_sweep(budget_seconds=10, grace_seconds=0)
    deliver_due()
    return counts


def audit_notes(incident):
    return TimelineEvent.objects.filter(incident=incident, message__startswith=AUDIT_NOTE)


def test_a_lost_escalation_row_is_restarted_by_the_next_sweep_and_pages_once(service, sink):
    incident = make_incident(services=[service], severity_key="P1")
    IncidentEscalation.objects.filter(incident=incident).delete()

    counts = sweep()

    assert counts["audited"] == 1
    escalation = IncidentEscalation.objects.get(incident=incident)
    assert escalation.policy_name == "Checkout"
    assert audit_notes(incident).count() == 1
    assert len(sink.bodies("/pat")) == 1
    assert incident.reference in sink.bodies("/pat")[0]["text"]
    assert Notification.objects.get(incident=incident).status == "sent"

    # Later sweeps find it escalating: no second start, no second page.
    assert sweep()["audited"] == 0
    assert sweep()["audited"] == 0
    assert audit_notes(incident).count() == 1
    assert IncidentEscalation.objects.filter(incident=incident).count() == 1
    assert len(sink.bodies("/pat")) == 1


def test_recorded_nobody_to_page_is_left_alone():
    # No policy anywhere: the incident opens with "nobody is paged" on its timeline.
    incident = make_incident(severity_key="P1")
    assert incident.timeline.filter(message__startswith="No escalation policy applies").exists()
    assert sweep()["audited"] == 0
    assert not audit_notes(incident).exists()
    assert incident.timeline.filter(message__startswith="No escalation policy applies").count() == 1


def test_a_lost_row_with_no_policy_left_gets_nobody_to_page_recorded_once():
    incident = make_incident(severity_key="P1")
    TimelineEvent.objects.filter(
        incident=incident, message__startswith="No escalation policy applies"
    ).delete()

    assert sweep()["audited"] == 1
    assert sweep()["audited"] == 0

    assert audit_notes(incident).count() == 1
    nobody = incident.timeline.filter(message__startswith="No escalation policy applies")
    assert nobody.count() == 1
    assert nobody.get().after == {"paging": "nobody"}


def test_the_audit_skips_acknowledged_and_notify_only_incidents(service, sink):
    acknowledged = make_incident(services=[service], severity_key="P1")
    incident_acknowledge(incident=acknowledged)
    notify_only = make_incident(services=[service], severity_key="P3")
    IncidentEscalation.objects.filter(incident__in=[acknowledged, notify_only]).delete()

    assert sweep()["audited"] == 0
    assert not IncidentEscalation.objects.filter(incident__in=[acknowledged, notify_only]).exists()
    assert not sink.received
